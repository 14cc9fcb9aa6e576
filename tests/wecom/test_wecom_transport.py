"""The pooled transport the bridge runs on, over real sockets: each way a WeCom call can
fail is classified (may it have reached WeCom? worth retrying?) without the URL, which
carries access_token and code, ever showing; connections are kept alive (and a stale
one never used); a proxy from the environment is used; TLS is verified."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import traceback
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


def test_transport_idle_connection_closed_by_the_server_is_replaced_before_sending(serve):
    """A keep-alive connection the server hung up on while idle is never used: the
    call goes out on a new one (a code exchange is not re-sent, so it must not be lost
    to a stale connection)."""
    hung_up = threading.Event()

    def answer_once(conn: socket.socket, srv: RawServer) -> None:
        srv.read_head(conn)
        conn.sendall(OK)  # then hangs up, though the answer said nothing of it
        conn.close()
        hung_up.set()

    server = serve(answer_once)
    base = f"http://127.0.0.1:{server.port}"
    transport = PooledTransport(base, (1, 1))
    url = f"{base}/cgi-bin/auth/getuserinfo?code=c1"
    assert transport.send("auth/getuserinfo", "GET", url, None, {})[0] == 200
    assert hung_up.wait(5)
    hung_up.wait(0.05)  # the FIN crosses loopback
    assert transport.send("auth/getuserinfo", "GET", url, None, {})[0] == 200
    assert server.connections == 2
    transport.close()


def test_transport_answer_that_closes_the_connection_is_not_reused(serve):
    closing = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")
    server = serve(lambda conn, srv: (srv.read_head(conn), conn.sendall(closing)))
    base = f"http://127.0.0.1:{server.port}"
    transport = PooledTransport(base, (1, 1))
    for _ in range(2):
        assert transport.send("user/get", "GET", f"{base}/cgi-bin/user/get", None, {}) == (
            200, b'{"errcode":0}')
    assert server.connections == 2
    transport.close()


@pytest.mark.parametrize("answer", [
    # chunked
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\n{\"err\r\n8\r\ncode\":0}\r\n0\r\n\r\n",
    # after an interim answer
    b"HTTP/1.1 100 Continue\r\nX-Note: wait\r\n\r\n" + OK,
], ids=["chunked", "after-interim"])
def test_transport_reads_the_answer_however_it_is_framed(serve, answer):
    server = serve(lambda conn, srv: (srv.read_head(conn), conn.sendall(answer)))
    base = f"http://127.0.0.1:{server.port}"
    transport = PooledTransport(base, (1, 1))
    assert transport.send("user/get", "GET", f"{base}/cgi-bin/user/get", None, {}) == (
        200, b'{"errcode":0}')
    transport.close()


def test_transport_sends_the_body_and_headers_of_a_post(serve):
    server = serve(_answer_all)
    base = f"http://127.0.0.1:{server.port}"
    transport = PooledTransport(base, (1, 1))
    transport.send(
        "auth/getuserdetail", "POST", f"{base}/cgi-bin/auth/getuserdetail?access_token=t",
        b'{"user_ticket":"x"}', {"Content-Type": "application/json", "User-Agent": "wecom-oidc"})
    transport.close()
    head = server.heads[0]
    assert head.startswith(b"POST /cgi-bin/auth/getuserdetail?access_token=t HTTP/1.1\r\n")
    assert b"Content-Length: 19\r\n" in head and b"User-Agent: wecom-oidc\r\n" in head
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in head


def _answer_each_with_its_body(conn: socket.socket, srv: RawServer) -> None:
    """Answers each request once its head and its body are in; keeps the heads."""
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        srv.heads.append(head + b"\r\n\r\n")
        length = re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n")
        rest = int(length.group(1)) if length else 0
        while len(data) < rest:
            data += conn.recv(4096)
        data = data[rest:]
        conn.sendall(OK)


@pytest.mark.parametrize(("method", "body", "headers"), [
    ("GET", None, {"User-Agent": "wecom-oidc", "Accept": "application/json"}),
    ("POST", b'{"user_ticket":"x"}',
     {"User-Agent": "wecom-oidc", "Content-Type": "application/json"}),
    ("POST", None, {}),
])
def test_transport_request_head_is_what_http_client_writes(serve, method, body, headers):
    """The request head is written once per kind of request and reused: byte for byte
    what http.client's request() sends (request line, Host, Accept-Encoding, length)."""
    server = serve(_answer_each_with_its_body)
    base = f"http://127.0.0.1:{server.port}"
    path = "/cgi-bin/user/get?userid=zhang%20san&access_token=t"
    transport = PooledTransport(base, (1, 1))
    for _ in range(2):  # the second from the remembered head
        assert transport.send("user/get", method, base + path, body, headers)[0] == 200
    transport.close()
    sent: list[bytes] = []
    recorder = http.client.HTTPConnection("127.0.0.1", server.port)
    recorder.send = sent.append  # type: ignore[method-assign]
    recorder.request(method, path, body, headers)
    assert server.heads == [sent[0], sent[0]]


