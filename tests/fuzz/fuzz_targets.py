"""Every endpoint the bridge serves, as the fuzzer sees it: one `Target` each.
A new endpoint is one more entry in TARGETS (test_fuzz_targets_cover_every_route
fails until it has one)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from e2e.stack import CLI_REDIRECT, CONFIDENTIAL, PUBLIC, WEB_REDIRECT
from fuzz_values import AUTH, BODY, Live

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
PORTAL = ("portal", "portal-secret-0123456789abcdef0123", "https://portal.example/cb",
          "https://portal.example/bye")
TV = "tv"  # a public client with the device grant
# The rate limits stay on (their code is fuzzed too) but never trip, and failed client
# authentications, most of what the fuzzer sends, are not held.
UNLIMITED = "1000000/1m"
EVENTS_TOKEN, EVENTS_AES_KEY = "FuzzToken42", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
EXTRA_CONFIG = f"""
[offboarding]
callback_token = "{EVENTS_TOKEN}"
callback_aes_key = "{EVENTS_AES_KEY}"
sweep_interval = 0

[limits]
failed_auth_delay = 0
failed_auth_per_client_ip = "{UNLIMITED}"
failed_auth_per_client = "{UNLIMITED}"
failed_auth_per_ip = "{UNLIMITED}"
authorize_per_ip = "{UNLIMITED}"
authorize_per_client = "{UNLIMITED}"
callback_per_ip = "{UNLIMITED}"
callback_per_client = "{UNLIMITED}"
token_per_ip = "{UNLIMITED}"
token_per_client = "{UNLIMITED}"
introspect_per_ip = "{UNLIMITED}"
introspect_per_client = "{UNLIMITED}"
revoke_per_ip = "{UNLIMITED}"
revoke_per_client = "{UNLIMITED}"
userinfo_per_ip = "{UNLIMITED}"
userinfo_per_client = "{UNLIMITED}"

[[clients]]
client_id = "{PORTAL[0]}"
client_secret = "{PORTAL[1]}"
redirect_uris = ["{PORTAL[2]}"]
post_logout_redirect_uris = ["{PORTAL[3]}"]
refresh_tokens = "always"

