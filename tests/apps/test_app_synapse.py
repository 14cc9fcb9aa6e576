"""Matrix Synapse with its OIDC login (matrix-synapse[oidc], SQLite) signs people in
through the bridge: Chromium opens Synapse's own web login page (the fallback Matrix
client it serves), which sends it to the bridge, the emulator's QR page is scanned (or
the page is opened inside the WeCom app), and Synapse creates the Matrix user from the
claims: @<preferred_username>:<server>, display name from `name`. A member outside the
required WeCom group is refused by Synapse's attribute_requirements."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from apps_support import AppProcess, app_bin
from browser.browser_support import WECOM_MOBILE_UA
from e2e.stack import Stack, free_port, start_stack

CLIENT = ("synapse", "synapse-secret-0123456789abcdef01")
SERVER_NAME = "matrix.test"
LOGIN_PAGE = "_matrix/static/client/login/"


def homeserver_yaml(port: int, workdir: Path, issuer: str) -> str:
    # JSON is YAML: no YAML writer needed, and every value is quoted exactly.
    return json.dumps({
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(workdir / "homeserver.pid"),
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
                       "x_forwarded": False,
                       "resources": [{"names": ["client", "static"], "compress": False}]}],
        "database": {"name": "sqlite3", "args": {"database": str(workdir / "homeserver.db")}},
        "media_store_path": str(workdir / "media"),
        "signing_key_path": str(workdir / "signing.key"),
        "report_stats": False,
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "password_config": {"enabled": False},  # WeCom is the only way in
        "oidc_providers": [{
            "idp_id": "wecom",
            "idp_name": "WeCom",
            "issuer": issuer,
            "client_id": CLIENT[0],
            "client_secret": CLIENT[1],
            "client_auth_method": "client_secret_basic",
            "scopes": ["openid", "profile", "groups"],
            # The test's issuer is plain http on loopback; Synapse insists on https
            # otherwise. Signatures, iss, aud and nonce are still checked.
            "skip_verification": True,
            "user_mapping_provider": {"config": {
                "localpart_template": "{{ user.preferred_username }}",
                "display_name_template": "{{ user.name }}",
            }},
            "attribute_requirements": [{"attribute": "groups", "value": "全体研发"}],
        }],
    })


@pytest.fixture(scope="module")
def synapse(tmp_path_factory) -> Iterator[tuple[str, Stack]]:
    python = app_bin("synapse", "python")
    port = free_port()
    extra = f"""
[[clients]]
client_id = "{CLIENT[0]}"
client_secret = "{CLIENT[1]}"
redirect_uris = ["http://127.0.0.1:{port}/_synapse/client/oidc/callback"]
"""
    stack = start_stack(tmp_path_factory.mktemp("synapse-bridge"), extra_config=extra)
    try:
        workdir = tmp_path_factory.mktemp("synapse")
        config = workdir / "homeserver.yaml"
        config.write_text(homeserver_yaml(port, workdir, stack.bridge_url), encoding="utf-8")
        subprocess.run([str(python), "-m", "synapse.app.homeserver", "--config-path",
                        str(config), "--generate-keys"], cwd=workdir, check=True,
                       capture_output=True, timeout=120)
        url = f"http://127.0.0.1:{port}/"
        app = AppProcess([str(python), "-m", "synapse.app.homeserver", "--config-path",
                          str(config)], workdir, url + "health")
        yield url, stack
        app.stop()
    finally:
        stack.stop()


def test_synapse_qr_login_creates_the_matrix_user_from_the_claims(synapse, new_page):
    url, stack = synapse
    page = new_page()
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST",
                              timeout=30_000) as login:
        page.goto(url + LOGIN_PAGE)
        page.wait_for_url(f"{stack.emulator_url}/wwlogin/sso/login?**")  # the QR page
        page.click('[data-userid="zhangsan"]')
    body = login.value.json()
    assert login.value.status == 200, body
    assert body["user_id"] == f"@zhangsan:{SERVER_NAME}"  # localpart = preferred_username
    token = body["access_token"]
    me = requests.get(url + "_matrix/client/v3/account/whoami", timeout=10,
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert me["user_id"] == f"@zhangsan:{SERVER_NAME}"
    profile = requests.get(f"{url}_matrix/client/v3/profile/@zhangsan:{SERVER_NAME}",
                           timeout=10, headers={"Authorization": f"Bearer {token}"}).json()
    assert profile["displayname"] == "张三"  # display_name_template = user.name


def test_synapse_in_app_login_inside_the_wecom_app(synapse, new_page):
    url, stack = synapse
    page = new_page(user_agent=WECOM_MOBILE_UA)
    page.context.add_cookies([{"name": "emu_userid", "value": "lisi",
                               "url": stack.emulator_url + "/"}])
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST",
                              timeout=30_000) as login:
        page.goto(url + LOGIN_PAGE)  # profile and groups only: no consent, no scan
    assert login.value.json().get("user_id") == f"@lisi:{SERVER_NAME}", login.value.json()
    assert "#" not in page.url  # WeCom's #wechat_redirect stayed behind at the bridge


def test_synapse_member_outside_the_required_group_is_refused(synapse, new_page):
    url, stack = synapse
    page = new_page()
    page.goto(url + LOGIN_PAGE)
    page.wait_for_url(f"{stack.emulator_url}/wwlogin/sso/login?**")
    page.click('[data-userid="zhouba"]')  # 财务部 and 管理层, not 全体研发
    page.wait_for_url(url + "_synapse/client/oidc/callback?**")
    assert "You are not allowed to log in here." in page.content()
    assert requests.get(f"{url}_matrix/client/v3/profile/@zhouba:{SERVER_NAME}",
                        timeout=10).status_code in (401, 404)
