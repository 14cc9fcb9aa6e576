"""SQLite-only guarantees: on-disk secrecy, file modes, several processes, open_store()."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from spawned import run_spawned

from wecom_oidc.errors import StoreUnavailable
from wecom_oidc.store import MemoryStore, SqliteStore, hash_key, open_store, sqlite_path

SECRET_KEY = "SplxlOBeZQQYbYS6WxSbIA-raw-code-value"
SECRET_GRANT = "grant-7d1e"


def _file_bytes(db: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


def test_sqlite_keys_are_stored_hashed(tmp_path):
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.put("code", SECRET_KEY, {"grant_id": SECRET_GRANT, "sub": "zhangsan"}, ttl=60)
    store.close()
    raw = _file_bytes(path)
    assert SECRET_KEY.encode() not in raw
    assert hash_key("code", SECRET_KEY).encode() in raw
    assert b"zhangsan" in raw  # sanity: we are really reading the data


def test_sqlite_creates_private_dir_and_file(tmp_path):
    path = tmp_path / "new" / "dir" / "s.db"
    store = SqliteStore(path)
    store.put("code", "k", {}, ttl=60)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    wal = Path(str(path) + "-wal")
    if wal.exists():
        assert stat.S_IMODE(os.stat(wal).st_mode) & 0o077 == 0
    store.close()


def test_sqlite_uses_wal(tmp_path):
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_sqlite_data_survives_reopen(tmp_path):
    path = tmp_path / "s.db"
    first = SqliteStore(path)
    first.put("code", "k", {"v": "值"}, ttl=60)
    first.close()
    second = SqliteStore(path)
    assert second.get("code", "k") == {"v": "值"}
    second.close()


def test_sqlite_purge_removes_expired_rows(tmp_path):
    now = [1000.0]
    store = SqliteStore(tmp_path / "s.db", clock=lambda: now[0])
    store.put("code", "old", {}, ttl=5)
    store.put("code", "new", {}, ttl=50)
    now[0] += 10
    assert store.purge() == 1
    assert store.get("code", "new") == {}
    store.close()


def test_sqlite_unusable_file_raises_store_unavailable(tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a sqlite database at all" * 200)
    with pytest.raises(StoreUnavailable):
        SqliteStore(path)


def test_sqlite_ping_on_broken_db_raises_store_unavailable(tmp_path):
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE records")
    db.close()
    with pytest.raises(StoreUnavailable) as info:
        store.ping()
    assert "hkey" not in str(info.value)
    with pytest.raises(StoreUnavailable):
        store.get("code", SECRET_KEY)
    store.close()


def test_sqlite_threads_use_separate_connections(tmp_path):
    import threading

    store = SqliteStore(tmp_path / "s.db")
    store.put("code", "k", {"v": 1}, ttl=60)
    seen = []
    t = threading.Thread(target=lambda: seen.append(store.get("code", "k")))
    t.start()
    t.join()
    assert seen == [{"v": 1}]
    store.close()


# -- several OS processes on one file ----------------------------------------------------

KEYS = [f"code-{i}" for i in range(30)]


def _take_all(path: str, barrier, results) -> None:
    """Child process: take every key (same order as the sibling), report what it won."""
    store = SqliteStore(path)
    barrier.wait()
    won = [k for k in KEYS if store.take("code", k) is not None]
    won_locks = [k for k in KEYS if store.add("lock", k, {"pid": os.getpid()}, ttl=60)]
    results.put((won, won_locks))
    store.close()


def test_sqlite_take_across_processes_has_one_winner_per_key(tmp_path):
    path = str(tmp_path / "shared.db")
    store = SqliteStore(path)
    for k in KEYS:
        store.put("code", k, {"k": k}, ttl=600)
    got = run_spawned(_take_all, path)
    takes = sorted(k for won, _ in got for k in won)
    locks = sorted(k for _, won_locks in got for k in won_locks)
    assert takes == sorted(KEYS)  # every key taken exactly once (no duplicates, none lost)
    assert locks == sorted(KEYS)
    assert all(store.get("code", k) is None for k in KEYS)
    store.close()


def _write_without_waiting(path: str, barrier, results) -> None:
    """Child process: 300 writes with SQLite's busy handler off (busy_timeout 0), so a
    write that ever met SQLite's lock taken by the sibling fails at once."""
    from wecom_oidc.store import sqlite as module

    module.BUSY_TIMEOUT_MS = 0
    # The checkpointing thread takes SQLite's reader slots for an instant now and then
    # (a writer meeting that waits in the busy handler, rarely); this is about writers.
    module.CHECKPOINT_EVERY = 3600
    store = SqliteStore(path)
    barrier.wait()
    failed = 0
    for i in range(300):
        try:
            store.put("code", f"{os.getpid()}-{i}", {"i": i}, ttl=60)
            store.incr_many("rate", [("shared", 60, 1, 10**9), (f"own-{os.getpid()}", 60, 1,
                                                                10**9)])
        except StoreUnavailable:
            failed += 1
    results.put(failed)
    store.close()


