"""The HTTP server under `wecom-oidc serve` (and the benchmark's ceiling): Granian.

Granian parses HTTP and keeps connections in Rust, and runs the WSGI app in a pool of
threads per worker process. Measured against gunicorn's threaded worker under the same
load (benchmarks/README.md): the server's own CPU per round trip fell to a sixth
(0.39 -> 0.06 ms on the session-4 machine), and a minimal Flask app's to under half.

Workers are forked from this process after `serve` has loaded the config and the keys;
each worker then builds its own app (its own store connections, its own WeCom pool).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

# Largest request head (request line + headers) a connection may send. A GET logout or
# authorize carrying an ID token hint of several kilobytes must fit; the bridge's own
# per-value limits (web/params.py) then apply. Larger heads are refused by the server.
MAX_HEAD_BYTES = 64 * 1024

# Seconds an old worker keeps serving after SIGHUP started its replacement (the new
# one builds its app meanwhile; requests queue on the shared socket, none is refused).
RELOAD_OVERLAP = 1.0

_factory: Callable[[], Any] | None = None
_private_env: tuple[str, ...] = ()


def _load_app() -> Any:
    """Granian's target in each worker: the app the parent's factory builds."""
    if _factory is None:  # only if a worker was not forked from `serve_wsgi`'s process
        raise RuntimeError("wecom_oidc.serving: no app factory in this worker")
    # Until the worker installs its own handlers (after this returns), it holds the
    # parent's, which only set flags in the parent: a stop while workers boot would be
    # ignored until graceful_timeout ran out. A booting worker has nothing in flight.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    app = _factory()
    # What the app built at start (config, keys, templates, Authlib, the URL map: most of
    # the heap, ~58,000 objects) lives as long as the worker. Frozen out of the cyclic
    # collector, a full collection walks only what requests left behind: it took 11 ms
    # of the GIL on a quiet worker (58-64 ms seen under a login rush), a stall of every
    # request in the worker, and now well under 1 ms.
    gc.collect()
    gc.freeze()
    # Granian copies the worker's environment into every request's WSGI environ: what
    # the app was configured from (secrets included) must not travel with requests.
    if _private_env:
        for name in [n for n in os.environ if n.startswith(_private_env)]:
            del os.environ[name]
    return app


@dataclass(frozen=True)
class ServerOptions:
    """What `serve` decides about the server; the rest is Granian's defaults."""

    bind: str
    workers: int
    threads: int
    graceful_timeout: int
    # Called in the parent once the socket is bound, before the workers start.
    on_start: list[Callable[[], Any]] = field(default_factory=list)
    # Environment variables (by prefix) each worker drops once its app is built.
    private_env: tuple[str, ...] = ()


def serve_wsgi(factory: Callable[[], Any], options: ServerOptions) -> None:
    """Serve the WSGI app `factory()` builds in each worker, until SIGTERM/SIGINT.
    SIGHUP replaces the workers one by one (each builds its app again)."""
    global _factory, _private_env
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    _factory, _private_env = factory, options.private_env
    # The workers must inherit `_factory`: fork, whatever this Python's default is.
    multiprocessing.set_start_method("fork", force=True)
    address = _address(options.bind)
    server = Granian(
        "wecom_oidc.serving:_load_app", factory=True, interface=Interfaces.WSGI,
        **address, workers=options.workers, blocking_threads=options.threads,
        http1_settings=HTTP1Settings(max_buffer_size=MAX_HEAD_BYTES),
        respawn_failed_workers=True, workers_kill_timeout=options.graceful_timeout,
        # SIGHUP: each old worker stops this long after its replacement started.
        respawn_interval=RELOAD_OVERLAP,
        log_dictconfig=_LOG_CONFIG, log_access=False)
    for hook in options.on_start:
        server.on_startup(hook)
    server.serve()


_HOST_PORT = re.compile(r"[^\s:\[\]]*:\d{1,5}|\[[0-9a-fA-F:.]+\]:\d{1,5}")


def _address(bind: str) -> dict[str, Any]:
    """`host:port`, `[v6]:port` or `unix:/path` as Granian's arguments."""
    if bind.startswith("unix:") and len(bind) > len("unix:"):
        from pathlib import Path

        return {"uds": Path(bind[len("unix:"):])}
    host, _, port = bind.rpartition(":")
    if not _HOST_PORT.fullmatch(bind) or not 0 < int(port) < 65536:
        raise ConfigError([f"[server] bind (or serve --bind) {bind!r}: must be host:port, "
                           '[v6 address]:port or unix:/path, e.g. "0.0.0.0:8000"'])
    return {"address": host.strip("[]") or "0.0.0.0", "port": int(port)}


# Granian's own lines (start, workers, signals) go through the root logger, so they come
# out in `[server] log_format` with the rest (ops.logging.configure set it up).
_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"expected": {"()": "wecom_oidc.serving.ExpectedNotices"}},
    "loggers": {"_granian": {"handlers": [], "propagate": True, "level": logging.INFO,
                             "filters": ["expected"]},
                "granian.access": {"handlers": [], "propagate": False}},
}


class ExpectedNotices(logging.Filter):
    """Drops Granian's start-up notices about what this deployment does on purpose: many
    threads per worker (a login waiting on WeCom holds a thread, not a core) and no
    websockets (WSGI). Said at every start, they would read as a misconfiguration."""

    _PREFIXES = ("Configuration allows spawning up to", "Websockets are not supported")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self._PREFIXES)
