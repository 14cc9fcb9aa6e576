"""The size and shape of every query and form parameter, checked in one pass before
any view or Authlib reads it: nothing oversized is stored or echoed back in a
redirect, and malformed input is a clear invalid_request, never a crash.

Two rules from RFC 6749: a parameter sent without a value is treated as omitted
(§3.1, §3.2), and the parameters whose syntax Appendix A (and OIDC Core §3.1.2.1)
defines must have it (`state` is left free: apps put anything there and it
only travels back URL-encoded). Authlib copies some of them (response_type, redirect_uri)
into error descriptions and refuses to build one from a character outside
RFC 6749's error charset, which without this check ends in a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Request, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.sansio.http import parse_cookie
from werkzeug.utils import cached_property

from ..errors import MalformedParameter, RequestTooLarge

# Werkzeug refuses bodies over this with 413 before parsing them.
MAX_BODY = 64 * 1024
MAX_VALUE = 2048
# Values that are JWTs or our own tokens can be longer than a URL or a state; the
# ID token of a member with many groups runs to several kilobytes.
LONG_VALUES = {"id_token_hint": 16384, "token": 16384, "access_token": 16384,
               "refresh_token": 4096, "logout_token": 16384}

# C0 and C1 controls and DEL: no OAuth or OIDC parameter may hold one, and in a
# log line or a redirect they only serve an attacker.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_VSCHAR = r"[\x20-\x7e]*"
_URI = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"  # RFC 3986 characters only
SYNTAX: dict[str, re.Pattern[str]] = {name: re.compile(pattern) for name, pattern in {
    "response_type": r"[A-Za-z0-9_ ]+",                   # A.3
    "redirect_uri": _URI,                                 # A.6
    "post_logout_redirect_uri": _URI,
    "grant_type": r"[\x21-\x7e]+",                       # A.10 (a name or a URI)
    "scope": r"[\x20\x21\x23-\x5b\x5d-\x7e]+",              # A.4
    "client_id": _VSCHAR, "client_secret": _VSCHAR,       # A.1, A.2
    "code": _VSCHAR,                                      # A.11
    "access_token": _VSCHAR, "refresh_token": _VSCHAR,    # A.12, A.17
    "token": _VSCHAR, "token_type_hint": _VSCHAR,         # RFC 7009 §2.1
    "code_verifier": _VSCHAR, "code_challenge": _VSCHAR,  # RFC 7636 §4.1, §4.2
    "max_age": r"[0-9]{1,10}",  # OIDC Core: seconds; str.isdigit() would take "²"
}.items()}


class OAuthParameters(ImmutableMultiDict[str, Any]):
    """Query and form values without the empty ones (RFC 6749 §3.1)."""

    def __init__(self, mapping: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None):
        if mapping is not None and not isinstance(mapping, Mapping):
            mapping = [(k, v) for k, v in mapping if v != ""]
        super().__init__(mapping)


class BridgeRequest(Request):
    parameter_storage_class = OAuthParameters

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """werkzeug's cookies, from the Cookie header as the environ holds it: what
        headers.getlist("Cookie") finds by translating the name of every header in
        the environ (~30k instructions a request, with or without cookies)."""
        return parse_cookie(self.environ.get("HTTP_COOKIE", ""),  # type: ignore[return-value]
                            cls=self.dict_storage_class)


def check_parameters() -> None:
    """Refuse a parameter over its length (RequestTooLarge) or whose name or value
    breaks the rules above (MalformedParameter); both are 400 pages or JSON."""
    # form: urlencoded and multipart. Without a Content-Type werkzeug parses no form
    # (it is empty), so a GET does not pay for loading one here; without a query
    # string the arguments are empty too (most API calls: userinfo, health checks).
    # The request itself, not the proxy: each read through the proxy costs as much
    # as the check of a short parameter.
    req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    sources = (req.args,) if environ.get("QUERY_STRING") else ()
    if environ.get("CONTENT_TYPE"):
        sources += (req.form,)
    for values in sources:
        check_values(values.items(multi=True))


def check_values(items: Iterable[tuple[str, Any]]) -> None:
    """check_parameters for (name, value) pairs (the token front's form)."""
    for name, value in items:
        if not isinstance(value, str):
            continue
        limit = LONG_VALUES.get(name, MAX_VALUE)
        if len(value) > limit or len(name) > MAX_VALUE:
            raise RequestTooLarge(name[:64], limit)
        pattern = SYNTAX.get(name)
        # Every SYNTAX pattern is printable ASCII only, and its names are ours: a
        # value it matches holds no control, so it is the whole check there.
        if (not pattern.fullmatch(value) if pattern is not None else
                _CONTROL.search(name) or _CONTROL.search(value)):
            raise MalformedParameter(name[:64])


def init_app(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY
    app.request_class = BridgeRequest
    app.before_request(check_parameters)
