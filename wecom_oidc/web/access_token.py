"""The access token a resource request presents (RFC 6750), looked up once per request:
the rate limits (its client) and /userinfo (its claims) read the same record, so a JWT
is verified once and the store is asked once."""

from __future__ import annotations

from typing import Any

from flask import g, request

from ..oidc.provider import Provider

# Set by the /userinfo front (userinfo_front.RECORD); no header can set it.
FRONT_RECORD = "wecom_oidc.access_token_record"

_UNSET: Any = object()


def bearer_token() -> str:
    """RFC 6750: the Authorization header, or the form body of a POST."""
    # The request itself, not the proxy (each read through it costs a lookup), and the
    # header as werkzeug's request.headers reads it: straight from the environ.
    req = request._get_current_object()  # type: ignore[attr-defined]
    auth = req.environ.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer ":
        return str(auth[7:].strip())
    if req.method == "POST":
        return str(req.form.get("access_token", ""))
    return ""


def access_token_record(provider: Provider) -> dict[str, Any] | None:
    """The live record of this request's access token; None when there is none or it
    is not ours, expired or revoked."""
    ctx_g = g._get_current_object()
    record: dict[str, Any] | None = ctx_g.get("access_token_record", _UNSET)
    if record is _UNSET:
        # What the /userinfo front (userinfo_front.py) already found for this token.
        record = request.environ.get(FRONT_RECORD, _UNSET)
        if record is _UNSET:
            token = bearer_token()
            record = provider.access_token_record(token) if token else None
        ctx_g.access_token_record = record
    return record
