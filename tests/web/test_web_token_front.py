"""The /token front (web/token_front.py): the everyday code exchange is answered before
Flask with exactly the view's answer, audit line and metric; anything else reaches
Flask; an exchange the front refused is answered by Flask without taking the code a
second time (which would count as a replay and revoke the login)."""

from __future__ import annotations

import base64
import json
import logging
import re

import flask
import pytest
from fakes import (
    APP_ID,
    APP_REDIRECT,
    APP_SECRET,
    CLI_ID,
    CLI_REDIRECT,
    auth_params,
    basic_auth,
    exchange,
    front_of,
    login,
    pkce_pair,
    query,
)
from werkzeug.test import Client

from wecom_oidc.errors import StoreUnavailable
from wecom_oidc.web.token_front import TokenFront


def _front(app: flask.Flask) -> TokenFront:
    return front_of(app, TokenFront)


@pytest.fixture
def takes(app):
    """Every store.take of a code, as (kind, key)."""
    store = app.extensions["wecom_oidc"].store
    taken: list[str] = []
    real = store.take

    def counting(kind, key, *args, **kwargs):
        taken.append(kind)
        return real(kind, key, *args, **kwargs)

    store.take = counting
    return taken


def _sso_code(http) -> str:
    """Another code from the browser's bridge session (no new login)."""
    resp = http.get("/authorize", query_string=auth_params())
    assert resp.status_code == 302
    return query(resp.headers["Location"])["code"]


def _claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _comparable(resp) -> tuple:
    """Status, headers and body with the values that differ per exchange masked: the
    tokens, their ids, the request id."""
    headers = sorted((k, "<id>" if k == "X-Request-Id" else
                      "<n>" if k == "Content-Length" else v) for k, v in resp.headers)
    body = resp.get_json()
    shape = {k: (v if k in ("token_type", "expires_in", "scope") else type(v).__name__)
             for k, v in body.items()}
    id_claims = sorted(_claims(body["id_token"])) if "id_token" in body else []
    return resp.status_code, headers, list(body), shape, id_claims


def _audit_lines(caplog) -> list[str]:
    return [re.sub(r"rid=\w+", "rid=<id>", r.getMessage()) for r in caplog.records
            if r.name == "wecom_oidc.audit" and "event=token" in r.getMessage()]


def test_front_answers_the_everyday_exchange_as_the_view_does(app, views, caplog):
    http = app.test_client()
    caplog.set_level(logging.INFO, logger="wecom_oidc.audit")
    front = exchange(http, login(http))
    assert views == ["/authorize", "/wecom/callback"]  # the exchange: in front of Flask
    front_audit = _audit_lines(caplog)
    caplog.clear()
    del views[:]
    code = _sso_code(http)
    flask_only = Client(_front(app).app).post(
        "/token", data={"grant_type": "authorization_code", "code": code,
                        "redirect_uri": APP_REDIRECT}, headers=basic_auth(APP_ID, APP_SECRET),
        environ_base={"REMOTE_ADDR": "127.0.0.1"})  # as Flask's test client sends it
    assert views[-1] == "/token"
    assert front.status_code == 200 and front.get_json()["access_token"]
    assert _comparable(front) == _comparable(flask_only)
    # The body's keys in the view's order (sorted) and the same JSON text around them.
    assert front.get_data().startswith(b'{"access_token": "')
    assert front_audit == _audit_lines(caplog) and len(front_audit) == 1
    assert "outcome=success" in front_audit[0] and "sub=zhangsan" in front_audit[0]


def test_front_tokens_work_everywhere_the_views_do(app, views):
    http = app.test_client()
    tokens = exchange(http, login(http), scope="").get_json()
    userinfo = Client(_front(app).app).get(  # through Flask
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.get_json()["sub"] == "zhangsan"
    claims = _claims(tokens["id_token"])
    assert claims["aud"] == APP_ID and claims["sub"] == "zhangsan" and claims["at_hash"]


def test_front_counts_the_token_metric(app):
    http = app.test_client()
    exchange(http, login(http))
    metrics = http.get("/metrics").get_data(as_text=True)
    assert re.search(r'wecom_oidc_tokens_issued_total\{grant_type="authorization_code"\} 1\.0',
                     metrics)


def test_front_takes_a_public_client_with_pkce(app, views):
    http = app.test_client()
    verifier, challenge = pkce_pair()
    code = login(http, client_id=CLI_ID, redirect_uri=CLI_REDIRECT,
                 code_challenge=challenge, code_challenge_method="S256")
    resp = exchange(http, code, client_id=CLI_ID, secret=None, redirect_uri=CLI_REDIRECT,
                    code_verifier=verifier)
    assert resp.status_code == 200 and views[-1] != "/token"


def test_front_takes_client_secret_post(app, views):
    http = app.test_client()
    resp = http.post("/token", data={"grant_type": "authorization_code", "code": login(http),
                                     "redirect_uri": APP_REDIRECT, "client_id": APP_ID,
                                     "client_secret": APP_SECRET})
    assert resp.status_code == 200 and views[-1] != "/token"


@pytest.mark.parametrize("extra", [
    {"headers": {"Origin": "https://app.example.com"}},  # a browser app: CORS is Flask's
    {"query_string": {"x": "1"}},
    {"data": {"nonce": ["a", "b"]}},                   # a parameter sent twice
    {"data": {"state": "\x00"}},                       # params.py refuses it
    {"form_as_json": True},
])
def test_front_leaves_everything_else_to_flask(app, views, extra):
    http = app.test_client()
    code = login(http)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT,
            **extra.get("data", {})}
    kwargs = {"json": data} if extra.get("form_as_json") else {"data": data}
    resp = http.post("/token", headers={**basic_auth(APP_ID, APP_SECRET),
                                        **extra.get("headers", {})},
                     query_string=extra.get("query_string"), **kwargs)
    assert views[-1] == "/token"
    assert resp.status_code in (200, 400)


