"""WeCom's wire conventions (wecom-api.md §0): HTTP 200, errcode/errmsg, errmsg with a hint."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, jsonify

# errmsg texts as WeCom words them (errtable, community captures).
ERRMSG: dict[int, str] = {
    -1: "system busy",
    40001: "invalid credential",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40029: "invalid code",
    40068: "invalid tagid",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41008: "missing code",
    41009: "missing userid",
    42001: "access_token expired",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    50001: "redirect_url not authorised",
    60003: "department not found",
    60011: "no privilege to access/modify contact/party/agent",
    60020: "not allow to access from your ip",
    60111: "userid not found",
    84014: "user ticket expired",
    84015: "invalid user ticket",
    84090: "missing user ticket",
    92000: "member not in visible range of the app",
}


def errmsg(errcode: int, ip: str) -> str:
    """`<text>, hint: [<reqid>], from ip: <ip>, more info at ...?e=<errcode>` (§0)."""
    text = ERRMSG.get(errcode, "emulated error")
    hint = f"{int.from_bytes(secrets.token_bytes(4), 'big'):010d}-{secrets.token_hex(8)}"
    return (f"{text}, hint: [{hint}], from ip: {ip}, "
            f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}")


def error_body(errcode: int, ip: str, **keep: Any) -> dict[str, Any]:
    """An error body; `keep` holds list fields WeCom leaves in error answers (§0)."""
    return {"errcode": errcode, "errmsg": errmsg(errcode, ip), **keep}


def ok(**fields: Any) -> Response:
    return jsonify({"errcode": 0, "errmsg": "ok", **fields})


def fail(errcode: int, ip: str, **keep: Any) -> Response:
    # Always HTTP 200: callers must branch on errcode (§0). The header copies one capture.
    response = jsonify(error_body(errcode, ip, **keep))
    response.headers["Error-Code"] = str(errcode)
    return response
