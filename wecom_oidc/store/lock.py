"""The one cross-process lock: a record inserted only if absent (so exactly one
worker or replica wins), with a TTL (so a holder that crashed frees it), released
only by its owner in one atomic compare-and-delete (so a holder whose lock expired
never removes the next holder's)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from .base import StateStore


@contextmanager
def store_lock(store: StateStore, kind: str, key: str, ttl: float) -> Iterator[bool]:
    """`with store_lock(...) as won:` - `won` is False when someone else holds it
    (the body still runs and should wait or skip); released on exit when won."""
    owner = {"owner": secrets.token_hex(16)}
    won = store.add(kind, key, owner, ttl=ttl)
    try:
        yield won
    finally:
        if won:
            store.delete_if(kind, key, owner)
