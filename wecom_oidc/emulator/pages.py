"""The login pages WeCom serves to people: in-app OAuth (wecom-api.md §2) and the shared
parts of the web/QR login (§3). Error pages answer HTTP 200, as WeCom's do; they carry
`data-error="<kind>"` and an `X-Emulator-Error: <kind>` header for tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from .i18n import page_lang, texts
from .state import EmulatorState
from .urls import redirect_host, with_query

bp = Blueprint("wecom_pages", __name__)
COOKIE = "emu_userid"  # who the emulated phone is signed in as
SCOPES = ("snsapi_base", "snsapi_privateinfo")


def init_app(app: Flask) -> None:
    from . import weblogin

    app.register_blueprint(bp)
    app.register_blueprint(weblogin.bp)
    app.register_error_handler(PageError, _error_page)


class PageError(Exception):
    """WeCom shows its own error page instead of redirecting back."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _error_page(e: PageError) -> Response:
    t = texts()
    response = make_response(render_template("error.html", t=t, kind=e.kind,
                                             message=t[f"err_{e.kind}"]))
    response.headers["X-Emulator-Error"] = e.kind
    return response


def state() -> EmulatorState:
    return current_app.extensions["wecom_emulator"]


def count_page() -> None:
    state().count(request.path.lstrip("/"))


bp.before_request(count_page)


def check_app(params: Any, *, agentid_required: bool) -> int | None:
    """appid must be the corp id; agentid, when given (or required), this app's."""
    cfg = state().config
    if params.get("appid") != cfg.corp_id:
        raise PageError("invalid_appid")
    raw = params.get("agentid", "")
    if not raw and not agentid_required:
        return None
    if not raw.isdigit() or int(raw) != cfg.agent_id:
        raise PageError("invalid_agentid")
    return int(raw)


def check_redirect(params: Any) -> str:
    """The redirect host, which must be a trusted domain of the app (§9)."""
    host = redirect_host(params.get("redirect_uri", ""))
    if host is None:
        raise PageError("invalid_redirect_uri")
    if not state().config.trusts(host):
        raise PageError("domain_err")
    return host


def phone_person() -> dict[str, Any] | None:
    """The person the emulated phone is signed in as (cookie), if any."""
    return find_person(request.cookies.get(COOKIE, ""))


def find_person(key: str) -> dict[str, Any] | None:
    """{"id", "name", "is_member", "member"} for a member's userid or a non-member's id."""
    if not key:
        return None
    directory = state().directory
    member = directory.member(key)
    if member is not None:
        return {"id": member["userid"], "name": member["name"], "is_member": True,
                "member": member}
    other = directory.non_members.get(key)
    if other is not None:
        return {"id": other["id"], "name": other["name"], "is_member": False, "member": None}
    return None


def people() -> list[dict[str, Any]]:
    """Everyone who can log in, with a note for the unusual ones (disabled, not a member...)."""
    directory, t = state().directory, texts()
    out = []
    for key, name, is_member in directory.people():
        note = "" if is_member else t["not_member"]
        if is_member:
            member = directory.member(key)
            assert member is not None
            status = member.get("status", 1)
            note = t.get(f"status_{status}", "") if status != 1 else ""
            if not note and not directory.is_visible(member):
                note = t["out_of_range"]
        out.append({"id": key, "name": name, "note": note})
    return out


def code_redirect(params: Any, person: dict[str, Any], *, scope: str, mode: str,
                  agentid: int | None) -> Response:
    """Mint a code for `person` and send the browser to redirect_uri?code&state."""
    host = check_redirect(params)
    code = state().mint_code(agentid=agentid if agentid is not None else state().config.agent_id,
                             redirect_host=host, scope=scope, mode=mode, person=person["id"],
                             is_member=person["is_member"])
    return redirect(with_query(params["redirect_uri"], code=code, state=params.get("state", "")))


def no_code_redirect(params: Any) -> Response:
    """Declined or cancelled: back with state and no code (§3b)."""
    return redirect(with_query(params["redirect_uri"], state=params.get("state", "")))


def picker(next_url: str) -> str:
    return render_template("picker.html", t=texts(), people=people(), next_url=next_url,
                           lang=page_lang())


@bp.get("/")
def index() -> str:
    cfg = state().config
    return render_template("index.html", t=texts(), cfg=cfg, people=people(),
                           base=request.host_url.rstrip("/"))


@bp.get("/connect/oauth2/authorize")
def authorize() -> Response | str:
    """In-app OAuth: silent for snsapi_base, a consent page for snsapi_privateinfo."""
    params = request.args
    agentid = check_app(params, agentid_required=False)
    if params.get("response_type") != "code":
        raise PageError("invalid_response_type")
    scope = params.get("scope", "")
    if scope not in SCOPES:  # snsapi_userinfo is gone from current docs (§2)
        raise PageError("invalid_scope")
    check_redirect(params)
    if scope == "snsapi_privateinfo" and agentid is None:
        scope = "snsapi_base"  # D96441's "scope special cases": no agentid, no private info
    person = phone_person()
    if person is None:
        return picker(request.full_path)
    if scope == "snsapi_base":
        return code_redirect(params, person, scope=scope, mode="inapp", agentid=agentid)
    member = person["member"]
    if member is not None and not state().directory.is_visible(member):
        raise PageError("not_in_visible_range")  # privateinfo needs the visible range (§2)
    fields = {k: params.get(k, "") for k in ("appid", "redirect_uri", "response_type", "scope",
                                              "state", "agentid", "lang")}
    return render_template("consent.html", t=texts(), person=person, fields=fields,
                           app_name=state().config.app_name,
                           switch_url=url_for(".phone", next=request.full_path))


@bp.post("/connect/oauth2/authorize/confirm")
def confirm() -> Response | str:
    params = request.form
    agentid = check_app(params, agentid_required=True)
    person = phone_person()
    if person is None:
        again = {k: v for k, v in params.items() if k != "action"}
        return redirect(url_for(".authorize") + "?" + urlencode(again))
    if params.get("action") != "allow":
        check_redirect(params)
        return no_code_redirect(params)
    return code_redirect(params, person, scope="snsapi_privateinfo", mode="inapp",
                         agentid=agentid)


@bp.route("/connect/oauth2/phone", methods=["GET", "POST"])
def phone() -> Response:
    """POST userid: sign the emulated phone in; GET: sign it out. Then go to `next`."""
    next_url = request.values.get("next", "")
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = "/"  # only our own pages: no open redirect
    response = redirect(next_url)
    person = find_person(request.form.get("userid", "")) if request.method == "POST" else None
    if person is None:
        response.delete_cookie(COOKIE)
    else:
        response.set_cookie(COOKIE, person["id"], samesite="Lax")
    return response
