"""/readyz, /metrics and request ids on a bridge configured from the environment,
talking to the WeCom emulator over sockets (one process)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from e2e.stack import WECOM_UA, RelyingParty, browser, inapp_login, qr_login
from flask import Response
from prometheus_client.parser import text_string_to_metric_families

from wecom_oidc.errors import StoreUnavailable
from wecom_oidc.ops.hooks import login_mode, login_outcome
from wecom_oidc.store import MemoryStore


def metrics(stack) -> dict[tuple[str, tuple], float]:
    resp = requests.get(stack.bridge_url + "/metrics", timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(resp.text) for s in fam.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class DownStore(MemoryStore):
    """A store whose backend is gone."""

    def ping(self) -> None:
        raise StoreUnavailable("connection refused")


def test_readyz_store_and_keys_ok_is_200(live_bridge):
    stack = live_bridge()
    resp = requests.get(stack.bridge_url + "/readyz", timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "checks": {"store": "ok", "keys": "ok"}}


def test_readyz_store_down_is_503_naming_the_store_and_counted(live_bridge):
    stack = live_bridge(store=DownStore())
    resp = requests.get(stack.bridge_url + "/readyz", timeout=5)
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["store"] == "unreachable"
    assert body["checks"]["keys"] == "ok"
    assert value(metrics(stack), "wecom_oidc_store_errors_total", operation="ping") == 1


class DownRedis(MemoryStore):
    def ping(self) -> None:
        raise StoreUnavailable("redis at 10.20.30.40:6379: Connection refused")


def test_readyz_store_down_names_no_backend_host_or_port(live_bridge, caplog):
    stack = live_bridge(store=DownRedis())
    with caplog.at_level("WARNING", logger="wecom_oidc.ops.health"):
        resp = requests.get(stack.bridge_url + "/readyz", timeout=5)
    assert resp.status_code == 503
    assert "10.20.30.40" not in resp.text and "6379" not in resp.text
    assert "redis" not in resp.text.lower()
    # The operator still learns it from the log.
    assert "10.20.30.40:6379" in caplog.text


METRICS_TOKEN = "m" * 24


def test_metrics_token_required_on_the_app_port(live_bridge):
    stack = live_bridge({"WECOM_OIDC_SERVER__METRICS_TOKEN": METRICS_TOKEN})
    url = stack.bridge_url + "/metrics"
    bare = requests.get(url, timeout=5)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "wecom_oidc_" not in bare.text
    wrong = requests.get(url, timeout=5, headers={"Authorization": "Bearer " + "m" * 23})
    assert wrong.status_code == 401
    right = requests.get(url, timeout=5, headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert right.status_code == 200
    assert "wecom_oidc_logins" in right.text


def test_metrics_count_logins_by_mode_wecom_calls_cache_and_tokens(live_bridge):
    stack = live_bridge()
    for walk in (qr_login, inapp_login):
        rp = RelyingParty(stack)
        started = rp.start()
        rp.finish(walk(stack, started["url"], "zhangsan"), started)
    m = metrics(stack)
    assert value(m, "wecom_oidc_logins_total", outcome="success", mode="qr") == 1
    assert value(m, "wecom_oidc_logins_total", outcome="success", mode="inapp") == 1
    assert value(m, "wecom_oidc_tokens_issued_total", grant_type="authorization_code") == 2
    assert value(m, "wecom_oidc_wecom_calls_total", api="gettoken", errcode="0") == 1
    assert value(m, "wecom_oidc_wecom_calls_total", api="auth/getuserinfo", errcode="0") == 2
    assert value(m, "wecom_oidc_wecom_call_duration_seconds_count", api="auth/getuserinfo") == 2
    assert value(m, "wecom_oidc_wecom_token_cache_total", result="miss") == 1
    assert value(m, "wecom_oidc_wecom_token_cache_total", result="hit") >= 2


def test_metrics_count_a_refused_member_as_denied(live_bridge):
    stack = live_bridge()
    rp = RelyingParty(stack)
    b = browser()
    to_wecom = b.get(rp.start()["url"], allow_redirects=False).headers["Location"]
    params = dict(p.split("=", 1) for p in to_wecom.split("?", 1)[1].split("&"))
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan",
                    params={**{k: requests.utils.unquote(v) for k, v in params.items()},
                            "userid": "outsider"}, allow_redirects=False)
    assert b.get(scanned.headers["Location"], allow_redirects=False).status_code == 403
    assert value(metrics(stack), "wecom_oidc_logins_total", outcome="denied", mode="qr") == 1


def test_metrics_count_wecom_errcodes(live_bridge):
    stack = live_bridge(trusted_ips=["203.0.113.7"])  # business APIs answer 60020
    rp = RelyingParty(stack)
    b = browser()
    to_wecom = b.get(rp.start()["url"], allow_redirects=False).headers["Location"]
    query = to_wecom.split("?", 1)[1]
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?{query}&userid=zhangsan",
                    allow_redirects=False)
    assert b.get(scanned.headers["Location"], allow_redirects=False).status_code >= 400
    m = metrics(stack)
    assert value(m, "wecom_oidc_wecom_calls_total", api="auth/getuserinfo", errcode="60020") == 1
    assert value(m, "wecom_oidc_logins_total", outcome="error", mode="qr") == 1


def test_request_id_from_trusted_proxy_is_kept(live_bridge):
    stack = live_bridge({"WECOM_OIDC_SERVER__PROXY_HOPS": "1"})
    resp = requests.get(stack.bridge_url + "/healthz", headers={"X-Request-Id": "abc-123"},
                        timeout=5)
    assert resp.headers["X-Request-Id"] == "abc-123"


def test_request_id_header_ignored_without_proxy_hops(live_bridge):
    stack = live_bridge()
    resp = requests.get(stack.bridge_url + "/healthz", headers={"X-Request-Id": "abc-123"},
                        timeout=5)
    assert resp.headers["X-Request-Id"] not in ("", "abc-123")


def test_request_id_that_could_forge_a_log_line_is_replaced(live_bridge):
    stack = live_bridge({"WECOM_OIDC_SERVER__PROXY_HOPS": "1"})
    resp = requests.get(stack.bridge_url + "/healthz",
                        headers={"X-Request-Id": "x level=error msg=forged"}, timeout=5)
    assert " " not in resp.headers["X-Request-Id"]


def test_login_outcome_reads_the_callback_response():
    def redirect(location: str) -> Response:
        return Response(status=302, headers={"Location": location})

    assert login_outcome(redirect("https://rp/cb?code=x&state=y")) == "success"
    assert login_outcome(redirect("https://rp/cb?error=access_denied&state=y")) == "denied"
    assert login_outcome(redirect("https://rp/cb?error=server_error")) == "error"
    assert login_outcome(Response(status=403)) == "denied"
    assert login_outcome(Response(status=502)) == "error"
    assert login_outcome(Response(status=400)) == "error"


@pytest.mark.parametrize("location", [
    "https://rp/cb?code=x&state=y", "https://rp/cb?code=&state=y", "https://rp/cb?co%64e=1",
    "https://rp/cb?code", "https://rp/cb?&&code=1", "https://rp/cb#code=1",
    "https://rp/cb?x=1#code=2", "https://rp/cb?error=access%5Fdenied",
    "https://rp/cb?error=access_denied&error=x", "https://rp/cb?error=access_denied+",
    "https://rp/cb?error=access_denied&code=1", "https://rp/cb?%zz=1&error=%zz", ""])
@pytest.mark.parametrize("status", [302, 200])
def test_login_outcome_reads_the_query_as_parse_qs_does(location, status):
    """Only the code and error fields are decoded now: the outcome stays what parsing
    the whole query said, for a redirect and for the in-app Refresh page."""
    resp = Response(status=status, headers={"Location": location} if status == 302 else
                    {"Refresh": f"0; url={location}"})
    query = parse_qs(urlsplit(location).query or urlsplit(location).fragment)
    expected = "success" if "code" in query else (
        "denied" if query.get("error") == ["access_denied"] else "error")
    assert login_outcome(resp) == (expected if status == 302 or location else "error")


def test_login_mode_follows_the_wxwork_user_agent_rule():
    assert login_mode({"User-Agent": WECOM_UA}) == "inapp"
    assert login_mode({"User-Agent": "Mozilla/5.0 MicroMessenger/8.0"}) == "qr"
    assert login_mode({}) == "qr"


def test_metrics_bind_serves_metrics_on_its_own_port_only(tmp_path, monkeypatch):
    """[server] metrics_bind: /metrics on a port of its own (the Kubernetes manifests'
    `metrics` port), every worker's counts; the published port no longer serves it."""
    import requests
    from e2e.stack import RelyingParty, free_port, qr_login, start_stack, wait_http

    port = free_port()
    monkeypatch.setenv("WECOM_OIDC_SERVER__METRICS_BIND", f"127.0.0.1:{port}")
    stack = start_stack(tmp_path)
    try:
        rp = RelyingParty(stack)
        started = rp.start()
        rp.finish(qr_login(stack, started["url"], "zhangsan"), started)
        wait_http(f"http://127.0.0.1:{port}/metrics")
        scraped = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'wecom_oidc_logins_total{mode="qr",outcome="success"} 1.0' in scraped
        assert requests.get(stack.bridge_url + "/metrics", timeout=5).status_code == 404
    finally:
        stack.stop()
