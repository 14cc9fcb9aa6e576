"""The audit log: one line per security event (login, denial, token issue, refresh,
revocation, logout) on the `wecom_oidc.audit` logger, which `[server] audit_log` can
send to a stream or file of its own (ops/logging.configure).

Device approvals on the verification page are `event=device outcome=approved|denied|
denied_by_policy` (the tokens that follow are `event=token grant_type=...device_code`).

A line reads `audit event=login outcome=success sub=zhangsan client=webapp
ip=203.0.113.7 rid=...`: the JSON format turns each key=value into a field. Values
are reduced to a safe alphabet, so nothing a caller sends can forge a line or a
field. Never pass a secret: callers name people, clients and reasons, never codes,
tokens or cookies (the formatter's redaction is the last line of defence).

Imports only Flask and the standard library, so every layer may call it.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from flask import g, has_request_context, request

log = logging.getLogger("wecom_oidc.audit")
log.setLevel(logging.INFO)  # audit lines are kept whatever [server] log_level says

EVENTS = ("login", "denied", "token", "refresh", "revoke", "logout", "device")
# Fields an event passes on to later events of the same request (a denial after
# the login names the person and the app).
_CARRIED = ("sub", "client")
_UNSAFE = re.compile(r"[^A-Za-z0-9._@:/+-]")
_MAX = 128


def audit(event: str, **fields: Any) -> None:
    """Log one audit line for `event` with `fields` (sub, client, outcome, reason...),
    plus the client IP (X-Forwarded-For only through [server] proxy_hops) and the
    request id. Fields that are None or "" are left out."""
    in_request = has_request_context()
    context: dict[str, Any] = {}
    if in_request:
        context = _globals().setdefault("audit_context", {})
        context.update({k: fields[k] for k in _CARRIED if fields.get(k)})
    entry = {**context, **fields}
    if in_request:
        remote_addr = request._get_current_object().remote_addr  # type: ignore[attr-defined]
        _write(event, entry, (remote_addr or "-", _request_id()))
    else:
        _write(event, entry, None)


def audit_request(event: str, ip: str, rid: str, **fields: Any) -> None:
    """audit() for a request answered in front of Flask (web/token_front.py): the
    same line, its address and request id given."""
    _write(event, fields, (ip, rid))


def _write(event: str, entry: dict[str, Any], where: tuple[str, str] | None) -> None:
    parts = [f"event={_safe(event)}"]
    parts += [f"{k}={_safe(v)}" for k, v in entry.items() if v not in (None, "")]
    if where is not None:
        parts.append(f"ip={_safe(where[0])}")
        parts.append(f"rid={where[1]}")
    log.info("audit %s", " ".join(parts))


def audit_context(**fields: Any) -> None:
    """Fields every later audit line of this request carries (e.g. the client)."""
    if has_request_context():
        _globals().setdefault("audit_context", {}).update(
            {k: v for k, v in fields.items() if v not in (None, "")})


def _safe(value: Any) -> str:
    text = str(value)
    return _UNSAFE.sub("?", text[:_MAX]) + ("..." if len(text) > _MAX else "")


def _request_id() -> str:
    """The request's id (the one web.errors.request_id gives and X-Request-Id echoes);
    set here the same way when nothing asked for it yet."""
    ctx_g = _globals()
    rid = ctx_g.get("request_id")
    if rid is None:
        rid = ctx_g.request_id = secrets.token_hex(6)
    return str(rid)


def _globals() -> Any:
    # flask.g itself, not the proxy: each read through the proxy costs several times this.
    return g._get_current_object()
