"""The bridge's cookies (session, login binding) are written by web/session_cookie.py
itself: byte for byte the Set-Cookie werkzeug's set_cookie would send; and read as
werkzeug's request parses them."""

from __future__ import annotations

import time

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from wecom_oidc.web.params import BridgeRequest
from wecom_oidc.web.session_cookie import set_cookie


def _header(write) -> list[str]:
    resp = Response()
    write(resp)
    return resp.headers.getlist("Set-Cookie")


@pytest.mark.filterwarnings("ignore:The 'n' cookie is too large")
@pytest.mark.parametrize(("name", "value"), [
    ("wecom_oidc_session", "sid-_1.secret-_2"), ("__Host-wecom_oidc_session_login", "k" * 43),
    ("n", "a b"), ("n", "é"), ("n", ""), ("n", "a,b;c\\"), ("n", "x" * 5000)])
@pytest.mark.parametrize("max_age", [28800, 600, 0])
@pytest.mark.parametrize("path", ["/", "/oidc", "/o idc/é"])
@pytest.mark.parametrize("secure", [True, False])
def test_cookie_is_what_werkzeug_writes(name, value, max_age, path, secure):
    for _ in range(3):  # the two are compared within one second (Expires)
        second = int(time.time())
        ours = _header(lambda r: set_cookie(r, name, value, max_age=max_age, path=path,
                                            secure=secure))
        theirs = _header(lambda r: r.set_cookie(name, value, max_age=max_age, path=path,
                                                secure=secure, httponly=True,
                                                samesite="Lax"))
        if int(time.time()) == second:
            break
    assert ours == theirs


@pytest.mark.parametrize("cookie", [
    None, "", "a=1", "wecom_oidc_session=sid.secret; wecom_oidc_session_login=key",
    'a="q\\"u\\073o"; b=; c', "a=1;;b=2; a=3", "x=\u00c3\u00a9", "bad name=1; ok=2", ";;;"])
def test_request_cookies_are_what_werkzeug_parses(cookie):
    headers = {} if cookie is None else {"Cookie": cookie}
    environ = EnvironBuilder("/authorize", headers=headers).get_environ()
    ours = BridgeRequest(environ).cookies
    assert list(ours.items(multi=True)) == list(Request(environ).cookies.items(multi=True))
    assert type(ours) is type(Request(environ).cookies)