def test_front_leaves_a_wrong_secret_to_flask_counted_once(build_app):
    app = build_app(extra='[limits]\nfailed_auth_delay = 0\n')[0]
    limiter = app.extensions["rate_limiter"]
    counted: list[str] = []
    hit_many = limiter.hit_many  # limiter.hit too goes through it
    limiter.hit_many = lambda hits: (counted.extend(r for r, _, n in hits if n), hit_many(hits))[1]
    http = app.test_client()
    resp = exchange(http, login(http), secret="wrong-secret-0123456789abcdef0123")
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"
    # The token counters once, and the failure on all three failed-auth counters.
    assert sorted(r for r in counted if r.startswith(("token", "failed"))) == [
        "failed_auth_per_client", "failed_auth_per_client_ip", "failed_auth_per_ip",
        "token_per_client", "token_per_ip"]


@pytest.mark.parametrize("case", ["redirect_uri", "code_verifier", "unknown_code"])
def test_a_refused_exchange_is_answered_by_flask_without_a_second_take(app, views, takes, case):
    http = app.test_client()
    verifier, challenge = pkce_pair()
    code = login(http, code_challenge=challenge, code_challenge_method="S256")
    form = {"code_verifier": verifier}
    if case == "redirect_uri":
        form["redirect_uri"] = "https://app.example.com/other"
    elif case == "code_verifier":
        form["code_verifier"] = pkce_pair()[0]
    else:
        code = "not-a-code"
    del takes[:]
    resp = exchange(http, code, **form)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"
    assert views[-1] == "/token"  # answered by Flask, with every hook
    assert takes == ["code"]  # taken once, by the front
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Request-Id"]


def test_a_refused_exchange_leaves_the_login_alive(app):
    # A second take of the same code would see it used and revoke the whole login.
    http = app.test_client()
    first = exchange(http, login(http)).get_json()
    assert exchange(http, _sso_code(http),
                    redirect_uri="https://app.example.com/other").status_code == 400
    resp = http.get("/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert resp.status_code == 200


def test_a_replayed_code_still_revokes_the_login(app, views):
    http = app.test_client()
    code = login(http)
    first = exchange(http, code).get_json()
    replay = exchange(http, code)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    resp = http.get("/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert resp.status_code == 401


def test_a_store_outage_in_the_exchange_is_flasks_503_without_a_second_take(app, views, takes):
    http = app.test_client()
    code = login(http)
    store = app.extensions["wecom_oidc"].store
    real_put = store.put

    def failing(kind, *args, **kwargs):
        if kind == "access_token":
            raise StoreUnavailable("down")
        return real_put(kind, *args, **kwargs)

    store.put = failing
    del takes[:]
    resp = exchange(http, code)
    assert resp.status_code == 503 and resp.get_json()["error"] == "temporarily_unavailable"
    assert views[-1] == "/token" and takes == ["code"]


def test_front_counts_each_exchange_once_on_the_same_limits(build_app):
    # 3 a minute per client: two exchanges in front, a wrong-redirect one refused after
    # the front counted it; the fourth is refused by Flask, uncounted again.
    app = build_app(extra='[limits]\ntoken_per_client = "3/1m"\n')[0]
    http = app.test_client()
    code = login(http)
    assert [exchange(http, c).status_code for c in (code, _sso_code(http))] == [200, 200]
    assert exchange(http, _sso_code(http), redirect_uri=APP_REDIRECT + "x").status_code == 400
    refused = exchange(http, _sso_code(http))
    assert refused.status_code == 429 and refused.headers["Retry-After"]


@pytest.mark.parametrize(("hops", "given", "kept"), [
    (1, "nginx-0123abcd", True),
    (1, "forged\tline", False),
    (0, "nginx-0123abcd", False),
])
def test_front_takes_a_request_id_as_the_hooks_do(build_app, hops, given, kept):
    app = build_app(extra=f"[server]\nproxy_hops = {hops}\n")[0]
    http = app.test_client()
    resp = http.post("/token", data={"grant_type": "authorization_code", "code": login(http),
                                     "redirect_uri": APP_REDIRECT},
                     headers={**basic_auth(APP_ID, APP_SECRET), "X-Request-Id": given})
    assert resp.status_code == 200
    assert (resp.headers["X-Request-Id"] == given) is kept


def test_a_body_cut_short_is_flasks_to_refuse(app, views):
    http = app.test_client()
    body = f"grant_type=authorization_code&code={login(http)}&redirect_uri=x".encode()
    resp = http.post("/token", data=body[:20], headers={
        **basic_auth(APP_ID, APP_SECRET), "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body))})
    assert resp.status_code == 400 and views[-1] == "/token"


def test_a_body_that_cannot_be_read_is_flasks_to_refuse(app, views):
    class Broken:
        def read(self, *args):
            raise OSError("connection reset")

    http = app.test_client()
    code = login(http)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/token", "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": Broken(),
               "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "60",
               "HTTP_AUTHORIZATION": basic_auth(APP_ID, APP_SECRET)["Authorization"]}
    statuses: list[str] = []
    b"".join(app.wsgi_app(environ, lambda status, headers, *_: statuses.append(status)))
    assert statuses == ["400 BAD REQUEST"] and views[-1] == "/token"
    assert exchange(http, code).status_code == 200  # nothing was taken
