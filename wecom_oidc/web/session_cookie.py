"""The bridge session cookie: HttpOnly, SameSite=Lax, Secure whenever the issuer is
https, scoped to the issuer's path."""

from __future__ import annotations

import functools
import re
import time
from urllib.parse import quote

from flask import request
from werkzeug.wrappers import Response

from ..oidc.provider import Provider


def session_cookie(provider: Provider) -> str | None:
    return request.cookies.get(provider.settings.session.cookie_name)


def set_session_cookie(provider: Provider, resp: Response, value: str) -> None:
    s = provider.settings
    set_cookie(resp, s.session.cookie_name, value, max_age=s.session.lifetime,
               path=s.issuer_path or "/", secure=s.issuer.startswith("https://"))


def clear_session_cookie(provider: Provider, resp: Response) -> None:
    s = provider.settings
    resp.delete_cookie(s.session.cookie_name, path=s.issuer_path or "/",
                       secure=s.issuer.startswith("https://"), httponly=True, samesite="Lax")


# What werkzeug sends unquoted (its _cookie_no_quote_re): our values (random keys,
# sid.secret) always are.
_PLAIN_VALUE = re.compile(r"[\w!#$%&'()*+\-./:<=>?@\[\]^`{|}~]*", re.ASCII)
_PATH_SAFE = "%!$&'()*+,/:=@"  # what werkzeug leaves unquoted in Path
_MAX_SIZE = 4093  # werkzeug's limit for a Set-Cookie value, past which it warns
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")


def set_cookie(resp: Response, name: str, value: str, *, max_age: int, path: str,
               secure: bool) -> None:
    """resp.set_cookie(name, value, max_age=max_age, path=path, secure=secure,
    httponly=True, samesite="Lax"): the same header, with what werkzeug works out
    for each cookie (quoting the path, the attributes, the date) done once per
    second or once per process (about 75k instructions a cookie before)."""
    header = f"{name}={value}; Expires={_expires(int(time.time() + max_age))}" + \
        _attributes(max_age, path, secure)
    if not _PLAIN_VALUE.fullmatch(value) or not name.isascii() or len(header) > _MAX_SIZE:
        resp.set_cookie(name, value, max_age=max_age, path=path, secure=secure,
                        httponly=True, samesite="Lax")
        return
    resp.headers.add("Set-Cookie", header)


@functools.lru_cache(maxsize=4)
def _expires(when: int) -> str:
    """werkzeug's http_date(when): RFC 7231's IMF-fixdate, in English whatever the
    locale."""
    t = time.gmtime(when)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


@functools.lru_cache(maxsize=16)
def _attributes(max_age: int, path: str, secure: bool) -> str:
    return (f"; Max-Age={max_age}" + ("; Secure" if secure else "") + "; HttpOnly"
            + f"; Path={quote(path, safe=_PATH_SAFE)}; SameSite=Lax")
