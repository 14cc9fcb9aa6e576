"""The client over real sockets: a tiny local WeCom stand-in on 127.0.0.1:0.

requests-mock does not cross process boundaries, so the single-flight guarantee across
worker processes is checked here: two spawned processes, several threads each, one SQLite
file, and a server that counts gettoken calls.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from spawned import run_spawned
from wecom_fakes import AGENT_ID, CORP_ID, SECRET

from wecom_oidc.store import SqliteStore
from wecom_oidc.wecom.client import WecomClient

SERVED_TOKEN = "SERVED-ACCESS-TOKEN-77c1e0"
THREADS_PER_PROCESS = 6


class FakeWecom(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.gettoken_calls = 0
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeWecom

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/cgi-bin/gettoken":
            with self.server.lock:
                self.server.gettoken_calls += 1
            time.sleep(0.2)  # slow enough that every worker arrives while it is in flight
            body = {"errcode": 0, "errmsg": "ok", "access_token": SERVED_TOKEN,
                    "expires_in": 7200}
        elif query.get("access_token") != [SERVED_TOKEN]:
            body = {"errcode": 40014, "errmsg": "invalid access_token"}
        else:
            body = {"errcode": 0, "errmsg": "ok", "userid": query["userid"][0], "status": 1}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server API)
        """Quiet."""


@pytest.fixture
def wecom() -> Iterator[FakeWecom]:
    server = FakeWecom()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _client(base_url: str, db_path: str) -> tuple[WecomClient, SqliteStore]:
    store = SqliteStore(db_path)
    client = WecomClient(api_base_url=base_url, corp_id=CORP_ID, agent_id=AGENT_ID,
                         secret=SECRET, store=store)
    return client, store


def _worker(base_url: str, db_path: str, barrier, results) -> None:
    """One server worker process: several threads, each needing the token."""
    client, store = _client(base_url, db_path)
    barrier.wait()
    with ThreadPoolExecutor(THREADS_PER_PROCESS) as pool:
        users = list(pool.map(lambda i: client.member(f"user{i}")["userid"],
                              range(THREADS_PER_PROCESS)))
    results.put((client.access_token(), users))
    client.close()
    store.close()


def test_token_two_processes_one_sqlite_file_one_gettoken(wecom, tmp_path):
    db_path = str(tmp_path / "shared.db")
    SqliteStore(db_path).close()  # schema first, like the app factory before forking
    got = run_spawned(_worker, wecom.base_url, db_path)
    assert wecom.gettoken_calls == 1
    assert [token for token, _ in got] == [SERVED_TOKEN, SERVED_TOKEN]
    assert all(users == [f"user{i}" for i in range(THREADS_PER_PROCESS)] for _, users in got)


@pytest.mark.parametrize("proxied", [False, True])
def test_client_real_http_logs_never_show_secrets(wecom, tmp_path, caplog, monkeypatch,
                                                  proxied):
    caplog.set_level(logging.DEBUG)  # urllib3 logs request lines (with query) at DEBUG
    base_url = wecom.base_url
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    if proxied:  # urllib3 sends through a proxy; the fake answers as the proxy
        monkeypatch.setenv("HTTP_PROXY", wecom.base_url)
        base_url = "http://qyapi.weixin.example"  # never resolved
    client, store = _client(base_url, str(tmp_path / "s.db"))
    assert client.member("zhangsan")["userid"] == "zhangsan"
    client.close()
    store.close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    if proxied:
        assert "/cgi-bin/gettoken" in text  # urllib3 did log the request line...
    assert SECRET not in text and SERVED_TOKEN not in text  # ...without the secrets