[[clients]]
client_id = "{TV}"
grant_types = ["{DEVICE_CODE}"]
refresh_tokens = "always"
"""
# Where a redirect may go: these exactly, or (http loopback) on any port (RFC 8252 §7.3).
REGISTERED = (WEB_REDIRECT, CLI_REDIRECT, PORTAL[2], PORTAL[3])
SECRETS = ((CONFIDENTIAL[0], CONFIDENTIAL[1]), (PORTAL[0], PORTAL[1]))
ALL_IDS = (CONFIDENTIAL[0], PUBLIC, PORTAL[0], TV, "nobody")


@dataclass(frozen=True)
class Target:
    """One endpoint: its path, the methods it answers, the parameters it reads with
    some valid values each, and whether programs call it (errors must be JSON)."""

    name: str
    path: str
    methods: tuple[str, ...]
    params: dict[str, tuple[object, ...]] = field(default_factory=dict)
    usually: frozenset[str] = frozenset()  # parameters sent in most cases
    programmatic: bool = False
    clients: tuple[tuple[str, str], ...] = SECRETS
    # Valid requests the fuzzer starts from and breaks a little (AUTH: the header).
    templates: tuple[dict[str, object], ...] = ()


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


PORTAL_AUTH = basic(PORTAL[0], PORTAL[1])
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


AUTHORIZE_PARAMS: dict[str, tuple[object, ...]] = {
    "client_id": ALL_IDS,
    "redirect_uri": (*REGISTERED, "http://127.0.0.1:1/callback", "http://localhost/callback",
                     "http://127.0.0.1@evil.example/callback", "https://rp.example/callback/x",
                     "https://evil.example/callback", "http://[::1]:9/callback"),
    "response_type": ("code", "token", "id_token", "code id_token", "none"),
    "scope": ("openid", "openid profile email offline_access", "profile", "openid groups"),
    "state": ("s1", "state with space"),
    "nonce": ("n1",),
    "code_challenge": ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "short"),
    "code_challenge_method": ("S256", "plain"),
    "prompt": ("none", "login", "consent", "select_account", "none login"),
    "max_age": ("0", "3600", "1"),
    "id_token_hint": (Live("id_token"), "a.b.c"),
    "login_hint": ("zhangsan",),
    "ui_locales": ("en", "zh-CN"),
    "response_mode": ("query", "fragment", "form_post"),
    "request": ("eyJhbGciOiJub25lIn0.e30.",),
    "request_uri": ("https://rp.example/r",),
    "display": ("page", "popup"),
    "acr_values": ("1",),
    "claims": ('{"userinfo":{"email":null}}',),
}
TOKEN_PARAMS: dict[str, tuple[object, ...]] = {
    "grant_type": ("authorization_code", "refresh_token", DEVICE_CODE, "client_credentials",
                   "password", "implicit"),
    "code": (Live("code"), "spent-code"),
    "redirect_uri": REGISTERED,
    "code_verifier": (Live("code_verifier"), "x" * 43),
    "refresh_token": (Live("refresh_token"), "unknown"),
    "device_code": (Live("device_code"), "unknown"),
    "client_id": ALL_IDS,
    "client_secret": (CONFIDENTIAL[1], PORTAL[1], "wrong"),
    "scope": ("openid", "openid profile offline_access"),
}
TOKEN_ARG = {"token": (Live("access_token"), Live("refresh_token"), "unknown"),
             "token_type_hint": ("access_token", "refresh_token", "id_token"),
             "client_id": ALL_IDS, "client_secret": (CONFIDENTIAL[1], "wrong")}
TOKEN_ARG_TEMPLATES: tuple[dict[str, object], ...] = (
    {"token": Live("access_token"), AUTH: PORTAL_AUTH},
    {"token": Live("refresh_token"), "token_type_hint": "refresh_token",
     "client_id": PORTAL[0], "client_secret": PORTAL[1]})
NO_PARAMS: dict[str, tuple[object, ...]] = {}

TARGETS = [
    Target("discovery", "/.well-known/openid-configuration", ("GET",), NO_PARAMS,
           programmatic=True),
    Target("jwks", "/jwks.json", ("GET",), NO_PARAMS, programmatic=True),
    Target("healthz", "/healthz", ("GET",), NO_PARAMS, programmatic=True),
    Target("readyz", "/readyz", ("GET",), NO_PARAMS, programmatic=True),
    Target("metrics", "/metrics", ("GET",), NO_PARAMS),
    Target("authorize", "/authorize", ("GET", "POST"), AUTHORIZE_PARAMS,
           usually=frozenset({"client_id", "redirect_uri", "response_type", "scope"}),
           templates=(
               {"client_id": PORTAL[0], "redirect_uri": PORTAL[2], "response_type": "code",
                "scope": "openid profile", "state": "s1", "nonce": "n1"},
               {"client_id": PORTAL[0], "redirect_uri": PORTAL[2], "response_type": "code",
                "scope": "openid", "prompt": "none", "max_age": "3600",
                "id_token_hint": Live("id_token")},
               {"client_id": PUBLIC, "redirect_uri": "http://127.0.0.1:4711/callback",
                "response_type": "code", "scope": "openid", "code_challenge": CHALLENGE,
                "code_challenge_method": "S256"})),
    Target("wecom_callback", "/wecom/callback", ("GET",), {
        "state": (Live("login_state"), "0" * 48), "code": (Live("wecom_code"), "bad-code"),
        "appid": ("ww_emulated_corp",), "error": ("access_denied",)},
        usually=frozenset({"state", "code"}),
        templates=({"state": Live("login_state"), "code": Live("wecom_code")},)),
    Target("token", "/token", ("POST",), TOKEN_PARAMS, usually=frozenset({"grant_type"}),
           programmatic=True, templates=(
               {"grant_type": "authorization_code", "code": Live("code"),
                "redirect_uri": PORTAL[2], "code_verifier": Live("code_verifier"),
                AUTH: PORTAL_AUTH},
               {"grant_type": "authorization_code", "code": Live("code"),
                "redirect_uri": PORTAL[2], "code_verifier": Live("code_verifier"),
                "client_id": PORTAL[0], "client_secret": PORTAL[1]},
               {"grant_type": "refresh_token", "refresh_token": Live("refresh_token"),
                AUTH: PORTAL_AUTH},
               {"grant_type": "refresh_token", "refresh_token": Live("refresh_token"),
                "scope": "openid", "client_id": PORTAL[0], "client_secret": PORTAL[1]},
               {"grant_type": DEVICE_CODE, "device_code": Live("device_code"),
                "client_id": TV})),
    Target("userinfo", "/userinfo", ("GET", "POST"),
           {"access_token": (Live("access_token"), "a.b.c"), "schema": ("openid",)},
           programmatic=True, templates=({AUTH: "Bearer {access_token}"},
                                         {"access_token": Live("access_token")})),
    Target("revoke", "/revoke", ("POST",), TOKEN_ARG, usually=frozenset({"token"}),
           programmatic=True, templates=TOKEN_ARG_TEMPLATES),
    Target("introspect", "/introspect", ("POST",), TOKEN_ARG, usually=frozenset({"token"}),
           programmatic=True, templates=TOKEN_ARG_TEMPLATES),
    Target("end_session", "/end_session", ("GET", "POST"), {
        "id_token_hint": (Live("id_token"), "a.b.c"), "client_id": ALL_IDS,
        "post_logout_redirect_uri": (PORTAL[3], "https://evil.example/", WEB_REDIRECT),
        "state": ("s1",), "ui_locales": ("en",), "csrf": ("x",), "confirm": ("yes",)},
        templates=({"id_token_hint": Live("id_token"), "post_logout_redirect_uri": PORTAL[3],
                    "state": "s1"}, {"client_id": PORTAL[0]})),
    Target("wecom_events", "/wecom/events", ("GET", "POST"), {
        "msg_signature": (Live("ev_signature"), "0" * 40), "timestamp": (Live("ev_timestamp"),),
        "nonce": (Live("ev_nonce"),), "echostr": (Live("ev_echostr"),)},
        usually=frozenset({"msg_signature", "timestamp", "nonce"}),
        templates=({"msg_signature": Live("ev_signature"), "timestamp": Live("ev_timestamp"),
                    "nonce": Live("ev_nonce"), "echostr": Live("ev_echostr")},
                   {"msg_signature": Live("ev_post_signature"),
                    "timestamp": Live("ev_timestamp"), "nonce": Live("ev_nonce"),
                    BODY: Live("ev_body")})),
    Target("device_authorization", "/device/code", ("POST",), {
        "client_id": ALL_IDS, "scope": ("openid", "openid profile offline_access")},
        usually=frozenset({"client_id"}), programmatic=True, clients=((TV, ""), *SECRETS),
        templates=({"client_id": TV, "scope": "openid profile"},)),
    Target("device_page", "/device", ("GET", "POST"), {
        "user_code": (Live("user_code"), "BCDF-GHJK", "bcdfghjk"), "csrf": ("x",),
        "action": ("approve", "deny")},
        templates=({"user_code": Live("user_code")},
                   {"user_code": Live("user_code"), "action": "approve", "csrf": "x"})),
    Target("device_callback", "/device/callback", ("GET",), {
        "state": ("0" * 48,), "code": ("bad-code",), "appid": ("ww_emulated_corp",)},
        usually=frozenset({"state", "code"})),
]
