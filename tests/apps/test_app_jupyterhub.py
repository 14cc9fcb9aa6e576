"""JupyterHub 6 with oauthenticator 17's GenericOAuthenticator, configured as
docs/recipes/jupyterhub.md says, signs people in through the bridge: Chromium presses
JupyterHub's "Sign in with WeCom", scans the emulator's QR code as a member (or opens
JupyterHub inside the WeCom app), and lands on the Hub's home page. The Hub's own REST
API then says what it made of the claims: the user name, its groups, admin or not."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from apps_support import NODE_BIN, AppProcess, app_bin, unavailable
from browser.browser_support import WECOM_MOBILE_UA
from e2e.stack import Stack, free_port, start_stack

CLIENT = ("jupyterhub", "jupyterhub-secret-0123456789abcdef")
API_TOKEN = secrets.token_hex(24)

# The recipe's settings, with this test's URLs.
HUB_CONFIG = """
c = get_config()  # noqa: F821 - JupyterHub's config loader defines it
c.JupyterHub.bind_url = "{hub_url}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{workdir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{workdir}/cookie_secret"
c.JupyterHub.pid_file = "{workdir}/jupyterhub.pid"
# No notebook server is spawned here: the login is what is tested.
c.JupyterHub.redirect_to_server = False
c.JupyterHub.implicit_spawn_seconds = 0
c.JupyterHub.services = [{{"name": "checker", "api_token": "{api_token}"}}]
c.JupyterHub.load_roles = [{{"name": "checker", "services": ["checker"],
                             "scopes": ["read:users", "read:groups"]}}]

c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.login_service = "WeCom"
c.GenericOAuthenticator.client_id = "{client_id}"
c.GenericOAuthenticator.client_secret = "{client_secret}"
c.GenericOAuthenticator.oauth_callback_url = "{hub_url}hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = "{bridge}/authorize"
c.GenericOAuthenticator.token_url = "{bridge}/token"
c.GenericOAuthenticator.userdata_url = "{bridge}/userinfo"
c.GenericOAuthenticator.scope = ["openid", "profile", "email", "groups", "offline_access"]
c.GenericOAuthenticator.username_claim = "preferred_username"
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"
c.GenericOAuthenticator.allowed_groups = {{"研发中心/平台部", "管理层"}}
c.GenericOAuthenticator.admin_groups = {{"管理层"}}
c.GenericOAuthenticator.enable_auth_state = True
c.GenericOAuthenticator.refresh_pre_spawn = True
c.GenericOAuthenticator.logout_redirect_url = (
    "{bridge}/end_session?client_id={client_id}"
    "&post_logout_redirect_uri={hub_url_quoted}hub%2Flogin")
"""


@pytest.fixture(scope="module")
def bridge(tmp_path_factory) -> Iterator[tuple[Stack, int]]:
    hub_port = free_port()
    extra = f"""
