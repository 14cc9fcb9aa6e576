"""Fault injection for tests and benchmarks: the next N calls of an API fail, added latency.

A fault is an int errcode (answered as WeCom would: HTTP 200 + errcode), "http_<status>"
(a bare HTTP error from the front end, e.g. http_500, http_502), or "drop" (the connection
is closed with no response at all).
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

ANY = "*"
DROP_KEY = "wecom_emulator.drop"
_HTTP = re.compile(r"^http_([1-5]\d\d)$")


def check_fault(fault: Any) -> str | None:
    """A problem with a fault spec, or None when it is valid."""
    if isinstance(fault, int) and not isinstance(fault, bool):
        return None
    if fault == "drop" or (isinstance(fault, str) and _HTTP.match(fault)):
        return None
    return "errcode must be an int, 'http_<status>' or 'drop'"


def http_status(fault: str) -> int | None:
    m = _HTTP.match(fault)
    return int(m.group(1)) if m else None


class FaultPlan:
    """Queued faults and latency per API name ("gettoken", "user/get", ... or "*")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._faults: list[list[Any]] = []  # [api, fault, remaining], oldest first
            self._latency: dict[str, int] = {}

    def add(self, api: str, fault: Any, count: int) -> None:
        problem = check_fault(fault)
        if problem:
            raise ValueError(problem)
        with self._lock:
            self._faults.append([api, fault, count])

    def set_latency(self, api: str, ms: int) -> None:
        with self._lock:
            if ms > 0:
                self._latency[api] = ms
            else:
                self._latency.pop(api, None)

    def latency_ms(self, api: str) -> int:
        with self._lock:
            return self._latency.get(api, 0) + self._latency.get(ANY, 0)

    def take(self, api: str) -> Any | None:
        """The fault for this call, counting it down; None = answer normally."""
        with self._lock:
            for entry in self._faults:
                if entry[0] in (api, ANY) and entry[2] > 0:
                    entry[2] -= 1
                    self._faults = [e for e in self._faults if e[2] > 0]
                    return entry[1]
        return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            faults = [{"api": a, "errcode": f, "remaining": n} for a, f, n in self._faults]
            return {"faults": faults, "latency": dict(self._latency)}


class DropMiddleware:
    """Closes the socket without an answer when a view marked the request with DROP_KEY.

    Flask turns an exception in a view into a 500, so the drop happens here, outside
    Flask: shut the socket, then raise ConnectionError, which werkzeug's server treats
    as a dropped connection and answers nothing.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        body = self.app(environ, start_response)
        if not environ.get(DROP_KEY):
            return body
        close = getattr(body, "close", None)
        if close:
            close()
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionError("wecom emulator: connection dropped on purpose")
