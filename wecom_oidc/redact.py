"""The one place that knows what a secret looks like in text, so none reaches a log,
a repr or an error message: codes, tokens, tickets, client and corp secrets, passwords
in store URLs, bearer tokens.

Our own code never logs a secret; this is the last line of defence for what libraries
log (Authlib's token responses, urllib3's request lines with WeCom's query string) and
for text we do not control (exception messages, WeCom's errmsg). Stdlib only: every
layer may import it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# Names whose values are secret, as query/form fields, JSON keys or log key=value pairs.
SECRET_KEYS = frozenset({
    "code", "access_token", "refresh_token", "id_token", "user_ticket", "ticket",
    "corpsecret", "client_secret", "secret", "password", "code_verifier", "token",
    "device_code", "user_code",
})
_KEYS = "|".join(sorted(SECRET_KEYS, key=len, reverse=True))
# key=value, "key": "value" or 'key': 'value'; "errcode=" is not "code=".
_KEY_VALUE = re.compile(
    rf"(?<![A-Za-z0-9_])({_KEYS})(=|[\"']:\s*[\"'])[^&\s\"',;]+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# scheme://user:password@host, as in a Redis URL inside an exception message.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@")
# In ASCII text (where IGNORECASE is plain ASCII case), _KEY_VALUE can match only where
# _KEY_MARK matches the lower-cased text, which holds one of _KEY_PARTS there, and
# _BEARER only where it holds "bearer". Looking for those first spares most log lines
# the regexes (~150k instructions a line: every position tried for every key, ignoring
# case) for a few substring searches.
_KEY_PARTS: tuple[str, ...] = ("code", "token", "ticket", "secret", "password")
if not all(any(part in key for part in _KEY_PARTS) for key in SECRET_KEYS):
    _KEY_PARTS = ("",)  # a secret name added without its part: always the regexes
_KEY_MARK = re.compile(rf"(?:{_KEYS})[=\"']")

# Third-party loggers that log secrets at DEBUG: Authlib's grants log the whole token
# response ("Issue token %r to %r"); urllib3 logs each request line, and WeCom's API
# takes access_token, corpsecret and code in the query string.
LIBRARY_LOGGERS = (
    "authlib.oauth2.rfc6749.grants.authorization_code",
    "authlib.oauth2.rfc6749.grants.refresh_token",
    "authlib.oauth2.rfc8628.device_code",
    "urllib3.connectionpool",
)


def text(value: str) -> str:
    """`value` with the values of secret-named keys, bearer tokens and URL passwords
    blanked."""
    if not value.isascii():  # other letters match ours ignoring case (K, ſ, ı)
        value = _KEY_VALUE.sub(rf"\1\2{MASK}", value)
        return _URL_PASSWORD.sub(rf"\1{MASK}@", _BEARER.sub(rf"\1{MASK}", value))
    # A blanked value ("***") cannot make a "bearer" or a "://" that was not there.
    lower = value.lower()
    for part in _KEY_PARTS:
        if part in lower:
            if _KEY_MARK.search(lower):
                value = _KEY_VALUE.sub(rf"\1\2{MASK}", value)
            break
    if "bearer" in lower:
        value = _BEARER.sub(rf"\1{MASK}", value)
    if "://" in value:
        value = _URL_PASSWORD.sub(rf"\1{MASK}@", value)
    return value


def mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `value` with the values of secret-named keys blanked."""
    return {k: MASK if k in SECRET_KEYS else v for k, v in value.items()}


def values(value: str, secrets: Iterable[str]) -> str:
    """`value` with each of the known `secrets` blanked wherever it occurs (for text that
    may echo what we sent, such as WeCom's errmsg)."""
    for secret in secrets:
        if secret:
            value = value.replace(secret, MASK)
    return value


def url(value: str) -> str:
    """A URL (e.g. a Redis store URL) with its password blanked, the user name kept."""
    try:
        parts = urlsplit(value)
    except ValueError:  # malformed (e.g. a bad IPv6 literal): drop the whole userinfo
        scheme, sep, rest = value.partition("://")
        return f"{scheme}{sep}{MASK}@{rest.rpartition('@')[2]}" if "@" in rest else value
    if parts.password is None:
        return value
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hosts}"))


class RedactFilter(logging.Filter):
    """Blanks secrets in a record before any handler sees it: mapping arguments field by
    field, then the formatted message as text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            record.args = mapping(record.args)
        elif record.args:
            record.args = tuple(mapping(a) if isinstance(a, Mapping) else a
                                for a in record.args)
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: logging would print them raw to stderr
            message = str(record.msg)
        record.msg, record.args = text(message), None
        return True


def install() -> None:
    """Attach the filter once to each library logger that logs secrets."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in logger.filters):
            logger.addFilter(RedactFilter())
