"""The relying parties in docs/recipes/ that cannot run here (Grafana, Keycloak, Argo CD,
Kubernetes, oauth2-proxy, Vault, Gitea, JupyterHub): the claims each recipe maps exist,
with the types that app expects, where that app reads them (ID token or userinfo).

Each login is a real one through the bridge and the emulator; the ID token is verified
against the JWKS with joserfc (not the bridge's own code)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from e2e.stack import browser, qr_login
from joserfc import jwt
from joserfc.jwk import KeySet

from .conftest import (
    ARGOCD,
    ARGOCD_REDIRECT,
    GITEA,
    GITEA_REDIRECT,
    GITEA_ROOT,
    KEYCLOAK,
    KEYCLOAK_REDIRECT,
    KUBELOGIN,
    RECIPES,
    RECIPES_REDIRECT,
    VAULT,
)
from .support import MEMBER


def discovery(stack) -> dict[str, Any]:
    return requests.get(stack.bridge_url + "/.well-known/openid-configuration", timeout=5).json()


def login(stack, *, scope: str, client_id: str, client_secret: str | None,
          redirect_uri: str, b: requests.Session | None = None) -> dict[str, Any]:
    """Code flow with PKCE, as the apps do; returns the token response, the verified
    ID token claims and header, and userinfo. `b` keeps the browser's bridge session."""
    meta = discovery(stack)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    url = meta["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": scope, "state": state, "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256"})
    back = qr_login(stack, url, MEMBER, b=b)
    q = parse_qs(urlsplit(back).query)
    assert q["state"] == [state]
    form = {"grant_type": "authorization_code", "code": q["code"][0],
            "redirect_uri": redirect_uri, "code_verifier": verifier}
    auth = None
    if client_secret is None:
        form["client_id"] = client_id
    else:
        auth = (client_id, client_secret)
    r = requests.post(meta["token_endpoint"], data=form, auth=auth, timeout=10)
    assert r.status_code == 200, r.text
    tokens = r.json()
    claims, header = verify_id_token(meta, tokens["id_token"], client_id)
    assert claims["nonce"] == nonce
    info = requests.get(meta["userinfo_endpoint"], timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200, info.text
    return {"meta": meta, "tokens": tokens, "id": claims, "header": header,
            "userinfo": info.json()}


def verify_id_token(meta: dict[str, Any], id_token: str, client_id: str):
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
    token = jwt.decode(id_token, keys, algorithms=meta["id_token_signing_alg_values_supported"])
    claims = token.claims
    assert claims["iss"] == meta["issuer"]  # exact: Kubernetes, oauth2-proxy, Argo CD
    assert claims["aud"] in (client_id, [client_id])
    return claims, token.header


@pytest.fixture(scope="module")
def web(interop_stack) -> dict[str, Any]:
    """A confidential web app (Grafana, Argo CD, oauth2-proxy, Gitea, Vault, JupyterHub,
    Keycloak are all this shape), asking for groups as the recipes do."""
    assert "groups" in discovery(interop_stack)["scopes_supported"]
    scope = "openid profile email offline_access groups"
    return login(interop_stack, scope=scope, client_id=RECIPES[0], client_secret=RECIPES[1],
                 redirect_uri=RECIPES_REDIRECT)


@pytest.fixture(scope="module")
def kubelogin(interop_stack) -> dict[str, Any]:
    """kubelogin: public client, PKCE, a loopback redirect on a port of its own."""
    scope = "openid profile email offline_access groups"
    # kubelogin listens on localhost:8000, or 18000 when that is taken.
    return login(interop_stack, scope=scope, client_id=KUBELOGIN, client_secret=None,
                 redirect_uri="http://localhost:18000")


def assert_groups(claims: dict[str, Any], where: str, meta: dict[str, Any]) -> None:
    assert "groups" in meta["scopes_supported"], "discovery must offer the groups scope"
    assert "groups" in claims, f"groups scope granted but no groups claim in the {where}"
    groups = claims["groups"]
    assert isinstance(groups, list), f"groups in the {where} must be a flat array"
    assert all(isinstance(g, str) and g for g in groups), groups


def assert_email(claims: dict[str, Any], where: str) -> None:
    assert isinstance(claims.get("email"), str) and "@" in claims["email"], where
    # Set through [claims] template_email_verified in this stack: a real bool, not "true".
    assert claims.get("email_verified") is True, where


# --- discovery: what every recipe points the app at ----------------------------------

def test_recipes_discovery_has_every_endpoint_the_recipes_name(interop_stack):
    meta = discovery(interop_stack)
    base = interop_stack.bridge_url
    assert meta["issuer"] == base
    assert meta["authorization_endpoint"] == base + "/authorize"
    assert meta["token_endpoint"] == base + "/token"
    assert meta["userinfo_endpoint"] == base + "/userinfo"
    assert meta["jwks_uri"] == base + "/jwks.json"
    assert meta["end_session_endpoint"] == base + "/end_session"
    assert meta["revocation_endpoint"] == base + "/revoke"
    assert meta["introspection_endpoint"] == base + "/introspect"
    assert "S256" in meta["code_challenge_methods_supported"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert {"openid", "profile", "email", "offline_access"} <= set(meta["scopes_supported"])
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(
        meta["token_endpoint_auth_methods_supported"])


# --- Grafana (generic_oauth) ----------------------------------------------------------

def test_recipe_grafana_login_name_email_in_id_token_and_userinfo(web):
    # login_attribute_path = preferred_username, name_attribute_path = name,
    # email_attribute_path = email: Grafana looks in the ID token, then userinfo.
    for where, claims in (("ID token", web["id"]), ("userinfo", web["userinfo"])):
        assert claims["preferred_username"] == MEMBER, where
        assert isinstance(claims["name"], str) and claims["name"], where
        assert_email(claims, where)
    assert "refresh_token" in web["tokens"]  # use_refresh_token with offline_access


def test_recipe_grafana_role_attribute_path_on_groups(web):
    # role_attribute_path: contains(groups[*], '管理层') && 'Admin' || ... (a string array).
    assert_groups(web["id"], "ID token", web["meta"])
    assert_groups(web["userinfo"], "userinfo", web["meta"])


def test_recipe_grafana_role_attribute_path_on_role(web):
    # role_attribute_path = role: one string, Viewer/Editor/Admin/GrafanaAdmin.
    # zhangsan carries the tag 管理层: the first matching role in config order.
    assert web["id"].get("role") == "Admin", web["id"]
    assert web["userinfo"].get("role") == "Admin", web["userinfo"]


# --- Kubernetes API server + kubelogin -------------------------------------------------

def test_recipe_kubernetes_id_token_alone_carries_username_and_email(kubelogin):
    # The API server reads only the ID token: --oidc-username-claim preferred_username
    # (or email, which then needs email_verified true).
    claims = kubelogin["id"]
    assert kubelogin["header"]["alg"] == "RS256"  # --oidc-signing-algs default
    assert isinstance(claims["preferred_username"], str) and claims["preferred_username"]
    assert_email(claims, "ID token")
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    # kubelogin caches the refresh token (offline_access) and refreshes silently.
    assert kubelogin["tokens"].get("refresh_token")


def test_recipe_kubernetes_groups_claim_is_in_the_id_token(kubelogin):
    assert_groups(kubelogin["id"], "ID token", kubelogin["meta"])


def test_recipe_kubernetes_refreshed_id_token_keeps_the_claims(interop_stack, kubelogin):
    meta = kubelogin["meta"]
    r = requests.post(meta["token_endpoint"], timeout=10, data={
        "grant_type": "refresh_token", "client_id": KUBELOGIN,
        "refresh_token": kubelogin["tokens"]["refresh_token"]})
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert refreshed["refresh_token"] != kubelogin["tokens"]["refresh_token"]  # rotated
    claims, _ = verify_id_token(meta, refreshed["id_token"], KUBELOGIN)
    assert claims["sub"] == kubelogin["id"]["sub"]
    assert claims["preferred_username"] == kubelogin["id"]["preferred_username"]
    assert claims.get("email") == kubelogin["id"]["email"]
    assert claims["groups"] == kubelogin["id"]["groups"]


# --- Argo CD -----------------------------------------------------------------------------

def test_recipe_argocd_rbac_groups_and_display_claims_in_the_id_token(web):
    # Argo CD shows email/name and maps RBAC from `groups` in the ID token.
    assert isinstance(web["id"]["name"], str)
    assert_email(web["id"], "ID token")
    assert_groups(web["id"], "ID token", web["meta"])


# --- oauth2-proxy --------------------------------------------------------------------------

def test_recipe_oauth2_proxy_email_verified_is_true_in_the_id_token(web):
    # oauth2-proxy refuses email_verified false unless --insecure-oidc-allow-unverified-email.
    assert_email(web["id"], "ID token")
    assert web["id"]["iss"] == web["meta"]["issuer"]


# --- Vault / OpenBao -----------------------------------------------------------------------

def test_recipe_vault_user_claim_groups_and_bound_audience(interop_stack, web):
    # user_claim = "preferred_username", bound_audiences = [client_id], groups_claim = "groups".
    assert web["id"]["aud"] in (RECIPES[0], [RECIPES[0]])
    assert isinstance(web["id"]["preferred_username"], str)
    assert_groups(web["id"], "ID token", web["meta"])


def test_recipe_vault_cli_loopback_redirect_any_port_is_accepted(interop_stack):
    # `vault login -method=oidc` listens on localhost:8250; a registered loopback
    # redirect accepts any port (RFC 8252), so `port=8251` on the CLI still works.
    url = interop_stack.bridge_url + "/authorize?" + urlencode({
        "response_type": "code", "client_id": VAULT[0], "scope": "openid",
        "redirect_uri": "http://localhost:8251/oidc/callback", "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"})
    r = requests.get(url, allow_redirects=False, timeout=5)
    assert r.status_code == 302, r.text[:300]
    assert urlsplit(r.headers["Location"]).path == "/wwlogin/sso/login"


# --- Gitea / Forgejo, JupyterHub, Keycloak -------------------------------------------------

def test_recipe_gitea_and_jupyterhub_userinfo_username_email_groups(web):
    # Gitea: USERNAME = preferred_username, email for auto-registration, group claim;
    # JupyterHub: username_claim and claim_groups_key read from userinfo.
    info = web["userinfo"]
    assert info["preferred_username"] == MEMBER
    assert_email(info, "userinfo")
    assert_groups(info, "userinfo", web["meta"])


def test_recipe_keycloak_sub_is_stable_and_kid_resolves(interop_stack, web):
    # Keycloak links the brokered user by `sub` and validates signatures by kid.
    again = login(interop_stack, scope="openid", client_id=RECIPES[0],
                  client_secret=RECIPES[1], redirect_uri=RECIPES_REDIRECT)
    assert again["id"]["sub"] == web["id"]["sub"] == MEMBER
    jwks = requests.get(web["meta"]["jwks_uri"], timeout=5).json()
    assert web["header"]["kid"] in {k["kid"] for k in jwks["keys"]}


def test_recipe_keycloak_family_and_given_name_for_a_chinese_name(interop_stack):
    # extra_claims = { family_name = "family_name", given_name = "given_name" }: Keycloak
    # 24+ requires a last name and reads these before splitting `name` at a space.
    kc = login(interop_stack, scope="openid profile email", client_id=KEYCLOAK[0],
               client_secret=KEYCLOAK[1], redirect_uri=KEYCLOAK_REDIRECT)
    for where, claims in (("ID token", kc["id"]), ("userinfo", kc["userinfo"])):
        assert claims["name"] == "张三", where
        assert (claims["family_name"], claims["given_name"]) == ("张", "三"), where
    assert {"family_name", "given_name"} <= set(kc["meta"]["claims_supported"])


def test_recipe_keycloak_backchannel_logout_sid_is_the_session_state(interop_stack):
    # Keycloak keeps the token response's session_state and ends the brokered session
    # whose session_state equals a back-channel logout token's sid (which is the ID
    # token's sid: tests/e2e/test_e2e_op_logout.py follows it into the logout token).
    kc = login(interop_stack, scope="openid profile email", client_id=KEYCLOAK[0],
               client_secret=KEYCLOAK[1], redirect_uri=KEYCLOAK_REDIRECT)
    assert kc["tokens"]["session_state"] == kc["id"]["sid"]
    assert "refresh_token" not in kc["tokens"]  # refresh_tokens = "never"


def test_recipe_gitea_signout_returns_to_its_registered_root_url(interop_stack):
    # Gitea 1.26 signs out at the bridge with post_logout_redirect_uri = its ROOT_URL.
    b = browser()
    login(interop_stack, scope="openid profile email groups", client_id=GITEA[0],
          client_secret=GITEA[1], redirect_uri=GITEA_REDIRECT, b=b)
    r = b.get(interop_stack.bridge_url + "/end_session", allow_redirects=False, params={
        "client_id": GITEA[0], "post_logout_redirect_uri": GITEA_ROOT})
    # Straight back, or (no id_token_hint) a page asking to confirm that continues there.
    assert r.status_code in (200, 302), r.text[:300]
    if r.status_code == 302:
        assert r.headers["Location"] == GITEA_ROOT
    else:
        assert GITEA_ROOT in r.text and "not registered" not in r.text


def test_recipe_gitea_unregistered_signout_url_is_refused(interop_stack):
    # What the recipe's post_logout_redirect_uris prevents: an error page, no redirect.
    r = requests.get(interop_stack.bridge_url + "/end_session", allow_redirects=False,
                     timeout=5, params={"client_id": RECIPES[0],
                                        "post_logout_redirect_uri": GITEA_ROOT})
    assert r.status_code == 400
    assert "Location" not in r.headers


def test_recipe_oauth2_proxy_backend_logout_url_ends_the_bridge_session(interop_stack):
    # backend_logout_url = ".../end_session?id_token_hint={id_token}": oauth2-proxy's server
    # GETs it (no browser cookie) and wants 200 or 204; the browser's bridge session ends.
    b = browser()
    web = login(interop_stack, scope="openid profile email", client_id=RECIPES[0],
                client_secret=RECIPES[1], redirect_uri=RECIPES_REDIRECT, b=b)
    template = interop_stack.bridge_url + "/end_session?id_token_hint={id_token}"
    r = requests.get(template.replace("{id_token}", web["tokens"]["id_token"]), timeout=10)
    assert r.status_code in (200, 204)
    again = b.get(web["meta"]["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": RECIPES[0], "redirect_uri": RECIPES_REDIRECT,
        "scope": "openid", "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"}), allow_redirects=False)
    assert urlsplit(again.headers["Location"]).path == "/wwlogin/sso/login"  # a new scan


def test_recipe_oauth2_proxy_email_claim_is_email_not_the_userid(web):
    # oidc_email_claim = "email" (never user_id_claim = preferred_username): the email
    # claim holds an address, and email_verified is what oauth2-proxy checks with it.
    assert "@" in web["id"]["email"] and web["id"]["email"] != web["id"]["preferred_username"]
    assert web["id"]["email_verified"] is True


def test_recipe_argocd_before_3_1_browser_redeeming_without_secret_is_refused(interop_stack):
    # Argo CD < 3.1 with enablePKCEAuthentication: the browser redeems the code without
    # the secret; a confidential client's code is refused then (the recipe's warning).
    meta = discovery(interop_stack)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    back = qr_login(interop_stack, meta["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": ARGOCD[0], "redirect_uri": ARGOCD_REDIRECT,
        "scope": "openid", "state": "s", "code_challenge": challenge,
        "code_challenge_method": "S256"}), MEMBER)
    code = parse_qs(urlsplit(back).query)["code"][0]
    r = requests.post(meta["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": ARGOCD_REDIRECT,
        "code_verifier": verifier, "client_id": ARGOCD[0]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
