"""Public JSON documents that cannot change while the process runs (discovery, JWKS):
serialised once at startup and served as bytes with a strong ETag, so a request costs
no JSON encoding and a client holding the current copy gets 304 Not Modified."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Response, request


def static_json_view(document: Any, *, max_age: int = 300) -> Callable[[], Response]:
    """A Flask view answering `document`, cacheable and readable by browser apps."""
    body = json.dumps(document, separators=(",", ":")).encode()
    etag = hashlib.sha256(body).hexdigest()[:32]
    headers = {"Cache-Control": f"public, max-age={max_age}",
               "Access-Control-Allow-Origin": "*", "ETag": f'"{etag}"'}

    def view() -> Response:
        if request.if_none_match.contains(etag):
            return Response(status=304, headers=headers)
        return Response(body, mimetype="application/json", headers=headers)

    return view
