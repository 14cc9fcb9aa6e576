"""Replicas sharing a store must share their signing keys: a token signed by one
replica is verified against the JWKS whichever replica answers. Each replica records
the kids it publishes in the store; one whose keys have nothing in common with the
last recorded set (another keys folder, a replica that generated its own) refuses
to start instead of issuing tokens that fail half the time.

A rotation done as documented (add the new key to the shared folder, restart the
replicas one by one) keeps the old key published, so the sets overlap throughout.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..store.base import StateStore
from ..store.kinds import Kind
from .keys import KeyRing

KIND = Kind.PUBLISHED_KEYS
KEY = "jwks"
TTL = 400 * 86400  # outlives any token; rewritten at each start


def check_shared_keys(store: StateStore, keys: KeyRing) -> None:
    ours = sorted(k["kid"] for k in keys.public_jwks()["keys"])
    recorded = store.get(KIND, KEY)
    theirs = set((recorded or {}).get("kids") or [])
    if theirs and not theirs & set(ours):
        raise ConfigError([
            f"keys.dir: this replica's signing keys ({', '.join(ours)}) share no key with the "
            f"ones other replicas on this store publish ({', '.join(sorted(theirs))}). "
            "Replicas on one Redis store must mount the same keys folder; otherwise "
            "tokens one signs fail verification at the others' JWKS"])
    if set(ours) != theirs:
        store.put(KIND, KEY, {"kids": ours}, TTL)