[[clients]]
client_id = "{CLIENT[0]}"
client_secret = "{CLIENT[1]}"
redirect_uris = ["http://127.0.0.1:{hub_port}/hub/oauth_callback"]
post_logout_redirect_uris = ["http://127.0.0.1:{hub_port}/hub/login"]
refresh_tokens = "offline_access"
"""
    s = start_stack(tmp_path_factory.mktemp("jupyterhub-bridge"), extra_config=extra)
    yield s, hub_port
    s.stop()


@pytest.fixture(scope="module")
def hub(bridge, tmp_path_factory) -> Iterator[str]:
    stack, port = bridge
    jupyterhub = app_bin("jupyterhub", "jupyterhub")
    chp = NODE_BIN / "configurable-http-proxy"
    if not chp.exists():
        unavailable(f"configurable-http-proxy (npm) is not installed in {chp.parent}")
    workdir: Path = tmp_path_factory.mktemp("jupyterhub")
    url = f"http://127.0.0.1:{port}/"
    config = workdir / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG.format(
        hub_url=url, hub_port=free_port(), proxy_api_port=free_port(), chp=str(chp),
        workdir=workdir, api_token=API_TOKEN, client_id=CLIENT[0], client_secret=CLIENT[1],
        bridge=stack.bridge_url, hub_url_quoted=quote(url, safe="")), encoding="utf-8")
    app = AppProcess([str(jupyterhub), "-f", str(config)], workdir, url + "hub/health",
                     env={"JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32)})
    yield url
    app.stop()


def hub_api(hub: str, path: str) -> requests.Response:
    return requests.get(f"{hub}hub/api/{path}", timeout=10,
                        headers={"Authorization": f"token {API_TOKEN}"})


def sign_in_with_wecom(page, hub: str) -> None:
    page.goto(hub + "hub/login")
    page.get_by_role("button", name="Sign in with WeCom").click()


def test_jupyterhub_qr_login_makes_an_admin_with_wecom_groups(hub, bridge, new_page):
    stack, _ = bridge
    page = new_page()
    sign_in_with_wecom(page, hub)
    page.wait_for_url(f"{stack.emulator_url}/wwlogin/sso/login?**")  # the QR page
    page.click('[data-userid="zhangsan"]')  # zhangsan scans it with the WeCom app
    page.wait_for_url(hub + "hub/home")
    assert "zhangsan" in page.content()
    user = hub_api(hub, "users/zhangsan").json()
    assert user["name"] == "zhangsan"  # username_claim = preferred_username
    assert user["admin"] is True  # admin_groups = {"管理层"}
    # manage_groups + auth_state_groups_key: every WeCom group, as the userinfo gives it.
    assert set(user["groups"]) == {"研发中心/平台部", "全体研发", "管理层"}
    members = hub_api(hub, "groups/" + requests.utils.quote("研发中心/平台部", safe="")).json()
    assert "zhangsan" in members["users"]


def test_jupyterhub_in_app_login_inside_the_wecom_app(hub, bridge, new_page):
    """Inside the WeCom app the phone's member signs in without a scan, after agreeing
    to share the email (JupyterHub asks for the email scope): wangwu, 研发中心 and 管理层."""
    stack, _ = bridge
    page = new_page(user_agent=WECOM_MOBILE_UA)
    page.context.add_cookies([{"name": "emu_userid", "value": "wangwu",
                               "url": stack.emulator_url + "/"}])
    sign_in_with_wecom(page, hub)
    page.wait_for_url(f"{stack.emulator_url}/connect/oauth2/authorize?**")  # WeCom asks
    page.click("#allow")
    page.wait_for_url(hub + "hub/home")
    user = hub_api(hub, "users/wangwu").json()
    assert user["admin"] is True
    assert {"研发中心", "管理层"} <= set(user["groups"])


def test_jupyterhub_member_outside_allowed_groups_is_refused(hub, bridge, new_page):
    """allowed_groups matches the claim's values exactly: lisi's department is
    研发中心/平台部/SRE组, a sub-department, which is not 研发中心/平台部 (unless the
    bridge's [groups] parents = true adds the parents to the claim)."""
    stack, _ = bridge
    page = new_page()
    sign_in_with_wecom(page, hub)
    page.wait_for_url(f"{stack.emulator_url}/wwlogin/sso/login?**")
    page.click('[data-userid="lisi"]')
    page.wait_for_url(hub + "hub/oauth_callback?**")
    assert "403" in page.content() or "Forbidden" in page.content()
    assert hub_api(hub, "users/lisi").status_code == 404


def test_jupyterhub_logout_ends_the_bridge_session_too(hub, bridge, new_page):
    """logout_redirect_url sends the browser to the bridge's end_session, which ends the
    bridge session and returns to the Hub's login page: the next sign-in needs a scan."""
    stack, _ = bridge
    page = new_page()
    sign_in_with_wecom(page, hub)
    page.click('[data-userid="zhangsan"]')
    page.wait_for_url(hub + "hub/home")
    page.goto(hub + "hub/logout")
    page.wait_for_url(lambda u: u.startswith(hub + "hub/login")
                      or urlsplit(u).path == urlsplit(stack.bridge_url + "/end_session").path)
    if not page.url.startswith(hub):  # the bridge asks to confirm a logout without a hint
        page.locator("form button").first.click()
        page.wait_for_url(hub + "hub/login**")
    sign_in_with_wecom(page, hub)
    page.wait_for_url(f"{stack.emulator_url}/wwlogin/sso/login?**")  # a new scan
