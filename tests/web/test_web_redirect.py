"""The bare redirects of /authorize and the callback (web/redirect.py) send what
werkzeug's Response sends: a Location already a URI skips werkzeug's conversion, and
any other is converted as before."""

from __future__ import annotations

import pytest
from flask import Response as FlaskPlainResponse
from werkzeug.test import EnvironBuilder
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from wecom_oidc.web.redirect import Redirect, already_uri

LOCATIONS = [
    "https://app.example.com/callback?code=Xy-_.~09&state=s%20t&iss=http%3A%2F%2Fh",
    "http://127.0.0.1:8001/wwlogin/sso/login?login_type=CorpApp&appid=ww1&agentid=1000002"
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fwecom%2Fcallback&state=0a1b&lang=zh",
    "https://open.weixin.qq.com/connect/oauth2/authorize?appid=ww1&state=0a1b&agentid=1"
    "#wechat_redirect",
    "com.example.app:/cb?code=1", "https://App.Example.com/cb?code=1", "HTTPS://a/cb?code=1",
    "https://a/cb?", "https://a/cb?#f", "https://a/cb?code=1#", "https://a/cb",
    "https://a/c b?code=1", "https://a/cb?code=a b", "https://a/cb?code=\u00e9",
    "https://\u00e9.example/cb?code=1", "https://user:pw@a/cb?code=1", "https://[::1]:8443/cb?x=1",
    "https://a:443/cb?x=1", "https://a/p%C3%A5th?x=1#f#g", "https://a/cb?x=[1]", "/relative?x=1",
    "https://a/cb?x=1\t", " https://a/cb?x=1", "https://a/cb;p?x=1", "https://a/cb?x=1#a b",
]


@pytest.mark.parametrize("location", LOCATIONS)
def test_redirect_already_uri_is_what_iri_to_uri_leaves_alone(location):
    assert already_uri(location) == (iri_to_uri(location) == location)


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize("change", [None, "cookie", "status", "body", "length", "location",
                                    "lowercase", "second"])
def test_redirect_headers_are_what_werkzeug_sends(location, change):
    # What the view's werkzeug Response became once Flask had made it its own.
    plain = Response(status=302, headers={"Location": location})
    plain.__class__ = FlaskPlainResponse
    ours = Redirect(location)
    for resp in (ours, plain):
        resp.headers.add("X-Content-Type-Options", "nosniff")
        if change == "cookie":
            resp.set_cookie("s", "v", httponly=True)
        elif change == "status":
            resp.status_code = 303
        elif change == "body":
            resp.set_data(b"moved")
        elif change == "length":
            resp.headers["Content-Length"] = "0"
        elif change == "location":
            resp.headers["Location"] = location + "&x=1"
        elif change == "lowercase":
            del resp.headers["Location"]
            resp.headers.add("location", location)
        elif change == "second":
            resp.headers.add("Location", "https://other/")
    environ = EnvironBuilder("/authorize").get_environ()
    assert list(ours.get_wsgi_headers(environ)) == list(plain.get_wsgi_headers(environ))
    assert ours.status == plain.status
