"""The HTTP exchange under the WeCom client: send one request, get (status, body) back,
or a `Transport` error that says whether the request may have reached WeCom.

`PooledTransport` is what the bridge runs on: keep-alive connections of the standard
library's http.client to the API host, and urllib3 (the engine under requests) through
a proxy. requests' session layer (settings merge, cookies, hooks, response wrapping)
gives us nothing: no cookies, no auth, no redirects, the proxy settings read once. The
CA bundle is requests' own (certifi) and the TLS settings urllib3's, so what verifies is
unchanged.

`SessionTransport` runs on a given requests.Session: for requests-mock in the unit
tests of the client's retry policy, or a deployment that must bring its own session.

Neither ever puts the URL (it carries access_token, code, corpsecret) in an error.
"""

from __future__ import annotations

import functools
import http.client
import re
import select
import ssl
from collections import deque
from typing import Any, Protocol
from urllib.parse import urlsplit

import certifi
import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.ssl_ import create_urllib3_context

from .errors import Transport

Timeout = float | tuple[float, float]


class HttpTransport(Protocol):
    def send(self, api: str, method: str, url: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, bytes]:
        """(HTTP status, body bytes), or raise Transport (`api` names it)."""

    def close(self) -> None:
        """Drop pooled connections."""


class PooledTransport:
    """Keep-alive connections per process (up to 64 kept idle, more made and dropped
    past that rather than waiting); proxies from the environment as requests reads
    them (HTTPS_PROXY, NO_PROXY), once; retries are the client's, never the library's.

    Without a proxy, a call to the base URL's host goes over http.client straight:
    urllib3's pool (URL parsing, header merging, its response object) cost nearly half
    the instructions of a call (707k -> 376k per call, callgrind). Through a proxy
    (CONNECT tunnel or absolute-form requests) and to any other host, urllib3 sends it."""

    def __init__(self, base_url: str, timeout: Timeout, maxsize: int = 64):
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self._timeout = urllib3.Timeout(connect=connect, read=read)
        proxies = requests.utils.get_environ_proxies(base_url)
        proxy = proxies.get(base_url.split(":", 1)[0].lower()) or proxies.get("all")
        options: dict[str, Any] = {"maxsize": maxsize, "retries": False,
                                   "ca_certs": certifi.where()}
        self._pool = (urllib3.ProxyManager(proxy, **options) if proxy
                      else urllib3.PoolManager(**options))
        parts = urllib3.util.parse_url(base_url)
        # scheme://host[:port] exactly as the client's URLs begin.
        self._origin = f"{parts.scheme}://{parts.netloc}" if not proxy else ""
        self._direct = _Connections(base_url, connect, read, maxsize) if self._origin else None

    def send(self, api: str, method: str, url: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, bytes]:
        direct, origin = self._direct, self._origin
        if direct is not None and url.startswith(origin + "/"):
            return direct.send(api, method, url[len(origin):], body, headers)
        failure = None
        try:
            response = self._pool.request(method, url, body=body, headers=headers,
                                          timeout=self._timeout, retries=False,
                                          redirect=False, preload_content=True)
        except HTTPError as exc:
            failure = _pool_error(api, exc)
        # Raised outside the except block: the library's exception text holds the URL
        # with access_token/code, so it must not even ride along as __context__.
        if failure is not None:
            raise failure
        return response.status, response.data

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
        self._pool.clear()


