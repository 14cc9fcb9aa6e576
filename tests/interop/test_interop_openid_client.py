"""panva's openid-client (npm; an OpenID-certified RP library with strict checks of
every response) logs in through the bridge and the WeCom emulator.

The Node side (node/rp.mjs) does discovery, builds the authorization URL (PKCE S256,
nonce, state), prints it, reads the callback URL from stdin, redeems the code with all
of openid-client's validation on (including the ID token signature against jwks_uri),
calls userinfo, refreshes when a refresh token came, and prints the results as JSON.
`make test` installs it with `npm ci` (package-lock.json pins every package)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e.stack import browser, qr_login

from .conftest import (
    NODE_CLI,
    NODE_ES256,
    NODE_WEB,
    NODE_WEB_LOGOUT,
    NODE_WEB_REDIRECT,
)
from .support import MEMBER, unavailable

NODE_DIR = Path(__file__).parent / "node"
FIX = "Node.js 20 or later with npm, then `make test` (or `npm ci` in tests/interop/node)"


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        unavailable("the openid-client tests need Node.js: no `node` on PATH", FIX)
    major = subprocess.run([path, "-p", "process.versions.node.split('.')[0]"],
                           capture_output=True, text=True, timeout=30).stdout.strip()
    if not major.isdigit() or int(major) < 20:
        unavailable(f"openid-client 6 needs Node.js 20 or later, found {major or '?'}", FIX)
    if not (NODE_DIR / "node_modules" / "openid-client" / "package.json").exists():
        unavailable("openid-client is not installed in tests/interop/node", FIX)
    return path


class NodeRP:
    """One run of node/rp.mjs: the authorization URL first, then the results."""

    def __init__(self, node: str, settings: dict[str, Any]):
        self.proc = subprocess.Popen(
            [node, "rp.mjs", json.dumps(settings)], cwd=NODE_DIR, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def authorization_url(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            pytest.fail(f"node printed no authorization URL: {self.proc.stderr.read()}")
        first = json.loads(line)
        assert "authorization_url" in first, first
        return first["authorization_url"]

    def finish(self, callback_url: str) -> dict[str, Any]:
        try:
            stdout, stderr = self.proc.communicate(callback_url + "\n", timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            stdout, stderr = self.proc.communicate()
            pytest.fail(f"node did not finish: {stdout} {stderr}")
        lines = [ln for ln in stdout.splitlines() if ln.strip()]
        assert lines, f"node printed nothing (exit {self.proc.returncode}): {stderr}"
        result = json.loads(lines[-1])
        assert result.get("ok") is True, f"openid-client refused: {result} {stderr}"
        assert self.proc.returncode == 0, stderr
        return result

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def login(node: str, stack, settings: dict[str, Any], userid: str = MEMBER,
          b=None) -> dict[str, Any]:
    rp = NodeRP(node, {"issuer": stack.bridge_url, **settings})
    try:
        url = rp.authorization_url()
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["nonce"] and query["state"]
        back = qr_login(stack, url, userid, b=b)
        assert back.split("?")[0].split("//", 1)[1].split("/", 1)[1] == \
            settings["redirect_uri"].split("//", 1)[1].split("/", 1)[1]
        return rp.finish(back)
    finally:
        rp.kill()


def test_openid_client_confidential_login_userinfo_refresh_and_logout(node, interop_stack):
    b = browser()
    r = login(node, interop_stack, {
        "client_id": NODE_WEB[0], "client_secret": NODE_WEB[1],
        "redirect_uri": NODE_WEB_REDIRECT, "scope": "openid profile email offline_access",
        "post_logout_redirect_uri": NODE_WEB_LOGOUT}, b=b)
    assert r["server"]["issuer"] == interop_stack.bridge_url
    assert r["token_type"].lower() == "bearer"
    assert r["id_token_header"]["alg"] == "RS256" and r["id_token_header"]["kid"]
    claims = r["id_token_claims"]
    assert claims["iss"] == interop_stack.bridge_url
    assert claims["sub"] == MEMBER
    assert claims["aud"] in (NODE_WEB[0], [NODE_WEB[0]])
    assert isinstance(claims["auth_time"], int)
    assert claims["email"] == f"{MEMBER}@corp.example"
    assert claims["email_verified"] is True  # template_email_verified from the environment
    info = r["userinfo"]
    assert info["sub"] == MEMBER
    assert info["preferred_username"] == MEMBER
    assert isinstance(info["name"], str) and info["name"]
    assert info["email"] == claims["email"]
    # Introspection (RFC 7662) of its own access token.
    assert r["introspection"]["active"] is True
    assert r["introspection"]["client_id"] == NODE_WEB[0]
    # offline_access: a refresh token that rotates; the refreshed ID token passed
    # openid-client's checks (same iss, sub, aud) and the new access token works.
    assert r["has_refresh_token"] is True
    assert r["refreshed"]["rotated"] is True
    if r["refreshed"]["id_token_claims"]:
        assert r["refreshed"]["id_token_claims"]["sub"] == MEMBER
    assert r["refreshed"]["userinfo"]["sub"] == MEMBER
    assert r["reused_refresh_token"] == {"accepted": False, "error": "invalid_grant"}
    # RP-initiated logout with the URL openid-client built: back to the registered
    # post_logout_redirect_uri with the state.
    out = b.get(r["end_session_url"], allow_redirects=False)
    assert out.status_code in (200, 302), out.text[:300]
    if out.status_code == 302:
        assert out.headers["Location"] == NODE_WEB_LOGOUT + "?state=bye"
    else:
        assert NODE_WEB_LOGOUT in out.text


def test_openid_client_public_client_pkce_loopback_any_port(node, interop_stack):
    """kubelogin's shape: no secret, PKCE, a loopback redirect on a port of its own."""
    r = login(node, interop_stack, {
        "client_id": NODE_CLI, "redirect_uri": "http://127.0.0.1:38123/callback",
        "scope": "openid profile email offline_access"})
    assert r["id_token_claims"]["aud"] in (NODE_CLI, [NODE_CLI])
    assert r["id_token_claims"]["preferred_username"] == MEMBER
    assert r["has_refresh_token"] is True
    assert r["refreshed"]["userinfo"]["sub"] == MEMBER


