"""The WeCom server API under /cgi-bin (wecom-api.md §1, §4-§6): HTTP 200, errcode/errmsg."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from .directory import detail_view, user_get_view
from .faults import DROP_KEY, http_status
from .state import EmulatorState, Grant
from .wire import fail, ok

bp = Blueprint("wecom_api", __name__, url_prefix="/cgi-bin")


def _state() -> EmulatorState:
    return current_app.extensions["wecom_emulator"]


def _ip() -> str:
    return request.remote_addr or "0.0.0.0"


class _Fail(Exception):
    """Answer with this errcode (HTTP 200); `keep` = list fields left in the body (§0)."""

    def __init__(self, errcode: int, **keep: Any):
        super().__init__(errcode)
        self.errcode, self.keep = errcode, keep


@bp.errorhandler(_Fail)
def _failed(e: _Fail) -> Response:
    return fail(e.errcode, _ip(), **e.keep)


@bp.before_request
def _gate() -> Response | None:
    """Count, delay, inject faults, then the 企业可信IP and token checks every API shares."""
    state = _state()
    api = request.path.removeprefix("/cgi-bin/")
    state.count(api)
    delay = state.faults.latency_ms(api)
    if delay:
        g.answer_at = time.monotonic() + delay / 1000
    fault = state.faults.take(api)
    if fault is not None:
        return _faulted(fault)
    if api == "gettoken":  # gettoken works from any IP (§1, community)
        return None
    ips = state.config.trusted_ips
    if ips is not None and _ip() not in ips:
        return fail(60020, _ip())
    errcode = state.check_token(request.args.get("access_token", ""))
    return fail(errcode, _ip()) if errcode else None


@bp.after_request
def _delayed(response: Response) -> Response:
    """Added latency is when the answer leaves, counted from the call's arrival: the
    emulator's own work is inside it, as real WeCom's is inside its 30-200 ms, so a
    benchmark subtracting calls x latency from a login measures only the bridge."""
    answer_at = g.get("answer_at")
    if answer_at is not None:
        time.sleep(max(0.0, answer_at - time.monotonic()))
    return response


def _faulted(fault: Any) -> Response:
    if isinstance(fault, int):
        return fail(fault, _ip())
    if fault == "drop":
        request.environ[DROP_KEY] = True
        return Response(b"", status=500)
    status = http_status(fault) or 500
    return Response(f"<html><body><h1>{status}</h1></body></html>", status=status,
                    mimetype="text/html")


@bp.get("/gettoken")
def gettoken() -> Response:
    cfg = _state().config
    corpid, secret = request.args.get("corpid", ""), request.args.get("corpsecret", "")
    if not corpid:
        return fail(41002, _ip())
    if not secret:
        return fail(41004, _ip())
    if corpid != cfg.corp_id:
        return fail(40013, _ip())
    if secret != cfg.secret:
        return fail(40001, _ip())
    token, expires_in = _state().token_for(corpid, secret)
    return ok(access_token=token, expires_in=expires_in)


def _exchange() -> Grant:
    """Take the code: 41008 missing, 40029 unknown/used/expired, 50001 other app or host.
    The code is spent even when the answer is 50001."""
    code = request.args.get("code", "")
    if not code:
        raise _Fail(41008)
    state = _state()
    grant = state.take_code(code)
    if grant is None:
        raise _Fail(40029)
    if grant.agentid != state.config.agent_id or not state.config.trusts(grant.redirect_host):
        raise _Fail(50001)
    return grant


def _ticket_for(grant: Grant) -> str | None:
    """user_ticket only for in-app snsapi_privateinfo of a member in the visible range (§3d)."""
    state = _state()
    member = state.directory.member(grant.person) if grant.is_member else None
    if (member is None or grant.scope != "snsapi_privateinfo" or grant.mode != "inapp"
            or not state.directory.is_visible(member)):
        return None
    return state.mint_ticket(member["userid"], grant.agentid)


def _non_member(grant: Grant) -> dict[str, Any]:
    return _state().directory.non_members.get(grant.person, {})


def _device_id(person: str) -> str:
    # Random per app install in WeCom; stable per person here so tests can compare.
    return hashlib.sha256(person.encode()).hexdigest()[:16].upper()


@bp.get("/auth/getuserinfo")
def auth_getuserinfo() -> Response:
    grant = _exchange()
    if not grant.is_member:
        nm = _non_member(grant)
        extra = {"external_userid": nm["external_userid"]} if nm.get("external_userid") else {}
        return ok(openid=nm.get("openid", ""), **extra)
    ticket = _ticket_for(grant)
    return ok(userid=grant.person, **({"user_ticket": ticket} if ticket else {}))


@bp.get("/user/getuserinfo")
def user_getuserinfo() -> Response:
    """The old exchange: PascalCase UserId/DeviceId/OpenId (§4)."""
    grant = _exchange()
    body: dict[str, Any] = {"DeviceId": _device_id(grant.person)}
    if not grant.is_member:
        nm = _non_member(grant)
        body["OpenId"] = nm.get("openid", "")
        if nm.get("external_userid"):
            body["external_userid"] = nm["external_userid"]
        return ok(**body)
    ticket = _ticket_for(grant)
    if ticket:
        body.update(user_ticket=ticket, expires_in=_state().config.ticket_ttl)
    return ok(UserId=grant.person, **body)


@bp.post("/auth/getuserdetail")
def auth_getuserdetail() -> Response:
    payload = request.get_json(force=True, silent=True)
    if not isinstance(payload, dict):
        return fail(47001, _ip())
    ticket = payload.get("user_ticket")
    if not ticket or not isinstance(ticket, str):
        return fail(84090, _ip())
    state = _state()
    errcode, userid = state.check_ticket(ticket)
    if errcode:
        return fail(errcode, _ip())
    member = state.directory.member(userid)
    if member is None or not state.directory.is_visible(member):
        return fail(92000, _ip())
    return ok(**detail_view(member))


@bp.get("/user/get")
def user_get() -> Response:
    userid = request.args.get("userid", "")
    if not userid:
        return fail(41009, _ip())
    state = _state()
    member = state.directory.member(userid)
    if member is None:
        return fail(60111, _ip())
    if not state.directory.is_visible(member):
        return fail(60011, _ip())
    return ok(**user_get_view(member, drop_private=state.config.app_created_after_2022_06_20))


def _departments(list_key: str) -> list[dict[str, Any]]:
    """The visible departments under ?id (or all of them): 60003 unknown, 60011 not visible."""
    directory = _state().directory
    visible = directory.visible_departments()
    raw = request.args.get("id", "")
    if not raw:
        roots = [d for d in visible if directory.departments[d]["parentid"] not in visible]
        ids = [i for r in sorted(roots) for i in directory.subtree(r)]
        return [directory.departments[i] for i in ids]
    dept_id = int(raw) if raw.isdigit() else -1
    if dept_id not in directory.departments:
        raise _Fail(60003, **{list_key: []})
    if dept_id not in visible:
        raise _Fail(60011, **{list_key: []})
    return [directory.departments[i] for i in directory.subtree(dept_id)]


_DEPT_KEYS = ("id", "name", "name_en", "department_leader", "parentid", "order")


@bp.get("/department/list")
def department_list() -> Response:
    depts = _departments("department")
    return ok(department=[{k: d[k] for k in _DEPT_KEYS} for d in depts])


@bp.get("/department/simplelist")
def department_simplelist() -> Response:
    depts = _departments("department_id")
    return ok(department_id=[{k: d[k] for k in ("id", "parentid", "order")} for d in depts])


@bp.get("/tag/list")
def tag_list() -> Response:
    tags = _state().directory.tags.values()
    return ok(taglist=[{"tagid": t["tagid"], "tagname": t["tagname"]} for t in tags])


@bp.get("/tag/get")
def tag_get() -> Response:
    directory = _state().directory
    raw = request.args.get("tagid", "")
    tag = directory.tags.get(int(raw)) if raw.isdigit() else None
    if tag is None:
        return fail(40068, _ip())
    # Only members in the app's visible range are listed; departments are not expanded (§6).
    users = [m for u in tag["users"] if (m := directory.member(u)) and directory.is_visible(m)]
    return ok(tagname=tag["tagname"], userlist=[{"userid": m["userid"], "name": m["name"]}
                                                for m in users],
              partylist=list(tag["departments"]))
