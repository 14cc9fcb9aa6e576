"""The /userinfo front (web/userinfo_front.py): the everyday call is answered before
Flask with exactly the view's answer; anything else reaches Flask, and nothing the front
already did (the token's lookup, the rate-limit count) is done twice."""

from __future__ import annotations

import flask
import pytest
from fakes import exchange, front_of, login
from werkzeug.test import Client

from wecom_oidc.web.userinfo_front import UserinfoFront


def _front(app: flask.Flask) -> UserinfoFront:
    return front_of(app, UserinfoFront)


@pytest.fixture
def bearer(app):
    http = app.test_client()
    token = exchange(http, login(http)).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _comparable(resp) -> tuple:
    headers = sorted((k, "<id>" if k == "X-Request-Id" else v) for k, v in resp.headers)
    return resp.status_code, headers, resp.get_data()


def test_front_answers_the_everyday_call_as_the_view_does(app, bearer, views):
    front = app.test_client().get("/userinfo", headers=bearer)
    assert views == []  # answered in front of Flask
    flask_only = Client(_front(app).app).get("/userinfo", headers=bearer)
    assert views == ["/userinfo"]
    assert front.status_code == 200 and front.get_json()["sub"]
    assert _comparable(front) == _comparable(flask_only)


@pytest.mark.parametrize("extra", [
    {"headers": {"Origin": "https://spa.example.com"}},  # a browser app: CORS is Flask's
    {"query_string": {"schema": "openid"}},
    {"method": "POST"},
])
def test_front_leaves_everything_else_to_flask(app, bearer, views, extra):
    http = app.test_client()
    headers = {**bearer, **extra.pop("headers", {})}
    method = extra.pop("method", "GET")
    resp = http.open("/userinfo", method=method, headers=headers, **extra)
    assert resp.status_code == 200 and views == ["/userinfo"]


def test_front_passes_a_bad_token_to_flask_looked_up_once(app, views, monkeypatch):
    from wecom_oidc.oidc.provider import Provider

    lookups: list[str] = []
    real = Provider.access_token_record

    def counted(self, token):
        lookups.append(token)
        return real(self, token)

    monkeypatch.setattr(Provider, "access_token_record", counted)
    resp = app.test_client().get("/userinfo", headers={"Authorization": "Bearer revoked"})
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert views == ["/userinfo"] and lookups == ["revoked"]


def test_front_counts_each_call_once_on_the_same_limits(build_app):
    # 3 a minute per address: a bad token (counted by Flask) and two good calls
    # (counted in front) use it up; the fourth call is refused, by Flask, uncounted again.
    app = build_app(extra='[limits]\nuserinfo_per_ip = "3/1m"\n')[0]
    limiter = app.extensions["rate_limiter"]
    counted: list[str] = []
    hit_many = limiter.hit_many

    def counting(hits):
        counted.extend(rule for rule, _, amount in hits if rule == "userinfo_per_ip")
        return hit_many(hits)

    limiter.hit_many = counting  # the front and Flask's hook share this limiter
    http = app.test_client()
    token = exchange(http, login(http)).get_json()["access_token"]
    good = {"Authorization": f"Bearer {token}"}
    assert http.get("/userinfo", headers={"Authorization": "Bearer junk"}).status_code == 401
    assert [http.get("/userinfo", headers=good).status_code for _ in range(2)] == [200, 200]
    refused = http.get("/userinfo", headers=good)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert len(counted) == 4  # four calls, each counted once


@pytest.mark.parametrize(("hops", "given", "kept"), [
    (1, "nginx-0123abcd", True),   # our nginx recipes send one on every request
    (1, "forged\tline", False),    # what could forge a log line is replaced
    (0, "nginx-0123abcd", False),  # no trusted proxy: nobody may name the request
])
def test_front_takes_a_request_id_as_the_hooks_do(build_app, hops, given, kept):
    app = build_app(extra=f"[server]\nproxy_hops = {hops}\n")[0]
    http = app.test_client()
    token = exchange(http, login(http)).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": given}
    seen: list[str] = []

    def started(sender, **extra):
        seen.append(flask.request.path)

    flask.request_started.connect(started, app)
    front = http.get("/userinfo", headers=headers)
    assert seen == []  # answered in front of Flask
    assert (front.headers["X-Request-Id"] == given) is kept
    flask_only = Client(_front(app).app).get("/userinfo", headers=headers)
    assert seen == ["/userinfo"]
    assert _comparable(front) == _comparable(flask_only)
    assert (flask_only.headers["X-Request-Id"] == given) is kept
