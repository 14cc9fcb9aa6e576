"""Keep tokens out of the log even at DEBUG: Authlib's grants log the whole token
response ("Issue token %r to %r"), access and refresh token included."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

SECRET_FIELDS = frozenset({"access_token", "refresh_token", "id_token", "code",
                           "client_secret", "code_verifier", "device_code"})
# The Authlib loggers that pass token dicts as log arguments.
AUTHLIB_LOGGERS = (
    "authlib.oauth2.rfc6749.grants.authorization_code",
    "authlib.oauth2.rfc6749.grants.refresh_token",
    "authlib.oauth2.rfc8628.device_code",
)


class RedactTokens(logging.Filter):
    """Replaces secret fields of mapping arguments with '***' before formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = _redact(record.args)
        return True


def _redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: "***" if k in SECRET_FIELDS else v for k, v in value.items()}
    return value


def install() -> None:
    """Attach the filter once to each Authlib logger that logs tokens."""
    for name in AUTHLIB_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
