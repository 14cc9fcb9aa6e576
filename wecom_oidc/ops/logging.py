"""Log output: `text` for people, `json` (one object per line) for log collectors.

A JSON line has ts, level, logger, msg, request_id, pid, and one field per `key=value` in
the message (the codebase logs "login client=%s sub=%s"), so collectors can filter on
them. Whatever the format, secrets are blanked (wecom_oidc.redact): a last line of
defence, the code already never logs them.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
from typing import Any

from .. import redact

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_FIELD = re.compile(r"(?<![A-Za-z0-9_])([a-z][a-z0-9_]{0,30})=('[^']*'|\"[^\"]*\"|\S+)")
_RESERVED = {"ts", "level", "logger", "msg", "request_id", "pid", "exc"}
# LogRecord's own attributes: anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RedactingFormatter(logging.Formatter):
    """The text format, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact.text(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        msg = redact.text(record.getMessage())
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": msg,
            "request_id": _request_id(),
            "pid": record.process,
        }
        for key, value in _FIELD.findall(msg):
            if key == "rid" and not entry["request_id"]:
                entry["request_id"] = value
            elif key not in _RESERVED and key != "rid":
                entry.setdefault(key, _scalar(value.strip("'\"")))
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _RESERVED and not key.startswith("_"):
                entry.setdefault(key, value if isinstance(value, int | float | bool)
                                 else redact.text(str(value)))
        if record.exc_info:
            entry["exc"] = redact.text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def _scalar(value: str) -> Any:
    if value.isdigit() and len(value) < 16:
        return int(value)
    return value


def _request_id() -> str | None:
    """The current request's id (web.errors.request_id), outside a request None."""
    try:
        from flask import has_request_context

        if not has_request_context():
            return None
        from ..web.errors import request_id

        return request_id()
    except Exception:  # logging must never fail because of the web layer
        return None


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else RedactingFormatter(TEXT_FORMAT)


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
AUDIT_LOGGER = "wecom_oidc.audit"


def configure(fmt: str = "text", level: int | str = logging.INFO, audit_log: str = "") -> None:
    """Send the root logger to stderr in `fmt` ("text" or "json") at `level`, and the
    audit log (ops/audit.py) with it, or apart when `audit_log` is "stderr",
    "stdout" or a file path (appended to, reopened after a logrotate move)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, logging.INFO) if isinstance(level, str) else level)
    _configure_audit(fmt, audit_log)


def _configure_audit(fmt: str, target: str) -> None:
    audit = logging.getLogger(AUDIT_LOGGER)
    for old in list(audit.handlers):
        audit.removeHandler(old)
        old.close()
    audit.setLevel(logging.INFO)  # audit lines whatever the app's log level
    audit.propagate = not target
    if not target:
        return
    handler: logging.Handler
    if target in ("stderr", "stdout"):
        handler = logging.StreamHandler(getattr(sys, target))
    else:
        handler = logging.handlers.WatchedFileHandler(target, encoding="utf-8")
    handler.setFormatter(formatter(fmt))
    audit.addHandler(handler)
