"""SQLite StateStore: one file shared by every server worker process and thread.

Why it is safe across processes: WAL mode lets readers run beside the single writer,
busy_timeout makes a writer wait for the lock instead of failing, and every operation is
ONE autocommit statement (upsert with a WHERE, DELETE ... RETURNING), so atomicity comes
from SQLite's write lock rather than from a read-then-write race in Python.

Why writers queue on a lock file of their own first (`<file>-writer`, flock): a writer
that finds SQLite's lock taken by another process sleeps in SQLite's busy handler, 1 ms,
then 2, 5, 10 ms and more, however soon the lock is free. Under a login rush that was
about one statement in 25, at 6.5 ms each: most of the time the store spent. On the
flock a writer is woken the moment the other process is done, and SQLite's own lock is
then free for it but for rare instants (a checkpoint below holding SQLite's reader
slots); busy_timeout stays for those and for any other writer of the file (`wecom-oidc`
commands run beside the server).

Why a thread checkpoints: by default the commit that grows the WAL past 1,000 pages
copies it back into the database and fsyncs, with the writers' lock held: on this VM's
disk 1 write in 100 took 4 ms and 1 in 1,000 took 25 ms, three quarters of all the time
20,000 writes took. A thread in each process copies the WAL back every second
(PRAGMA wal_checkpoint(PASSIVE): it neither waits for nor blocks the writers), so a
commit is a write to the page cache. The writers still checkpoint themselves if the WAL
reaches AUTOCHECKPOINT_PAGES (that thread stopped or fell behind).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import StoreUnavailable
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
    up_to_ceiling,
    used_marker,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
CHECKPOINT_EVERY = 1.0  # seconds between a process's background checkpoints
AUTOCHECKPOINT_PAGES = 10_000  # a writer checkpoints itself only past this (40 MB)
# Purge expired rows at most this often (seconds) per process, and at least every N writes:
# cheap (indexed on expires_at) and keeps the file from growing with dead logins.
PURGE_INTERVAL = 60.0
PURGE_EVERY = 500

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS records (
        hkey TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        record TEXT NOT NULL,
        expires_at REAL NOT NULL,
        grant_id TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS records_grant ON records (grant_id) WHERE grant_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_at)",
    """CREATE TABLE IF NOT EXISTS counters (
        hkey TEXT PRIMARY KEY,
        value INTEGER NOT NULL,
        expires_at REAL NOT NULL
    )""",
    # index_add/index_members: small sets (a member's sessions, the members with any).
    """CREATE TABLE IF NOT EXISTS set_members (
        hkey TEXT NOT NULL,
        member TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (hkey, member)
    )""",
    "CREATE INDEX IF NOT EXISTS set_members_expiry ON set_members (expires_at)",
)
# A member added again keeps the later expiry, in one statement.
_INDEX_ADD = """INSERT INTO set_members (hkey, member, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (hkey, member) DO UPDATE SET
        expires_at = max(set_members.expires_at, excluded.expires_at)"""

_INDEX_ADD_ROWS = """INSERT INTO set_members (hkey, member, expires_at) VALUES {rows}
    ON CONFLICT (hkey, member) DO UPDATE SET
        expires_at = max(set_members.expires_at, excluded.expires_at)"""

# Insert-if-absent in one statement: an existing row is only overwritten when it has
# expired, so `changes()` tells whether this caller won.
_ADD = """INSERT INTO records (hkey, kind, record, expires_at, grant_id) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (hkey) DO UPDATE SET kind = excluded.kind, record = excluded.record,
        expires_at = excluded.expires_at, grant_id = excluded.grant_id
    WHERE records.expires_at <= ?"""
# Counters in one statement: an expired row restarts from its amount with a new
# expiry. ?1 is now, then (hkey, amount, expires_at) per counter.
_INCR_ROWS = """INSERT INTO counters (hkey, value, expires_at) VALUES {rows}
    ON CONFLICT (hkey) DO UPDATE SET
        value = CASE WHEN counters.expires_at <= ?1 THEN excluded.value
                     ELSE counters.value + excluded.value END,
        expires_at = CASE WHEN counters.expires_at <= ?1 THEN excluded.expires_at
                          ELSE counters.expires_at END
    RETURNING hkey, value"""
_TAKE = "DELETE FROM records WHERE hkey = ? AND expires_at > ? RETURNING record"
_PUT = """INSERT INTO records (hkey, kind, record, expires_at, grant_id) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (hkey) DO UPDATE SET kind = excluded.kind, record = excluded.record,
        expires_at = excluded.expires_at, grant_id = excluded.grant_id"""


# The live counters among some keys (amount 0 only reads: an expired or absent counter
# is 0, and stays absent). ?1 is now.
_COUNTERS = "SELECT hkey, value FROM counters WHERE expires_at > ?1 AND hkey IN ({marks})"


def _index_rows(db: sqlite3.Connection, checked: list[tuple[str, str, float]],
                now: float) -> None:
    """index_add_many's entries as the rows of one multi-row upsert."""
    rows = ", ".join(["(?, ?, ?)"] * len(checked))
    values = [v for hkey, member, ttl in checked for v in (hkey, member, now + ttl)]
    db.execute(_INDEX_ADD_ROWS.format(rows=rows), values)


@functools.cache
def _counters(n: int) -> str:
    return _COUNTERS.format(marks=", ".join(f"?{i + 2}" for i in range(n)))


def _live_counters(db: sqlite3.Connection, hkeys: list[str], now: float) -> dict[str, int]:
    return dict(db.execute(_counters(len(hkeys)), (now, *hkeys))) if hkeys else {}


@functools.cache
def _incr_rows(n: int) -> str:
    return _INCR_ROWS.format(rows=", ".join(
        f"(?{3 * i + 2}, ?{3 * i + 3}, ?{3 * i + 4})" for i in range(n)))


def _incr_args(checked: Sequence[Increment], now: float) -> list[Any]:
    args: list[Any] = [now]
    for hkey, ttl, amount, _ in checked:
        args += (hkey, amount, now + ttl)
    return args


def _count(db: sqlite3.Connection, checked: list[Increment], now: float) -> dict[str, int]:
    """The new values of counters of distinct keys: those with an amount counted in
    one statement, those without only read."""
    counts = [c for c in checked if c[2]]
    values = dict(db.execute(_incr_rows(len(counts)), _incr_args(counts, now))) if counts else {}
    values.update(_live_counters(db, [c[0] for c in checked if not c[2]], now))
    return values


class SqliteStore:
    """StateStore on a SQLite file (see StateStore for the contract).

    One connection per thread (sqlite3 connections must not be shared across threads)
    and per process (a connection inherited over fork() is unusable).
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = time.time):
        self.path = Path(path)
        self._clock = clock
        self._local = threading.local()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer_path = self.path.with_name(self.path.name + "-writer")
        self._writer_fd: int | None = None  # this process's, opened at its first write
        self._checkpointer: _Checkpointer | None = None  # this process's, started with it
        self._conns: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._writes = 0
        self._written = 0  # write sections ended in this process (the checkpointer reads it)
        self._next_purge = 0.0
        self._orphans: list[sqlite3.Connection] = []
        self._prepare_file()
        # A throwaway connection: nothing is left open that a forking server (`serve`
        # --preload) could hand to its workers.
        try:
            db = self._connect()
            try:
                self._init_schema(db)
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path.name}: {exc}") from exc

    # -- connection handling -------------------------------------------------------

    def _prepare_file(self) -> None:
        """Create the parent dir (0700) and the file (0600) before SQLite does, so the
        store (which holds login state) is never world-readable. SQLite gives the -wal
        and -shm files the mode of the database file."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            for path in (self.path, self._writer_path):
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreUnavailable(f"cannot create store file {self.path}: {exc.strerror}") from exc

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit, each statement is its own transaction.
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
            check_same_thread=False,  # only close() touches it from another thread
        )
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        db.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL for short-lived state
        return db

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:
            # Forked: never use (or close) the parent's connections here; closing one
            # would drop this process's POSIX locks on the file. Keep them referenced.
            with self._lock:
                self._orphans.extend(self._conns)
                self._pid, self._local, self._conns = os.getpid(), threading.local(), []
                self._write_lock = threading.Lock()  # a copy could be held by a dead thread
                # A flock belongs to the open file, which the parent shares: this process
                # opens its own (closing the copy leaves the parent's lock alone).
                if self._writer_fd is not None:
                    os.close(self._writer_fd)
                    self._writer_fd = None
                self._checkpointer = None  # the parent's thread did not come along
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._lock:
                self._conns.append(db)
        return db

    def _writer(self) -> int:
        """This process's descriptor of the writers' lock file (and, from its first
        write, its checkpointing thread)."""
        fd = self._writer_fd
        if fd is not None:
            return fd
        with self._lock:
            if self._writer_fd is None:
                self._writer_fd = os.open(self._writer_path,
                                          os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._checkpointer = _Checkpointer(self)
                self._checkpointer.start()
            return self._writer_fd

    def _db(self, write: bool = True) -> _Using:
        """A connection; any sqlite error becomes StoreUnavailable (no key in the text).

        Writers take turns on a Python lock (the threads of this process), then on the
        writers' lock file (the processes). SQLite's own busy handler sleeps and retries
        with growing pauses, so with dozens of threads writing at once some of them lose
        every round and reach busy_timeout (503s under load); queued on the two locks,
        a writer finds SQLite's lock free and every statement is a few tens of
        microseconds."""
        return _Using(self, write)

    def _init_schema(self, db: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment of exclusive access; workers starting together
        # may see "locked" once, so retry briefly.
        for attempt in range(50):
            try:
                db.execute("PRAGMA journal_mode = WAL")
                for stmt in _SCHEMA:
                    db.execute(stmt)
                return
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.05)

    def _wrote(self, db: sqlite3.Connection, now: float) -> None:
        with self._lock:
            self._writes += 1
            due = self._writes % PURGE_EVERY == 0 or now >= self._next_purge
            if due:
                self._next_purge = now + PURGE_INTERVAL
        if not due:
            return
        # Housekeeping after a write that has already committed: if it fails (the lock
        # held elsewhere, a full disk) the write still stands, so the caller must not
        # be told it failed; the next purge catches up.
        try:
            db.execute("DELETE FROM records WHERE expires_at <= ?", (now,))
            db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
            db.execute("DELETE FROM set_members WHERE expires_at <= ?", (now,))
        except sqlite3.Error as exc:
            log.warning("store=sqlite purge skipped error=%s", type(exc).__name__)

    # -- StateStore ----------------------------------------------------------------

    def _values(self, kind: str, key: str, record: dict[str, Any],
                ttl: float) -> tuple[str, str, str, float, str | None]:
        check_kind(kind)
        ttl = check_ttl(ttl)
        hkey, text = hash_key(kind, key), dump_record(record)
        return (hkey, kind, text, self._clock() + ttl, grant_of(record))

    def put(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> None:
        values = self._values(kind, key, record, ttl)
        with self._db() as db:
            db.execute(_PUT, values)
            self._wrote(db, self._clock())

    def put_many(self, items: Sequence[Put], index: Sequence[IndexEntry] = ()) -> None:
        rows = [self._values(kind, key, record, ttl) for kind, key, record, ttl in items]
        checked = check_entries(index)
        if not rows and not checked:
            return
        now = self._clock()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_PUT, rows)
                if checked:
                    _index_rows(db, checked, now)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            self._wrote(db, now)

    def add(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> bool:
        values = self._values(kind, key, record, ttl)
        now = self._clock()
        with self._db() as db:
            won = db.execute(_ADD, (*values, now)).rowcount == 1
            self._wrote(db, now)
        return won

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        hkey = hash_key(kind, key)
        with self._db(write=False) as db:
            row = db.execute(
                "SELECT record FROM records WHERE hkey = ? AND expires_at > ?",
                (hkey, self._clock()),
            ).fetchone()
        return load_record(row[0]) if row else None

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        hkeys = [hash_key(kind, key) for kind, key in items]
        if not hkeys:
            return []
        marks = ",".join("?" * len(hkeys))
        with self._db(write=False) as db:
            rows = dict(db.execute(
                f"SELECT hkey, record FROM records WHERE hkey IN ({marks}) AND expires_at > ?",
                (*hkeys, self._clock())).fetchall())
        return [load_record(rows[h]) if h in rows else None for h in hkeys]

    def take(self, kind: str, key: str, used: Used | None = None) -> dict[str, Any] | None:
        hkey = hash_key(kind, key)
        if used is not None:
            return self._take_used(hkey, key, check_used(used))
        with self._db() as db:
            # One statement: only the caller whose DELETE removed the row sees it.
            # fetchall() steps the statement to completion before the implicit commit.
            rows = db.execute(_TAKE, (hkey, self._clock())).fetchall()
        return load_record(rows[0][0]) if rows else None

    def _take_used(self, hkey: str, key: str, used: tuple[str, float]) -> dict[str, Any] | None:
        """take() and the marker's put in one transaction: one turn on the writers'
        locks instead of two."""
        used_kind, ttl = used
        now = self._clock()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(_TAKE, (hkey, now)).fetchall()
                record = load_record(rows[0][0]) if rows else None
                if record is not None:
                    marker = used_marker(record)
                    db.execute(_PUT, (hash_key(used_kind, key), used_kind, dump_record(marker),
                                      now + ttl, grant_of(marker)))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if record is not None:
                self._wrote(db, now)
        return record

    def delete(self, kind: str, key: str) -> None:
        hkey = hash_key(kind, key)
        with self._db() as db:
            db.execute("DELETE FROM records WHERE hkey = ?", (hkey,))

    def delete_if(self, kind: str, key: str, record: dict[str, Any]) -> bool:
        hkey = hash_key(kind, key)
        with self._db() as db:
            return db.execute(
                "DELETE FROM records WHERE hkey = ? AND record = ? AND expires_at > ?",
                (hkey, dump_record(record), self._clock())).rowcount == 1

    def incr(self, kind: str, key: str, ttl: float, amount: int = 1) -> int:
        return self.incr_many(kind, [(key, ttl, amount, NO_CEILING)])[0]

    def incr_many(self, kind: str, counters: Sequence[Increment]) -> list[int]:
        checked = check_increments(kind, counters)
        if not checked:
            return []
        now = self._clock()
        hkeys = [hkey for hkey, _, _, _ in checked]
        if not any(amount for _, _, amount, _ in checked):
            # Only reads (every /token peeks at its failed-auth counters): one SELECT
            # beside the writers, never queued behind them on the writers' lock.
            with self._db(write=False) as db:
                live = _live_counters(db, hkeys, now)
            return up_to_ceiling(checked, [live.get(hkey, 0) for hkey in hkeys])
        with self._db() as db:
            if len(checked) == 1:  # one statement is its own transaction
                values = [v for _, v in db.execute(_incr_rows(1), _incr_args(checked, now))]
            else:
                values = self._incr_in_transaction(db, checked, hkeys, now)
            self._wrote(db, now)
        return values

    def _incr_in_transaction(self, db: sqlite3.Connection, checked: list[Increment],
                             hkeys: list[str], now: float) -> list[int]:
        """Every counted counter in one statement (for five counters, 40 % fewer
        instructions than a statement each), the read ones (amount 0) in another.
        When one ends above its ceiling and others follow it, or a key repeats, that is
        undone and the counters go one by one, stopping at the first above its ceiling."""
        db.execute("BEGIN IMMEDIATE")
        try:
            values = None
            if len(set(hkeys)) == len(hkeys):
                counted = _count(db, checked, now)
                values = [counted.get(hkey, 0) for hkey in hkeys]
                if any(v > ceiling for v, (_, _, _, ceiling) in zip(values[:-1], checked,
                                                                    strict=False)):
                    db.execute("ROLLBACK")
                    db.execute("BEGIN IMMEDIATE")
                    values = None
            if values is None:
                values = []
                for counter in checked:
                    values.append(_count(db, [counter], now).get(counter[0], 0))
                    if values[-1] > counter[3]:
                        break
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return values

    def revoke_grant(self, grant_id: str) -> int:
        if not grant_id:
            return 0
        with self._db() as db:
            return db.execute("DELETE FROM records WHERE grant_id = ?", (grant_id,)).rowcount

    def index_add(self, kind: str, key: str, member: str, ttl: float) -> None:
        hkey, member, ttl = hash_key(kind, key), check_member(member), check_ttl(ttl)
        now = self._clock()
        with self._db() as db:
            db.execute(_INDEX_ADD, (hkey, member, now + ttl))
            self._wrote(db, now)

    def index_add_many(self, entries: Sequence[IndexEntry]) -> None:
        checked = check_entries(entries)
        if not checked:
            return
        now = self._clock()
        with self._db() as db:
            _index_rows(db, checked, now)  # one statement, so one commit
            self._wrote(db, now)

    def index_members(self, kind: str, key: str) -> list[str]:
        hkey = hash_key(kind, key)
        with self._db(write=False) as db:
            rows = db.execute("SELECT member FROM set_members WHERE hkey = ? AND expires_at > ?"
                              " ORDER BY member", (hkey, self._clock())).fetchall()
        return [r[0] for r in rows]

    def index_remove(self, kind: str, key: str, member: str) -> None:
        hkey = hash_key(kind, key)
        with self._db() as db:
            db.execute("DELETE FROM set_members WHERE hkey = ? AND member = ?", (hkey, member))

    def ping(self) -> None:
        with self._db(write=False) as db:
            db.execute("SELECT count(*) FROM records WHERE hkey = ''").fetchone()

    def purge(self) -> int:
        """Delete expired rows now; returns how many (also done automatically)."""
        with self._db() as db:
            return db.execute(
                "DELETE FROM records WHERE expires_at <= ?", (self._clock(),)
            ).rowcount

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
            self._local = threading.local()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
            self._writer_fd = None
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
        for db in conns:
            with contextlib.suppress(sqlite3.Error):
                db.close()


class _Checkpointer(threading.Thread):
    """Copies the WAL back into the database every CHECKPOINT_EVERY seconds after
    writes, on a connection of its own; ends with its store (close, or garbage)."""

    def __init__(self, store: SqliteStore):
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self._store = weakref.ref(store)
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        db: sqlite3.Connection | None = None
        done = 0
        try:
            while not self._stopped.wait(CHECKPOINT_EVERY):
                db, done = self._checkpoint(db, done)
                if done < 0:
                    return
        finally:
            if db is not None:
                db.close()

    def _checkpoint(self, db: sqlite3.Connection | None,
                    done: int) -> tuple[sqlite3.Connection | None, int]:
        """One round: (the connection, the store's write count checkpointed; -1 when
        the store is gone). The store is held only for the round, never while waiting."""
        store = self._store()
        if store is None:
            return db, -1
        if store._written == done:
            return db, done
        written = store._written
        try:
            db = db or store._connect()
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            return db, written
        except sqlite3.Error as exc:  # the writers' own checkpoint is the fallback
            log.warning("store=sqlite checkpoint skipped error=%s", type(exc).__name__)
            return db, done


class _Using:
    """SqliteStore._db's context: a class rather than a generator, as every store
    operation enters one (fewer instructions than contextlib's)."""

    __slots__ = ("_store", "_write", "_lock", "_fd")

    def __init__(self, store: SqliteStore, write: bool):
        self._store, self._write = store, write
        self._lock: threading.Lock | None = None
        self._fd = -1

    def __enter__(self) -> sqlite3.Connection:
        try:
            db = self._store._conn()
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        if self._write:
            lock = self._store._write_lock  # read after _conn(): a fork renews it
            lock.acquire()
            try:
                fd = self._store._writer()
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                lock.release()
                raise StoreUnavailable(
                    f"SQLite store {self._store.path.name}: writers' lock: {exc.strerror}"
                ) from exc
            self._lock, self._fd = lock, fd
        return db

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: Any) -> None:
        if self._lock is not None:
            self._store._written += 1  # under the lock
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        log.warning("store=sqlite error=%s", type(exc).__name__)
        return StoreUnavailable(f"SQLite store {self._store.path.name}: {exc}")
