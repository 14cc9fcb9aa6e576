"""In-process StateStore: for tests, `memory://` and single-process development.

Not shared between worker processes: with several server workers a login started in
one worker would be unknown to the next, so production uses SQLite (or Redis).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .base import (
    NO_CEILING,
    Clock,
    Increment,
    IndexEntry,
    Put,
    Used,
    check_entries,
    check_increments,
    check_kind,
    check_member,
    check_ttl,
    check_used,
    dump_record,
    grant_of,
    hash_key,
    load_record,
    used_marker,
)

# Purge expired rows lazily, once per this many writes, so memory stays bounded without
# a background thread.
PURGE_EVERY = 256


@dataclass(slots=True)
class _Row:
    kind: str
    text: str  # JSON, so callers never share a mutable dict with the store
    expires_at: float
    grant_id: str | None


class MemoryStore:
    """A dict behind one lock; see StateStore for the contract."""

    def __init__(self, *, clock: Clock = time.time):
        self._clock = clock
        self._rows: dict[str, _Row] = {}
        self._counters: dict[str, tuple[int, float]] = {}  # hkey -> (value, expires_at)
        self._sets: dict[str, dict[str, float]] = {}  # index: member -> expires_at
        self._lock = threading.Lock()
        self._writes = 0

    def _row(self, kind: str, record: dict[str, Any], ttl: float) -> _Row:
        check_kind(kind)
        return _Row(kind, dump_record(record), self._clock() + check_ttl(ttl), grant_of(record))

    def _live(self, hkey: str, now: float) -> _Row | None:
        row = self._rows.get(hkey)
        if row is not None and row.expires_at <= now:
            del self._rows[hkey]
            return None
        return row

    def _wrote(self, now: float) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            dead = [k for k, r in self._rows.items() if r.expires_at <= now]
            for k in dead:
                del self._rows[k]
            for k in [k for k, (_, exp) in self._counters.items() if exp <= now]:
                del self._counters[k]
            for k, members in list(self._sets.items()):
                for m in [m for m, exp in members.items() if exp <= now]:
                    del members[m]
                if not members:
                    del self._sets[k]

    def put(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> None:
        hkey, row = hash_key(kind, key), self._row(kind, record, ttl)
        with self._lock:
            self._rows[hkey] = row
            self._wrote(self._clock())

    def put_many(self, items: Sequence[Put], index: Sequence[IndexEntry] = ()) -> None:
        rows = [(hash_key(kind, key), self._row(kind, record, ttl))
                for kind, key, record, ttl in items]
        checked = check_entries(index)
        with self._lock:
            now = self._clock()
            self._rows.update(rows)
            self._index(checked, now)
            self._wrote(now)

    def add(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> bool:
        hkey, row = hash_key(kind, key), self._row(kind, record, ttl)
        with self._lock:
            now = self._clock()
            if self._live(hkey, now) is not None:
                return False
            self._rows[hkey] = row
            self._wrote(now)
            return True

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        hkey = hash_key(kind, key)
        with self._lock:
            row = self._live(hkey, self._clock())
        return load_record(row.text) if row else None

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        hkeys = [hash_key(kind, key) for kind, key in items]
        with self._lock:
            now = self._clock()
            rows = [self._live(h, now) for h in hkeys]
        return [load_record(r.text) if r else None for r in rows]

    def take(self, kind: str, key: str, used: Used | None = None) -> dict[str, Any] | None:
        hkey = hash_key(kind, key)
        if used is not None:
            used_kind, ttl = check_used(used)
        with self._lock:
            row = self._live(hkey, self._clock())
            if row is None:
                return None
            del self._rows[hkey]
            record = load_record(row.text)
            if used is not None:
                marker = self._row(used_kind, used_marker(record), ttl)
                self._rows[hash_key(used_kind, key)] = marker
                self._wrote(self._clock())
        return record

    def delete(self, kind: str, key: str) -> None:
        hkey = hash_key(kind, key)
        with self._lock:
            self._rows.pop(hkey, None)

    def delete_if(self, kind: str, key: str, record: dict[str, Any]) -> bool:
        hkey, text = hash_key(kind, key), dump_record(record)
        with self._lock:
            row = self._live(hkey, self._clock())
            if row is None or row.text != text:
                return False
            del self._rows[hkey]
            return True

    def incr(self, kind: str, key: str, ttl: float, amount: int = 1) -> int:
        return self.incr_many(kind, [(key, ttl, amount, NO_CEILING)])[0]

    def incr_many(self, kind: str, counters: Sequence[Increment]) -> list[int]:
        checked = check_increments(kind, counters)
        values = []
        with self._lock:
            now = self._clock()
            for hkey, ttl, amount, ceiling in checked:
                value, expires_at = self._counters.get(hkey, (0, now))
                if expires_at <= now:
                    value, expires_at = 0, now + ttl
                if amount:  # 0 only reads: the window starts at the first count
                    value += amount
                    self._counters[hkey] = (value, expires_at)
                values.append(value)
                if value > ceiling:
                    break
            self._wrote(now)
        return values

    def revoke_grant(self, grant_id: str) -> int:
        if not grant_id:
            return 0
        with self._lock:
            doomed = [k for k, r in self._rows.items() if r.grant_id == grant_id]
            for k in doomed:
                del self._rows[k]
        return len(doomed)

    def index_add(self, kind: str, key: str, member: str, ttl: float) -> None:
        hkey, member, ttl = hash_key(kind, key), check_member(member), check_ttl(ttl)
        with self._lock:
            now = self._clock()
            members = self._sets.setdefault(hkey, {})
            members[member] = max(members.get(member, 0.0), now + ttl)
            self._wrote(now)

    def index_add_many(self, entries: Sequence[IndexEntry]) -> None:
        checked = check_entries(entries)
        with self._lock:
            now = self._clock()
            self._index(checked, now)
            self._wrote(now)

    def _index(self, checked: list[tuple[str, str, float]], now: float) -> None:
        for hkey, member, ttl in checked:
            members = self._sets.setdefault(hkey, {})
            members[member] = max(members.get(member, 0.0), now + ttl)

    def index_members(self, kind: str, key: str) -> list[str]:
        hkey = hash_key(kind, key)
        with self._lock:
            now = self._clock()
            return sorted(m for m, exp in self._sets.get(hkey, {}).items() if exp > now)

    def index_remove(self, kind: str, key: str, member: str) -> None:
        hkey = hash_key(kind, key)
        with self._lock:
            members = self._sets.get(hkey)
            if members is not None:
                members.pop(member, None)
                if not members:
                    del self._sets[hkey]

    def ping(self) -> None:
        """Always up."""

    def close(self) -> None:
        with self._lock:
            self._rows.clear()
            self._counters.clear()
            self._sets.clear()

    def __len__(self) -> int:
        """Live records (tests and metrics)."""
        with self._lock:
            now = self._clock()
            return sum(1 for r in self._rows.values() if r.expires_at > now)
