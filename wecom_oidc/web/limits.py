"""Size limits on what an unauthenticated caller can send: the whole body, and each
query or form value. Checked before any view runs, so nothing oversized is parsed
further, stored or echoed back in a redirect."""

from __future__ import annotations

from flask import Flask, request

from ..errors import RequestTooLarge

MAX_BODY = 64 * 1024
MAX_VALUE = 2048
# Values that are JWTs or our own tokens can be longer than a URL or a state; the
# ID token of a member with many groups runs to several kilobytes.
LONG_VALUES = {"id_token_hint": 16384, "token": 16384, "access_token": 16384,
               "refresh_token": 4096, "logout_token": 16384}


def check_values() -> None:
    """Refuse a query or form value over its limit (RequestTooLarge -> 400)."""
    sources = [request.args]
    if request.mimetype == "application/x-www-form-urlencoded":
        sources.append(request.form)
    for values in sources:
        for name, value in values.items(multi=True):
            limit = LONG_VALUES.get(name, MAX_VALUE)
            if len(value) > limit or len(name) > MAX_VALUE:
                raise RequestTooLarge(name[:64], limit)


def init_app(app: Flask) -> None:
    """Werkzeug refuses bodies over MAX_BODY with 413 before parsing them."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY
    app.before_request(check_values)
