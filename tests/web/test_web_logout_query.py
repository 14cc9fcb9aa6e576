"""Parameters the bridge adds to an app's registered logout URLs keep the URL's own query
and are escaped (authlib's add_params_to_uri, not string concatenation)."""

from __future__ import annotations

import html
import re

import pytest
from fakes import exchange, login, query

BYE = "https://bye.example.com/logged-out?from=sso&lang=zh"
FRONT = "https://front.example.com/logout?v=1"
CLIENTS = f"""
[[clients]]
client_id = "bye"
client_secret = "bye-secret-0123456789-0123456789ab"
redirect_uris = ["https://bye.example.com/cb"]
post_logout_redirect_uris = ["{BYE}"]

[[clients]]
client_id = "front"
client_secret = "front-secret-0123456789-0123456789"
redirect_uris = ["https://front.example.com/cb"]
frontchannel_logout_uri = "{FRONT}"
"""


@pytest.fixture
def http(build_app):
    return build_app(extra=CLIENTS)[0].test_client()


def id_token(http, client_id: str, secret: str) -> str:
    redirect = f"https://{client_id}.example.com/cb"
    code = login(http, client_id=client_id, redirect_uri=redirect)
    return exchange(http, code, client_id=client_id, secret=secret,
                    redirect_uri=redirect).get_json()["id_token"]


def test_logout_state_appended_to_the_registered_query_escaped(http):
    hint = id_token(http, "bye", "bye-secret-0123456789-0123456789ab")
    r = http.get("/end_session", query_string={"id_token_hint": hint,
                                               "post_logout_redirect_uri": BYE,
                                               "state": "a b&c=d"})
    assert r.status_code == 302
    assert r.headers["Location"] == BYE + "&state=a+b%26c%3Dd"
    assert query(r.headers["Location"])["state"] == "a b&c=d"


def test_logout_frontchannel_iss_and_sid_appended_to_the_registered_query(http):
    hint = id_token(http, "front", "front-secret-0123456789-0123456789")
    r = http.get("/end_session", query_string={"id_token_hint": hint})
    assert r.status_code == 200
    frames = [html.unescape(src) for src in re.findall(r'<iframe src="([^"]+)"', r.text)]
    assert len(frames) == 1 and frames[0].startswith(FRONT + "&iss=https%3A%2F%2F")
    params = query(frames[0])
    assert params["v"] == "1" and params["iss"] == "https://sso.example.com" and params["sid"]