def test_sqlite_writers_of_several_processes_queue_instead_of_sleeping(tmp_path):
    """Writers of different processes take turns on the writers' lock file before
    SQLite's lock, so none of them meets SQLite's lock taken (where its busy handler
    would sleep 1, 2, 5 ms and more): with that handler off, no write fails. Without
    the lock file about 570 of the 900 fail here; on a machine starved of CPU by other
    work, one was seen to meet a WAL reader slot taken for an instant, hence the 2."""
    path = tmp_path / "shared.db"
    SqliteStore(path).close()
    assert stat.S_IMODE(os.stat(str(path) + "-writer").st_mode) == 0o600
    assert sum(run_spawned(_write_without_waiting, str(path), n=3)) <= 2
    store = SqliteStore(path)
    assert store.incr("rate", "shared", 60, 0) == 3 * 300
    store.close()


def test_sqlite_counter_reads_do_not_wait_for_the_writers(tmp_path):
    """incr_many with every amount 0 (the failed-auth peeks of every /token) is a read:
    it answers while the writers' lock file and SQLite's lock are held (as by a writer
    of another process)."""
    path = tmp_path / "shared.db"
    store = SqliteStore(path)
    store.incr_many("rate", [("a", 60, 2, 99), ("b", 60, 1, 99)])
    other = sqlite3.connect(path, isolation_level=None)
    fd = os.open(str(path) + "-writer", os.O_RDWR)
    answers: list = []
    reader = threading.Thread(target=lambda: answers.append(
        store.incr_many("rate", [("a", 60, 0, 99), ("b", 60, 0, 0), ("c", 60, 0, 99)])))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        other.execute("BEGIN IMMEDIATE")
        reader.start()
        reader.join(timeout=30)
        assert answers == [[2, 1]]
    finally:
        other.execute("ROLLBACK")
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        reader.join()
        other.close()
        store.close()


def test_sqlite_take_used_is_one_transaction(tmp_path):
    """A code's take and its used marker's put are one turn on the writers' locks."""
    store = SqliteStore(tmp_path / "store.db")
    store.put("code", "k", {"grant_id": "g1", "client_id": "c1"}, ttl=60)
    statements: list[str] = []
    store._conn().set_trace_callback(lambda sql: statements.append(sql.split()[0]))
    store.take("code", "k", used=("code_used", 60))
    assert statements == ["BEGIN", "DELETE", "INSERT", "COMMIT"]
    store.close()


def test_sqlite_writers_leave_the_wal_to_the_checkpointing_thread(tmp_path):
    """A commit never copies the WAL back into the database itself (an fsync with the
    writers' lock held: 25 ms for 1 write in 1,000 here); the store's thread does, soon
    after, without blocking anyone."""
    import time

    path = tmp_path / "s.db"
    store = SqliteStore(path)
    empty = os.path.getsize(path)
    for i in range(1500):  # ~1,500 pages, past SQLite's default checkpoint at 1,000
        store.put("code", f"k{i}", {"pad": "x" * 3000}, ttl=600)
    assert os.path.getsize(path) == empty  # nothing copied back by a writer
    # Until the copy is done (it grows the file page by page, so not just any change).
    deadline = time.monotonic() + 10
    while os.path.getsize(path) <= 1500 * 3000 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.path.getsize(path) > 1500 * 3000
    assert store.get("code", "k1499") == {"pad": "x" * 3000}
    store.close()


# -- open_store ------------------------------------------------------------------------


def test_open_store_memory_returns_memory_store():
    store = open_store("memory://")
    assert isinstance(store, MemoryStore)
    store.close()


def test_open_store_sqlite_relative_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rel = open_store("sqlite:///data/rel.db")
    assert isinstance(rel, SqliteStore)
    assert (tmp_path / "data" / "rel.db").exists()
    rel.close()
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")  # four slashes: absolute path
    assert (tmp_path / "abs.db").exists()
    absolute.close()


def test_sqlite_path_conventions():
    assert sqlite_path("sqlite:///data/x.db") == "data/x.db"
    assert sqlite_path("sqlite:////var/lib/x.db") == "/var/lib/x.db"


@pytest.mark.parametrize(
    "url, words",
    [
        ("redis+sentinel://h:26379", "SERVICE"),
        ("postgres://x/y", "unsupported store url"),
        ("sqlite://relative.db", "three slashes"),
        ("sqlite:///", "no database file"),
        ("sqlite:///:memory:", "memory://"),
        ("memory://somewhere", "no path"),
        ("", "unsupported store url"),
    ],
)
def test_open_store_bad_url_raises_clear_value_error(url, words):
    with pytest.raises(ValueError) as info:
        open_store(url)
    assert words in str(info.value)
    assert "memory://" in str(info.value) or "redis" in str(info.value)
