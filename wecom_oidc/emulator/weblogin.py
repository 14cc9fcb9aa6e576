"""The web/QR login (wecom-api.md §3): the QR page, and the scan a phone would make.

`/wwlogin/sso/login` (current, login_type=CorpApp) and `/wwopen/sso/qrConnect` (legacy)
show a scannable QR of the scan URL plus "Scan as <name>" buttons, since no phone is at
hand. `/wwlogin/sso/scan?...&userid=X` is that scan: 302 to redirect_uri?code&state.
Web-login codes never yield a user_ticket (§3d).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from werkzeug.wrappers import Response

from . import pages
from .i18n import page_lang, texts
from .pages import PageError, check_app, check_redirect
from .qr import qr_svg
from .urls import with_query

bp = Blueprint("wecom_weblogin", __name__)
bp.before_request(pages.count_page)
_PASS = ("login_type", "appid", "agentid", "redirect_uri", "state", "lang")


def _check(params: dict[str, str], *, login_type_required: bool) -> int | None:
    login_type = params.get("login_type")
    if (login_type or login_type_required) and login_type != "CorpApp":
        raise PageError("invalid_login_type")  # ServiceApp is for third-party apps only
    agentid = check_app(params, agentid_required=True)
    check_redirect(params)
    return agentid


def _qr_page(*, legacy: bool) -> str:
    params = {k: request.args[k] for k in _PASS if k in request.args}
    _check(params, login_type_required=not legacy)
    scan_url = url_for(".scan", _external=True, **params)
    buttons = [dict(p, href=with_query(scan_url, userid=p["id"])) for p in pages.people()]
    return render_template("qrlogin.html", t=texts(), lang=page_lang(), qr=qr_svg(scan_url),
                           scan_url=scan_url, people=buttons,
                           corp=pages.state().directory.corp.get("name", ""),
                           cancel_url=with_query(params["redirect_uri"],
                                                 state=params.get("state", "")))


@bp.get("/wwlogin/sso/login")
def login() -> str:
    return _qr_page(legacy=False)


@bp.get("/wwopen/sso/qrConnect")
def qr_connect() -> str:
    return _qr_page(legacy=True)


@bp.get("/wwlogin/sso/scan")
def scan() -> Response | str:
    """What scanning does. The person: ?userid=, else the emulated phone's cookie."""
    params = {k: request.args[k] for k in _PASS if k in request.args}
    agentid = _check(params, login_type_required=False)
    userid = request.args.get("userid", "")
    person = pages.find_person(userid) if userid else pages.phone_person()
    if person is None:
        return pages.picker(request.full_path)
    return pages.code_redirect(params, person, scope="snsapi_base", mode="web", agentid=agentid)
