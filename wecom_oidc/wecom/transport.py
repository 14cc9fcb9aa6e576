"""The HTTP exchange under the WeCom client: send one request, get (status, body) back,
or a `Transport` error that says whether the request may have reached WeCom.

`PooledTransport` is what the bridge runs on: urllib3's keep-alive pool (the engine
under requests) called directly. requests' session layer (settings merge, cookies,
hooks, response wrapping) was a third of the CPU a WeCom call cost and gives us
nothing: no cookies, no auth, no redirects, the proxy settings read once. The CA
bundle is requests' own (certifi), so what verifies is unchanged.

`SessionTransport` runs on a given requests.Session: for requests-mock in the unit
tests of the client's retry policy, or a deployment that must bring its own session.

Neither ever puts the URL (it carries access_token, code, corpsecret) in an error.
"""

from __future__ import annotations

from typing import Any, Protocol

import certifi
import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from .errors import Transport

Timeout = float | tuple[float, float]


class HttpTransport(Protocol):
    def send(self, api: str, method: str, url: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, bytes]:
        """(HTTP status, body bytes), or raise Transport (`api` names it)."""

    def close(self) -> None:
        """Drop pooled connections."""


class PooledTransport:
    """One keep-alive pool per process (64 connections per host, more made and
    dropped past that rather than waiting); proxies from the environment as requests
    reads them (HTTPS_PROXY, NO_PROXY), once; retries are the client's, not urllib3's.

    Without a proxy, a call to the base URL's host goes straight to that host's
    connection pool: the pool manager's per-call URL parsing and pool lookup were a
    fifth of the instructions of a call. Through a proxy (which rewrites requests per
    call) and to any other host, the manager sends it."""

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
        self._host: HTTPConnectionPool | None = (
            self._pool.connection_from_url(base_url) if self._origin else None)

    def send(self, api: str, method: str, url: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, bytes]:
        failure = None
        host, origin = self._host, self._origin
        try:
            if host is not None and url.startswith(origin + "/"):
                response = host.urlopen(method, url[len(origin):], body=body,
                                        headers=headers, timeout=self._timeout,
                                        retries=False, redirect=False,
                                        assert_same_host=False, preload_content=True)
            else:
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
        self._host = None  # closed with the manager's pools; the manager reopens one
        self._pool.clear()


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
        return Transport(api, "TLS handshake failed", sent=False, transient=False, hint=(
            "The certificate of api_base_url, or of a proxy that intercepts TLS on the "
            "way, is not trusted: the bridge verifies against certifi's CA bundle. Check "
            "api_base_url's host name, and that outbound HTTPS is not intercepted."))
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