def test_openid_client_es256_id_token_for_a_client_that_asks(node, interop_stack):
    r = login(node, interop_stack, {
        "client_id": NODE_ES256[0], "client_secret": NODE_ES256[1],
        "id_token_signed_response_alg": "ES256",
        "redirect_uri": NODE_WEB_REDIRECT, "scope": "openid profile"})
    assert r["id_token_header"]["alg"] == "ES256"
    assert r["id_token_claims"]["sub"] == MEMBER
    assert "email" not in r["userinfo"]  # the email scope was not asked for
    assert r["has_refresh_token"] is False


def test_openid_client_refuses_a_tampered_callback(node, interop_stack):
    """The strict RP notices a state that is not its own (a sanity check that the
    harness really runs openid-client's validation)."""
    rp = NodeRP(node, {"issuer": interop_stack.bridge_url, "client_id": NODE_WEB[0],
                       "client_secret": NODE_WEB[1], "redirect_uri": NODE_WEB_REDIRECT,
                       "scope": "openid"})
    try:
        url = rp.authorization_url()
        back = qr_login(interop_stack, url, MEMBER)
        tampered = back.replace("state=", "state=x", 1)
        stdout, _ = rp.proc.communicate(tampered + "\n", timeout=60)
    finally:
        rp.kill()
    result = json.loads(stdout.splitlines()[-1])
    assert result["ok"] is False
    assert rp.proc.returncode == 1
    assert result["step"] == "authorization_code_grant", result
    assert "state" in json.dumps(result.get("cause")).lower(), result
