"""Public JSON documents that cannot change while the process runs (discovery, JWKS):
serialised once at startup and answered in front of Flask, as bytes with a strong ETag
and every header the bridge's hooks would have set. Apps and their libraries fetch them
on every start and many on every login; through Flask each cost a request context, the
URL map and every hook for a constant answer. A client holding the current copy gets
304 Not Modified."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from .headers import EVERY_RESPONSE, NOT_A_PAGE

# What web/headers.py's hook gives a JSON answer that carries no credential.
_SECURE = [*EVERY_RESPONSE, NOT_A_PAGE]

_PREFLIGHT = [("Allow", "GET, HEAD, OPTIONS"), ("Access-Control-Allow-Methods", "GET, HEAD"),
              ("Content-Length", "0")]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class StaticJson:
    """WSGI middleware answering GET, HEAD and OPTIONS (a CORS preflight) of
    `documents` ({path: document}); everything else goes to `app`."""

    def __init__(self, app: WsgiApp, documents: dict[str, Any], *, max_age: int = 300):
        self.app = app
        self._answers = {path: _prepare(doc, max_age) for path, doc in documents.items()}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        answer = self._answers.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD")
        if answer is None or method not in ("GET", "HEAD", "OPTIONS"):
            return self.app(environ, start_response)
        body, etag, headers = answer
        # Request ids as the ops hook gives them (a proxy's id is not trusted here).
        headers = [*headers, ("X-Request-Id", secrets.token_hex(6))]
        if method == "OPTIONS":
            start_response("200 OK", [*headers, *_PREFLIGHT])
            return []
        held = environ.get("HTTP_IF_NONE_MATCH", "")
        if etag in held or held.strip() == "*":  # RFC 9110 §13.1.2: weak comparison
            start_response("304 Not Modified", headers)
            return []
        start_response("200 OK", [*headers, ("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [] if method == "HEAD" else [body]


def _prepare(document: Any, max_age: int) -> tuple[bytes, str, list[tuple[str, str]]]:
    body = json.dumps(document, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = [("Cache-Control", f"public, max-age={max_age}"),
               ("Access-Control-Allow-Origin", "*"), ("ETag", etag), *_SECURE]
    return body, etag, headers
