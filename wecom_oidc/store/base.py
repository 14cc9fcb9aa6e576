"""The StateStore contract shared by every backend (memory, SQLite, later Redis).

A store holds short-lived JSON records grouped by `kind` ("login_state", "code",
"access_token", "wecom_token", ...). Every backend passes the one conformance suite in
tests/contract, so code above this layer never cares which one it got.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

Clock = Callable[[], float]
# One counter of StateStore.incr_many: (key, ttl in seconds, amount, ceiling).
Increment = tuple[str, float, int, int]

# What StateStore.take leaves behind a single-use credential: (used kind, ttl in seconds).
Used = tuple[str, float]

# One entry of StateStore.index_add_many: (kind, key, member, ttl in seconds).
IndexEntry = tuple[str, str, str, float]

# One record of StateStore.put_many: (kind, key, record, ttl in seconds).
Put = tuple[str, str, dict[str, Any], float]

_KIND_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@runtime_checkable
class StateStore(Protocol):
    """Short-lived JSON records with a TTL, keyed by (kind, key).

    Contract (every implementation):
    - Keys are kept only as sha256(kind + ":" + key): a code or token used as a key never
      appears raw in the store. Records are JSON (never pickle); `get`/`take` return a
      fresh dict equal to what was stored.
    - An expired record is never returned and counts as absent for `add`.
    - `ttl` is in seconds (> 0), measured with the store's injected clock.
    - Backend failures raise `wecom_oidc.errors.StoreUnavailable`; a record that is not
      JSON-serialisable raises TypeError/ValueError (a programming error).
    """

    def put(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> None:
        """Insert or replace the record."""

    def put_many(self, items: Sequence[Put], index: Sequence[IndexEntry] = ()) -> None:
        """`put` of each (kind, key, record, ttl), then `index_add_many(index)`, in one
        round trip where the backend allows it (a login's person, session and
        offboarding index): one transaction on SQLite (one turn on its writers' lock),
        one pipeline on Redis. Every argument is checked before anything is written;
        each put is atomic, the set need not be."""

    def add(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> bool:
        """Insert only if no live record exists; True if this call inserted it.
        Atomic: of N concurrent callers exactly one gets True (locks, replay detection)."""

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """The live record, or None."""

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """The live record (or None) of each (kind, key), in order, in one round trip
        where the backend allows it (a record and the one it refers to, on the hot
        path). Each record is read as `get` would; the set is not promised to be one
        snapshot (Redis Cluster reads slot by slot)."""

    def take(self, kind: str, key: str, used: Used | None = None) -> dict[str, Any] | None:
        """Atomically read and delete: of N concurrent takers exactly one gets the
        record, the others None (login state, authorization codes).
        With `used=(used_kind, ttl)` the taker also leaves the record's used_marker()
        under (used_kind, key) for `ttl` seconds, as `put` would (so it belongs to the
        record's grant): a single-use credential (code, refresh token) remembers its
        use, so a replay is recognised. Memory and SQLite do both in one atomic step
        (one transaction: one turn on SQLite's writers' lock); Redis takes, then puts."""

    def delete(self, kind: str, key: str) -> None:
        """Remove the record if present (no error when absent)."""

    def delete_if(self, kind: str, key: str, record: dict[str, Any]) -> bool:
        """Atomically remove the record only if it still equals `record` (locks:
        release only your own); True if this call removed it."""

    def incr(self, kind: str, key: str, ttl: float, amount: int = 1) -> int:
        """Atomically add `amount` (>= 0) to a counter and return its new value.
        An absent or expired counter starts at 0 and lives `ttl` seconds from this
        call; later increments do not extend it (a fixed window: rate limits).
        `amount=0` only reads the counter: one it finds absent or expired stays so,
        its window starting at its first count. Counters are a namespace apart from
        records: get/take/delete never see them."""

    def incr_many(self, kind: str, counters: Sequence[Increment]) -> list[int]:
        """`incr` for several (key, ttl, amount, ceiling) counters in one round trip
        (a request's rate limits), in order, stopping after the first whose new value
        is above its ceiling: the later ones are left alone (a request refused by its
        own address's limit must not spend its client's). Returns the new values of
        the counters it reached. Each counter is atomic; the set need not be. A call
        whose amounts are all 0 (a request's peeks at its failed-auth counters) writes
        nothing: SQLite answers it without taking the writers' lock."""

    def revoke_grant(self, grant_id: str) -> int:
        """Delete every record whose record["grant_id"] == grant_id (a token family
        issued from one code or one login); returns how many were deleted."""

    def index_add(self, kind: str, key: str, member: str, ttl: float) -> None:
        """Add `member` to the set (kind, key); it stays `ttl` seconds (a member added
        again keeps the later expiry). Members are stored raw, so they must never be
        secrets (session ids, userids, client ids; never tokens or codes)."""

    def index_add_many(self, entries: Sequence[IndexEntry]) -> None:
        """`index_add` for several (kind, key, member, ttl) entries in one round trip
        where the backend allows it (a login's offboarding index). Each entry is
        atomic; the set of them need not be."""

    def index_members(self, kind: str, key: str) -> list[str]:
        """The set's live members, sorted; [] when there are none."""

    def index_remove(self, kind: str, key: str, member: str) -> None:
        """Remove `member` from the set (no error when absent)."""

    def ping(self) -> None:
        """Raise StoreUnavailable when the backend cannot serve requests."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""


def hash_key(kind: str, key: str) -> str:
    """The only form in which a key is stored (secret values must never be at rest raw)."""
    check_kind(kind)
    return _hash(kind, key)


def _hash(kind: str, key: str) -> str:
    """hash_key() of a kind already checked."""
    if not isinstance(key, str) or not key:
        raise ValueError("store key must be a non-empty string")
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()


def check_kind(kind: str) -> None:
    """Kinds are short identifiers; ':' is refused so (kind, key) hashes can't collide."""
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise ValueError(f"invalid store kind {kind!r}: use [A-Za-z0-9_.-], 1-64 chars")


def check_member(member: str) -> str:
    if not isinstance(member, str) or not member or len(member) > 256:
        raise ValueError("index member must be a non-empty string of at most 256 chars")
    return member


def check_ttl(ttl: float) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise ValueError("store ttl must be a positive number of seconds")
    return float(ttl)


# The ceiling of a counter that never stops the ones after it (an int, for Lua too).
NO_CEILING = 2**53


def check_increments(kind: str, counters: Sequence[Increment]) -> list[Increment]:
    """incr_many's counters with hashed keys, every argument checked before any
    counter moves."""
    return [(hash_key(kind, key), check_ttl(ttl), check_amount(amount), int(ceiling))
            for key, ttl, amount, ceiling in counters]


def up_to_ceiling(checked: Sequence[Increment], values: list[int]) -> list[int]:
    """incr_many's answer from each counter's value: cut after the first one above its
    ceiling (for backends that read the counters before applying that rule)."""
    for i, (value, (_, _, _, ceiling)) in enumerate(zip(values, checked, strict=True)):
        if value > ceiling:
            return values[:i + 1]
    return values


def check_entries(entries: Sequence[IndexEntry]) -> list[tuple[str, str, float]]:
    """index_add_many's entries as (hashed set key, member, ttl), every argument
    checked before any set moves."""
    return [(hash_key(kind, key), check_member(member), check_ttl(ttl))
            for kind, key, member, ttl in entries]


def check_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError("counter amount must be a non-negative integer")
    return amount


def dump_record(record: dict[str, Any]) -> str:
    """Serialise a record to JSON text; NaN/Infinity are refused (not portable JSON)."""
    if not isinstance(record, dict):
        raise TypeError("store record must be a dict")
    return _ENCODER.encode(record)


# json.dumps with these options builds an encoder per call; one serves every record.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def load_record(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):  # only dicts are ever written
        raise ValueError("corrupt store record")
    return value


def used_marker(record: dict[str, Any]) -> dict[str, Any]:
    """What `take(..., used=...)` leaves of a taken record: its grant (to revoke on a
    replay) and client (to name in the log)."""
    return {"grant_id": record.get("grant_id"), "client_id": record.get("client_id")}


def check_used(used: Used) -> tuple[str, float]:
    used_kind, ttl = used
    check_kind(used_kind)
    return used_kind, check_ttl(ttl)


def grant_of(record: dict[str, Any]) -> str | None:
    """The grant id linking a token family, when the record carries one."""
    grant_id = record.get("grant_id")
    return grant_id if isinstance(grant_id, str) and grant_id else None
