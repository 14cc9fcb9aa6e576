"""State stores: short-lived JSON records (login state, codes, tokens, WeCom token cache).

`open_store(url)` is the one place a URL becomes a backend; app.py/cli.py call it.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from .base import Clock, StateStore, hash_key
from .filesystem import refuse_network_filesystem
from .memory import MemoryStore
from .redis_url import is_redis_url
from .sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "StateStore", "hash_key", "open_store", "sqlite_path"]

SUPPORTED = ("memory://, sqlite:///relative/path.db, sqlite:////absolute/path.db or a Redis "
             "URL (redis://, rediss://, redis+sentinel://, redis+cluster://)")


def open_store(url: str, *, clock: Clock = time.time) -> StateStore:
    """Open the store named by `url`; ValueError (with the accepted forms) otherwise.
    Redis keeps TTLs by its own clock, so `clock` only drives memory and SQLite."""
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
    if scheme == "memory":
        if url.rstrip("/").lower() != "memory:":
            raise ValueError(f"store url {url!r}: memory store takes no path; use memory://")
        return MemoryStore(clock=clock)
    if scheme == "sqlite":
        path = sqlite_path(url)
        refuse_network_filesystem(path)
        return SqliteStore(path, clock=clock)
    if is_redis_url(url):
        # Imported here: redis-py is only loaded by deployments that use it.
        from .redis import RedisStore

        return RedisStore.from_url(url)
    raise ValueError(f"unsupported store url {url!r}; use {SUPPORTED}")


def sqlite_path(url: str) -> str:
    """`sqlite:///data/x.db` -> "data/x.db" (relative), `sqlite:////var/x.db` -> "/var/x.db"
    (the SQLAlchemy convention)."""
    prefix = "sqlite:///"
    if not url.lower().startswith(prefix):
        raise ValueError(f"store url {url!r}: write {SUPPORTED} (three slashes, then the path)")
    path = url[len(prefix):]
    if "?" in path or "#" in path:
        raise ValueError(f"store url {url!r}: query strings are not supported; use {SUPPORTED}")
    if not path or path.endswith("/"):
        raise ValueError(f"store url {url!r}: no database file name; use {SUPPORTED}")
    if path == ":memory:":
        # Each thread would get its own empty database: use the memory store instead.
        raise ValueError("store url sqlite:///:memory: is not supported; use memory://")
    return path
