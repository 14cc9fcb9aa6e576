"""The access token a resource request presents (RFC 6750), looked up once per request:
the rate limits (its client) and /userinfo (its claims) read the same record, so a JWT
is verified once and the store is asked once."""

from __future__ import annotations

from typing import Any

from flask import g, request

from ..oidc.provider import Provider


def bearer_token() -> str:
    """RFC 6750: the Authorization header, or the form body of a POST."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if request.method == "POST":
        return request.form.get("access_token", "")
    return ""


def access_token_record(provider: Provider) -> dict[str, Any] | None:
    """The live record of this request's access token; None when there is none or it
    is not ours, expired or revoked."""
    if "access_token_record" not in g:
        token = bearer_token()
        g.access_token_record = provider.access_token_record(token) if token else None
    record: dict[str, Any] | None = g.access_token_record
    return record
