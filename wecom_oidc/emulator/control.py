"""The control API under /_emulator (JSON), for tests and benchmarks. Not part of WeCom.

POST /_emulator/faults        {"api": "auth/getuserinfo" | "*", "errcode": 45009 | "http_500"
                               | "drop", "count": 1}       the next `count` calls fail
GET  /_emulator/faults        queued faults and latency
POST /_emulator/latency       {"api": ..., "ms": 200}      each call answers 200 ms after it
                               arrived, its own work inside that (0 removes)
POST /_emulator/expire-tokens {"mode": "revoke" | "expire"} revoke (default): next call 40014;
                               expire: next call 42001
POST /_emulator/advance       {"seconds": 301}             move the emulator's clock forward
GET  /_emulator/calls         {"gettoken": 2, "user/get": 5, ...} calls per API and page
POST /_emulator/reset         back to the state right after start (directory, faults, latency
                               as configured; no tokens, codes, tickets; counters and clock zero)
GET  /_emulator/members/<id>  a member as stored
POST /_emulator/members/<id>  {"status": 2, ...}           change a member's fields; a change
                               of status or department sends an update_user callback
DELETE /_emulator/members/<id>                             remove the member (delete_user)
POST /_emulator/tags/<tagid>  {"add_users": [..], "del_users": [..]}  (update_tag)
POST /_emulator/callback      {"url", "token", "aes_key", "drop": false}  where encrypted
                               contact-change callbacks go (the console's 接收事件服务器);
                               drop: lose every event. GET: the events sent and their status
POST /_emulator/login         {"userid", "scope", "redirect_uri", "state", "mode": "inapp"|"web",
                               "agentid"} -> {"code", "redirect"}; skips the page checks (the
                               trusted-domain check too, so 50001 at exchange can be tested)
Errors in a request: HTTP 400 {"error": "..."}; an unknown member: 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from . import callbacks
from .faults import check_fault
from .state import Clock, EmulatorState
from .urls import redirect_host, with_query

bp = Blueprint("wecom_emulator_control", __name__, url_prefix="/_emulator")
SCOPES = ("snsapi_base", "snsapi_privateinfo")


def _state() -> EmulatorState:
    return current_app.extensions["wecom_emulator"]


class _BadRequest(Exception):
    pass


@bp.errorhandler(_BadRequest)
def _bad(e: _BadRequest) -> tuple[Response, int]:
    return jsonify(error=str(e)), 400


def _body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    return body


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _BadRequest(f"{key} must be an integer")
    return value


@bp.post("/faults")
def add_fault() -> Response:
    body = _body()
    fault, api = body.get("errcode"), body.get("api", "*")
    problem = check_fault(fault)
    if problem:
        raise _BadRequest(problem)
    count = _int(body, "count", 1)
    _state().faults.add(str(api), fault, count)
    return jsonify(_state().faults.snapshot())


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify(_state().faults.snapshot())


@bp.post("/latency")
def set_latency() -> Response:
    body = _body()
    _state().faults.set_latency(str(body.get("api", "*")), _int(body, "ms"))
    return jsonify(_state().faults.snapshot())


@bp.post("/expire-tokens")
def expire_tokens() -> Response:
    mode = _body().get("mode", "revoke")
    if mode not in ("revoke", "expire"):
        raise _BadRequest("mode must be 'revoke' or 'expire'")
    _state().expire_tokens(mode)
    return jsonify(ok=True, mode=mode)


@bp.post("/advance")
def advance() -> Response:
    seconds = _int(_body(), "seconds")
    clock = _state().clock
    if not isinstance(clock, Clock):
        raise _BadRequest("this emulator runs on an injected clock")
    clock.offset += seconds
    return jsonify(offset=clock.offset)


@bp.get("/calls")
def calls() -> Response:
    with _state().lock:
        return jsonify(dict(_state().calls))


@bp.post("/reset")
def reset() -> Response:
    _state().reset()
    return jsonify(ok=True)


@bp.route("/members/<userid>", methods=["GET", "POST"])
def member(userid: str) -> Response | tuple[Response, int]:
    state = _state()
    with state.lock:
        found = state.directory.member(userid)
        if found is None:
            return jsonify(error=f"no member {userid!r}"), 404
        if request.method == "POST":
            changes = _body()
            if "userid" in changes and changes["userid"] != found["userid"]:
                raise _BadRequest("userid cannot change")
            event: dict[str, Any] = {}
            if "status" in changes and changes["status"] != found.get("status"):
                event["Status"] = _int(changes, "status")
            if "department" in changes and changes["department"] != found.get("department"):
                event["Department"] = ",".join(str(d) for d in changes["department"])
            found.update(changes)
            if event:
                _callback({"Event": "change_contact", "ChangeType": "update_user",
                           "UserID": found["userid"], **event})
        return jsonify(found)


@bp.delete("/members/<userid>")
def delete_member(userid: str) -> Response | tuple[Response, int]:
    state = _state()
    with state.lock:
        found = state.directory.members.pop(userid.lower(), None)
    if found is None:
        return jsonify(error=f"no member {userid!r}"), 404
    _callback({"Event": "change_contact", "ChangeType": "delete_user",
               "UserID": found["userid"]})
    return jsonify(ok=True)


@bp.post("/tags/<int:tagid>")
def change_tag(tagid: int) -> Response | tuple[Response, int]:
    body, state = _body(), _state()
    add, drop = list(body.get("add_users") or []), list(body.get("del_users") or [])
    with state.lock:
        tag = state.directory.tags.get(tagid)
        if tag is None:
            return jsonify(error=f"no tag {tagid}"), 404
        users = [u for u in tag.setdefault("users", []) if u not in drop]
        tag["users"] = users + [u for u in add if u not in users]
    _callback({"Event": "change_contact", "ChangeType": "update_tag", "TagId": tagid,
               "AddUserItems": ",".join(add), "DelUserItems": ",".join(drop)})
    return jsonify(tag)


@bp.route("/callback", methods=["GET", "POST"])
def callback_target() -> Response:
    target = _state().callback
    if request.method == "POST":
        body = _body()
        target.url, target.token = str(body.get("url", "")), str(body.get("token", ""))
        target.aes_key, target.drop = str(body.get("aes_key", "")), bool(body.get("drop"))
        target.sent.clear()
    return jsonify(url=target.url, drop=target.drop, sent=target.sent)


def _callback(fields: dict[str, Any]) -> None:
    state = _state()
    callbacks.send(state.callback, state.config.corp_id, state.config.agent_id, fields)


@bp.post("/login")
def login() -> Response:
    """Mint a code as if the person had gone through the login page."""
    body = _body()
    state = _state()
    person, redirect_uri = str(body.get("userid", "")), str(body.get("redirect_uri", ""))
    scope, mode = body.get("scope", "snsapi_base"), body.get("mode", "web")
    host = redirect_host(redirect_uri)
    if host is None:
        raise _BadRequest("redirect_uri must be an absolute http(s) URL")
    if scope not in SCOPES or mode not in ("inapp", "web"):
        raise _BadRequest(f"scope must be one of {SCOPES}, mode 'inapp' or 'web'")
    member = state.directory.member(person)
    if member is None and person not in state.directory.non_members:
        raise _BadRequest(f"no member or non-member {person!r} in the directory")
    code = state.mint_code(
        agentid=_int(body, "agentid", state.config.agent_id), redirect_host=host, scope=scope,
        mode=mode, person=member["userid"] if member else person, is_member=member is not None)
    state_param = str(body.get("state", ""))
    return jsonify(code=code, redirect=with_query(redirect_uri, code=code, state=state_param))
