"""The SQLite store under contention, the bridge under `serve`: another process
holding the write lock (a real BEGIN IMMEDIATE transaction) or a full disk (a tiny
tmpfs filled up) gives 503 with a clear message, never a 500 or a traceback, and
nothing committed before is lost: tokens issued before still refresh afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from .stack import PUBLIC, RelyingParty, qr_login, start_stack

LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO counters VALUES ('held-by-another-process', 1, 9e18)")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
print("committed", flush=True)
"""


def logged_in(stack) -> dict:
    rp = RelyingParty(stack, public=True, scope="openid offline_access")
    started = rp.start()
    token, _, _ = rp.finish(qr_login(stack, started["url"], "zhangsan"), started)
    return token


def refresh(stack, token: dict) -> requests.Response:
    return requests.post(stack.bridge_url + "/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": PUBLIC}, timeout=30)


def authorize(stack) -> requests.Response:
    started = RelyingParty(stack).start()
    return requests.get(started["url"], allow_redirects=False, timeout=30)


def no_traceback(stack) -> None:
    log = (stack.workdir / "bridge.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log


@pytest.fixture
def stack(tmp_path):
    s = start_stack(tmp_path)
    yield s
    s.stop()


def test_e2e_sqlite_write_lock_held_by_another_process_503_then_nothing_lost(stack):
    before = logged_in(stack)
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(stack.workdir / "bridge.db")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        page = authorize(stack)  # saving the login state waits for the lock, then gives up
        assert page.status_code == 503 and "暂时不可用" in page.text
        assert page.headers["Retry-After"] == "5"
        r = refresh(stack, before)
        assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable"
    finally:
        locker.communicate("release\n", timeout=30)
    assert locker.returncode == 0
    # The refresh token refused meanwhile was not spent; the other process's commit stands.
    assert refresh(stack, before).status_code == 200
    assert logged_in(stack)["refresh_token"]
    import sqlite3

    with sqlite3.connect(stack.workdir / "bridge.db") as db:
        assert db.execute("SELECT value FROM counters WHERE hkey = "
                          "'held-by-another-process'").fetchone() == (1,)
    no_traceback(stack)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs: a real filesystem that fills up (needs root to mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_e2e_sqlite_full_disk_503_then_nothing_lost(tiny_disk):
    stack = start_stack(tiny_disk)
    try:
        before = logged_in(stack)
        log = stack.workdir / "bridge.log"
        fill(tiny_disk / "filler")
        pages = [authorize(stack) for _ in range(20)]  # each saves a login state
        assert {p.status_code for p in pages} <= {302, 503}
        assert 503 in {p.status_code for p in pages}, "the disk never filled up"
        assert all("暂时不可用" in p.text for p in pages if p.status_code == 503)
        (tiny_disk / "filler").unlink()
        assert refresh(stack, before).status_code == 200
        assert logged_in(stack)["refresh_token"]
        text = log.read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in text and "unhandled error" not in text
    finally:
        stack.stop()
