"""Client authentication methods where Authlib's own need a guard."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic


def client_secret_basic(query_client: Any, request: Any) -> Any:
    """Authlib's client_secret_basic, except that Basic credentials which are not
    UTF-8 count as no credentials (invalid_client), the way Authlib already treats
    credentials that are not base64; Authlib lets the UnicodeDecodeError escape."""
    try:
        return authenticate_client_secret_basic(query_client, request)
    except UnicodeDecodeError:
        return None