def test_transport_path_with_a_control_character_is_refused_without_the_url(serve):
    server = serve(_answer_all)
    base = f"http://127.0.0.1:{server.port}"
    transport = PooledTransport(base, (1, 1))
    with pytest.raises(http.client.InvalidURL) as caught:
        transport.send("user/get", "GET", f"{base}/cgi-bin/user/get?{SECRET_QUERY}\r\nX: y",
                       None, {})
    assert "SECRET" not in str(caught.value) and server.connections == 0
    transport.close()


def test_transport_https_through_the_environments_proxy_is_a_connect_tunnel(serve,
                                                                             monkeypatch):
    """HTTPS_PROXY: the proxy is asked to CONNECT to the API host, and TLS is then
    spoken with the API host through it (here the tunnel answers junk: no TLS)."""
    def tunnel(conn: socket.socket, srv: RawServer) -> None:
        srv.read_head(conn)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        conn.recv(4096)  # the TLS ClientHello
        conn.sendall(OK)

    proxy = serve(tunnel)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    base = "https://qyapi.weixin.example"  # never resolved here: the proxy connects
    error = _fails(PooledTransport(base, (1, 1)), f"{base}/cgi-bin/user/get?{SECRET_QUERY}")
    assert proxy.heads[0].startswith(b"CONNECT qyapi.weixin.example:443 HTTP/")
    assert error.reason == "TLS handshake failed" and not error.sent


def _self_signed(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_transport_refuses_a_certificate_outside_the_ca_bundle(serve, tmp_path):
    """TLS is verified: a server with a certificate no CA of the bundle signed gets
    no request, however well it speaks TLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))

    def tls(conn: socket.socket, srv: RawServer) -> None:
        with context.wrap_socket(conn, server_side=True) as secure:
            srv.read_head(secure)  # type: ignore[arg-type]
            secure.sendall(OK)

    server = serve(tls)
    base = f"https://127.0.0.1:{server.port}"
    error = _fails(PooledTransport(base, (1, 1)), f"{base}/cgi-bin/user/get?{SECRET_QUERY}")
    assert error.reason == "TLS handshake failed" and not error.sent and not error.transient
    assert server.heads == []


def test_transport_https_call_to_a_trusted_server_is_answered_on_one_connection(
        serve, tmp_path, monkeypatch):
    """The direct path over TLS (as to WeCom's API host): the request head http.client
    writes, the answer read from the TLS socket, the connection kept for the next call."""
    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    def tls(conn: socket.socket, srv: RawServer) -> None:
        with context.wrap_socket(conn, server_side=True) as secure:
            _answer_all(secure, srv)  # type: ignore[arg-type]

    server = serve(tls)
    monkeypatch.setattr("wecom_oidc.wecom.transport.certifi.where", lambda: cert_file)
    base = f"https://127.0.0.1:{server.port}"
    transport = PooledTransport(base, (1, 1))
    path = "/cgi-bin/user/get?userid=u&access_token=t"
    answers = [transport.send("user/get", "GET", base + path, None, {"Accept": "x"})
               for _ in range(2)]
    transport.close()
    assert answers == [(200, b'{"errcode":0}')] * 2 and server.connections == 1
    sent: list[bytes] = []
    recorder = http.client.HTTPSConnection("127.0.0.1", server.port)
    recorder.send = sent.append  # type: ignore[method-assign]
    recorder.request("GET", path, None, {"Accept": "x"})
    assert server.heads == [sent[0], sent[0]]
