"""Store settings that would lose data silently, refused (or corrected) at start.

- memory:// keeps every login, code and token in one process's memory: with several
  server workers a callback or /token lands on a worker that never saw the login
  (about 1 in 2 with two workers). An explicit request for more workers is refused;
  the default is lowered to one with a warning that says why.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ConfigError
from .settings import Settings

MEMORY_ONE_PROCESS = (
    "store.url is memory://, which keeps logins, codes and tokens in one process's memory; "
    "with {n} workers a callback or token request reaches a worker that never saw the "
    "login and fails. Use workers = 1, or a sqlite:/// or Redis store for several workers")


def is_memory(url: str) -> bool:
    return urlsplit(url).scheme.lower() == "memory"


def serve_workers(settings: Settings, requested: int | None) -> tuple[int, str]:
    """(workers to start, warning or ""). `requested` is --workers. An explicit
    [server] workers > 1 with memory:// never gets here: the validator refuses it."""
    workers = requested or settings.server.workers
    if workers <= 1 or not is_memory(settings.store.url):
        return workers, ""
    if requested:
        raise ConfigError(["--workers: " + MEMORY_ONE_PROCESS.format(n=workers)])
    return 1, f"starting 1 worker, not {workers}: " + MEMORY_ONE_PROCESS.format(n=workers)
