"""The pooled transport the bridge runs on, over real sockets: each way a WeCom call can
fail is classified (may it have reached WeCom? worth retrying?) without the URL, which
carries access_token and code, ever showing; connections are kept alive; a proxy from
the environment is used."""

from __future__ import annotations

import socket
import threading
import traceback
from collections.abc import Callable, Iterator

import pytest

from wecom_oidc.wecom.errors import Transport
from wecom_oidc.wecom.transport import PooledTransport

SECRET_QUERY = "access_token=TOKEN-SECRET-5d1f&code=CODE-SECRET-88aa"
OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
      b'{"errcode":0}')


class RawServer:
    """A TCP server on 127.0.0.1:0 that hands each connection to `handle`; counts
    connections and remembers the request heads it read."""

    def __init__(self, handle: Callable[[socket.socket, RawServer], None]):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handle, self.connections, self.heads = handle, 0, []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.handle(conn, self)
            except OSError:
                pass

    def read_head(self, conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return b""
            data += chunk
        self.heads.append(data)
        return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(handle: Callable[[socket.socket, RawServer], None]) -> RawServer:
        servers.append(RawServer(handle))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _fails(transport: PooledTransport, url: str) -> Transport:
    with pytest.raises(Transport) as caught:
        transport.send("user/get", "GET", url, None, {})
    error = caught.value
    shown = "".join(traceback.format_exception(error)) + repr(error.__context__)
    assert "TOKEN-SECRET" not in shown and "CODE-SECRET" not in shown
    assert error.__context__ is None and error.__cause__ is None
    return error


def test_transport_refused_connection_was_never_sent():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = _fails(PooledTransport(f"http://127.0.0.1:{port}", (1, 1)),
                   f"http://127.0.0.1:{port}/cgi-bin/user/get?{SECRET_QUERY}")
    assert error.reason == "connection failed" and not error.sent and error.transient


def test_transport_silent_server_is_a_read_timeout_that_may_have_been_sent(serve):
    done = threading.Event()
    server = serve(lambda conn, srv: (srv.read_head(conn), done.wait(5)))
    base = f"http://127.0.0.1:{server.port}"
    error = _fails(PooledTransport(base, (1, 0.3)), f"{base}/cgi-bin/user/get?{SECRET_QUERY}")
    done.set()
    assert error.reason == "read timeout" and error.sent and error.transient


def test_transport_connection_closed_before_an_answer_is_dropped(serve):
    server = serve(lambda conn, srv: srv.read_head(conn))  # reads, then hangs up
    base = f"http://127.0.0.1:{server.port}"
    error = _fails(PooledTransport(base, (1, 1)), f"{base}/cgi-bin/user/get?{SECRET_QUERY}")
    assert error.reason == "connection dropped" and error.sent


def _answer_all(conn: socket.socket, srv: RawServer) -> None:
    while srv.read_head(conn):
        conn.sendall(OK)


def test_transport_keeps_one_connection_alive_across_calls(serve):
    server = serve(_answer_all)
    base = f"http://127.0.0.1:{server.port}"
    transport = PooledTransport(base, (1, 1))
    answers = [transport.send("user/get", "GET", f"{base}/cgi-bin/user/get?userid=u{i}",
                              None, {"Accept": "application/json"}) for i in range(5)]
    assert answers == [(200, b'{"errcode":0}')] * 5
    assert server.connections == 1
    transport.close()


def test_transport_sends_again_after_close(serve):
    server = serve(_answer_all)
    base = f"http://127.0.0.1:{server.port}"
    transport = PooledTransport(base, (1, 1))
    url = f"{base}/cgi-bin/user/get?userid=u1"
    assert transport.send("user/get", "GET", url, None, {})[0] == 200
    transport.close()
    assert transport.send("user/get", "GET", url, None, {})[0] == 200
    transport.close()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_transport_sends_through_the_environments_proxy(serve, monkeypatch, variable):
    proxy = serve(_answer_all)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.port}")
    base = "http://qyapi.weixin.example"  # never resolved: the proxy answers
    transport = PooledTransport(base, (1, 1))
    assert transport.send("gettoken", "GET", f"{base}/cgi-bin/gettoken?corpid=ww1",
                          None, {})[0] == 200
    assert proxy.heads[0].startswith(b"GET http://qyapi.weixin.example/cgi-bin/gettoken?")


def test_transport_untrusted_tls_is_not_retried_and_says_what_to_check(serve):
    """An https base URL answered by something that is not the TLS server it should be
    (here plain HTTP): never sent, not worth retrying, and the admin is told why."""
    server = serve(lambda conn, srv: (conn.recv(4096), conn.sendall(OK)))
    base = f"https://127.0.0.1:{server.port}"
    error = _fails(PooledTransport(base, (1, 1)), f"{base}/cgi-bin/user/get?{SECRET_QUERY}")
    assert error.reason == "TLS handshake failed" and not error.sent and not error.transient
    assert "CA bundle" in error.hint and "api_base_url" in error.hint