class _Connections:
    """http.client connections to one host, each used by one thread at a time: taken
    from the idle stack, put back after a complete answer that keeps the connection."""

    def __init__(self, base_url: str, connect: float, read: float, maxsize: int):
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._connect, self._read, self._maxsize = connect, read, maxsize
        self._idle: deque[http.client.HTTPConnection] = deque()
        # urllib3's TLS defaults (TLS 1.2+, hostname checked) with certifi's CA bundle.
        self._tls: ssl.SSLContext | None = None
        if self._https:
            self._tls = create_urllib3_context()
            self._tls.load_verify_locations(cafile=certifi.where())

    def send(self, api: str, method: str, path: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, bytes]:
        if _NOT_IN_PATH.search(path):
            raise http.client.InvalidURL("URL can't contain control characters")
        # http.client's request line and headers for this path: the bytes conn.request()
        # writes, without building and checking them for every call.
        head = _request_head(self._host, self._port, self._https, method,
                             tuple(headers.items()), None if body is None else len(body))
        request = head[0] + path.encode("ascii") + head[1]
        conn, failure, response = self._idle_connection(), None, None
        if conn is None:
            conn, failure = self._open(api)
        if failure is None:
            try:
                conn.send(request)
                if body:
                    conn.send(body)
                response = conn.response_class(conn.sock, method=method)
                response.begin()
                status, data = response.status, response.read()
            except TimeoutError:
                failure = Transport(api, "read timeout")
            except (OSError, http.client.HTTPException):
                failure = Transport(api, "connection dropped")
        if failure is not None:  # outside the except block, as in PooledTransport
            if response is not None:  # its reader holds the socket open (getresponse's close)
                response.close()
            conn.close()
            raise failure
        assert response is not None
        if response.will_close or len(self._idle) >= self._maxsize:
            conn.close()
        else:
            self._idle.append(conn)
        return status, data

    def _idle_connection(self) -> http.client.HTTPConnection | None:
        """The most recently used idle connection the server has not closed: an idle
        keep-alive socket that is readable has been hung up on (or sent junk)."""
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                return None
            if conn.sock is not None and not _readable(conn.sock):
                return conn
            conn.close()

    def _open(self, api: str) -> tuple[http.client.HTTPConnection, Transport | None]:
        """A new connection, connected, or why not (never sent either way)."""
        conn: http.client.HTTPConnection = (
            http.client.HTTPSConnection(self._host, self._port, timeout=self._connect,
                                        context=self._tls) if self._https else
            http.client.HTTPConnection(self._host, self._port, timeout=self._connect))
        conn.response_class = _Response
        failure = None
        try:
            conn.connect()
            conn.sock.settimeout(self._read)
        except ssl.SSLError:
            failure = Transport(api, "TLS handshake failed", sent=False, transient=False,
                                hint=_TLS_HINT)
        except TimeoutError:
            failure = Transport(api, "connect timeout", sent=False)
        except OSError:
            failure = Transport(api, "connection failed", sent=False)
        return conn, failure

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class _Response(http.client.HTTPResponse):
    """http.client's response with the header block read into a dict: the standard
    one parses it with the email package, about 175k of the 380k instructions a call
    cost (callgrind).
    The rest (status line, chunked and sized bodies, keep-alive) is http.client's."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:  # past any 1xx interim answer
            version, status, reason = self._read_status()
            headers = _read_headers(self.fp)
            if not 100 <= status < 200:
                break
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = headers
        self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        length = headers.get("content-length", "")
        self.length = int(length) if length.isdigit() and not self.chunked else None
        if status in (204, 304) or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


# What http.client refuses in a request target (its _contains_disallowed_url_pchar_re).
_NOT_IN_PATH = re.compile("[\x00-\x20\x7f]")
_PATH = "/.path."


@functools.lru_cache(maxsize=64)
def _request_head(host: str, port: int, https: bool, method: str,
                  headers: tuple[tuple[str, str], ...],
                  body_length: int | None) -> tuple[bytes, bytes]:
    """What http.client's request() sends before the body, split around the path
    (request line, Host, Accept-Encoding, Content-Length, `headers`): written by
    http.client itself once per kind of request, to a connection that only records it
    (its putrequest and putheader cost about 80k instructions a call)."""
    sent: list[bytes] = []
    recorder = http.client.HTTPConnection(host, port)
    recorder.default_port = 443 if https else 80
    recorder.send = sent.append  # type: ignore[method-assign,assignment]
    recorder.request(method, _PATH, None if body_length is None else b"\0" * body_length,
                     dict(headers))
    before, _, after = sent[0].partition(_PATH.encode())
    return before, after


def _read_headers(fp: Any) -> dict[str, str]:
    """Header fields by lower-case name (the first of repeated ones), with
    http.client's limits on line length and count."""
    headers: dict[str, str] = {}
    for _ in range(101):
        line = fp.readline(65537)
        if len(line) > 65536:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, _, value = line.decode("iso-8859-1").partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    raise http.client.HTTPException("got more than 100 headers")


def _readable(sock: Any) -> bool:
    poller = select.poll()  # not select(): sockets past fd 1024 in a busy worker
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


_TLS_HINT = (
    "The certificate of api_base_url, or of a proxy that intercepts TLS on the way, is "
    "not trusted: the bridge verifies against certifi's CA bundle. Check api_base_url's "
    "host name, and that outbound HTTPS is not intercepted.")


def _pool_error(api: str, exc: HTTPError) -> Transport:
    """Classify a urllib3 failure by its type alone (its text contains the URL)."""
    if isinstance(exc, MaxRetryError) and isinstance(exc.reason, HTTPError):
        exc = exc.reason  # a proxy failure arrives wrapped
    if isinstance(exc, NewConnectionError):
        return Transport(api, "connection failed", sent=False)
    if isinstance(exc, ConnectTimeoutError):
        return Transport(api, "connect timeout", sent=False)
    if isinstance(exc, ReadTimeoutError):
        return Transport(api, "read timeout")
    if isinstance(exc, SSLError):
        return Transport(api, "TLS handshake failed", sent=False, transient=False,
                         hint=_TLS_HINT)
    if isinstance(exc, ProtocolError):
        return Transport(api, "connection dropped")
    return Transport(api, f"request failed ({type(exc).__name__})", transient=False)


class SessionTransport:
    """The same exchange on a requests.Session (requests-mock in tests)."""

    def __init__(self, session: requests.Session, timeout: Timeout):
        self._session, self._timeout = session, timeout

    def send(self, api: str, method: str, url: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, bytes]:
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.body = method, url, body
        prepared.headers = CaseInsensitiveDict(headers)
        failure = None
        try:
            response = self._session.send(prepared, timeout=self._timeout,
                                          allow_redirects=False,
                                          proxies=self._session.proxies)
        except requests.RequestException as exc:
            failure = _session_error(api, exc)
        if failure is not None:  # outside the except block, as above
            raise failure
        return response.status_code, response.content

    def close(self) -> None:
        self._session.close()


def _session_error(api: str, exc: requests.RequestException) -> Transport:
    """Classify a requests failure without using its text (it contains the URL)."""
    if isinstance(exc, requests.ConnectTimeout):
        return Transport(api, "connect timeout", sent=False)
    if isinstance(exc, requests.ReadTimeout):
        return Transport(api, "read timeout")
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError) and isinstance(
                reason.reason, NewConnectionError | ConnectTimeoutError):
            return Transport(api, "connection failed", sent=False)
        return Transport(api, "connection dropped")
    return Transport(api, f"request failed ({type(exc).__name__})", transient=False)
