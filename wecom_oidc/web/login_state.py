"""A login in flight across the WeCom hop: the authorization request saved under a
single-use `state`, and bound to the browser that started it.

The binding defends against login CSRF (RFC 9700 §4.7): without it, anyone could
start a login, approve it with their own WeCom account, and get a victim to open
the unfollowed `/wecom/callback?code=..&state=..` link, leaving the victim's browser
signed in as the attacker for every app. The browser gets an HttpOnly cookie holding
a random key at /authorize; the saved login keeps only its hash; the callback is
honoured only when the same browser brings the key back. The key is reused while
the cookie lives, so several logins in several tabs all stay valid."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from flask import request
from werkzeug.wrappers import Response

from ..errors import LoginFromOtherBrowser, LoginStateError
from ..oidc.provider import Provider
from ..store.kinds import Kind
from .session_cookie import set_cookie

LOGIN = Kind.LOGIN
BINDING_COOKIE_SUFFIX = "_login"

# What a login needs after the WeCom hop (OAuth 2.0 / OIDC Core §3.1.2.1, PKCE).
# Anything else is ignored as the specs require, and never stored: an unauthenticated
# /authorize must not be able to park arbitrary data in the store. id_token_hint
# is only read at /authorize (to decide whether the session answers).
LOGIN_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                "code_challenge", "code_challenge_method", "prompt", "max_age",
                "ui_locales", "claims_locales", "login_hint", "acr_values", "display",
                "response_mode")


def new_login_state() -> str:
    """192 random bits as hex: within WeCom's state rule (a-zA-Z0-9, at most 128
    bytes, wecom-api.md §2)."""
    return secrets.token_hex(24)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _cookie_name(provider: Provider) -> str:
    """On https, a `__Host-` cookie: the browser accepts it only from this exact host,
    Secure, for path /, so a sibling subdomain cannot plant a key it knows (cookie
    tossing would otherwise let it pre-bind a victim's browser to its own login)."""
    s = provider.settings
    prefix = "__Host-" if s.issuer.startswith("https://") else ""
    return prefix + s.session.cookie_name + BINDING_COOKIE_SUFFIX


def _browser_key(provider: Provider) -> str:
    """This browser's binding key: the one it already holds, or a new one."""
    held = request.cookies.get(_cookie_name(provider), "")
    return held if len(held) == 43 and held.isascii() else secrets.token_urlsafe(32)


def save_login(provider: Provider, params: Mapping[str, str]) -> tuple[str, str]:
    """Save the authorization request for the callback, bound to this browser.
    Returns (state to send upstream, browser key for `bind_browser`)."""
    kept = {k: params[k] for k in LOGIN_PARAMS if params.get(k)}
    return save_bound(provider, LOGIN, {"params": kept})


def save_bound(provider: Provider, kind: str, record: dict[str, Any]) -> tuple[str, str]:
    """Save `record` under a new state, bound to this browser (any login that
    crosses the WeCom hop: /authorize's, the device page's). Returns (state,
    browser key for `bind_browser`)."""
    key = _browser_key(provider)
    state = new_login_state()
    provider.store.put(kind, state, {**record, "browser": _digest(key)},
                       provider.settings.tokens.login_state_ttl)
    return state, key


def bind_browser(provider: Provider, resp: Response, key: str) -> Response:
    """Hand the browser its binding key. The cookie lives as long as the newest
    login it binds; SameSite=Lax still reaches the callback, a top-level GET
    navigation from WeCom's page."""
    s = provider.settings
    https = s.issuer.startswith("https://")
    set_cookie(resp, _cookie_name(provider), key, max_age=s.tokens.login_state_ttl,
               path="/" if https else (s.issuer_path or "/"), secure=https)
    return resp


def take_login(provider: Provider, state: str) -> dict[str, Any]:
    """The saved authorization request for `state`, used up. Raises LoginStateError
    when it is unknown, expired or used, and LoginFromOtherBrowser when this browser
    did not start it (the attacker's login is spent; this browser's session is not
    touched)."""
    return take_bound(provider, LOGIN, state)["params"]


def take_bound(provider: Provider, kind: str, state: str) -> dict[str, Any]:
    """The record `save_bound` saved under `state`, used up; the errors of take_login."""
    pending = provider.store.take(kind, state) if 0 < len(state) <= 128 else None
    if pending is None:
        raise LoginStateError()
    key = request.cookies.get(_cookie_name(provider), "")
    if not key or not hmac.compare_digest(_digest(key), str(pending.get("browser", ""))):
        raise LoginFromOtherBrowser()
    return pending
