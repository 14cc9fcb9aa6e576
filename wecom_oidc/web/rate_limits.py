"""Which rate limits each endpoint answers to, checked before its view runs.

Per client IP (`request.remote_addr`: the peer, or with `[server] proxy_hops` the
address the trusted proxies saw) and per client on authorize, the WeCom callbacks,
token (and device authorization), introspect, revoke and userinfo. Failed client
authentications are counted apart, per client and address, per client and per
address; once over, the client is refused even with the right secret until the
window ends (online guessing of a secret stops there). Each failure is logged
(client id and address, never what was sent) and held `failed_auth_delay` seconds.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from urllib.parse import unquote

from flask import Flask, Response, current_app, request

from ..errors import StoreUnavailable
from ..oidc.provider import Provider
from ..ratelimit import RateLimiter, raise_if_refused
from .access_token import access_token_record
from .errors import request_id

log = logging.getLogger("wecom_oidc.web")

# endpoint -> the rule family ("<family>_per_ip", "<family>_per_client").
FAMILIES = {
    "bridge.authorize": "authorize",
    "bridge.upstream_callback": "callback",
    "device.device_callback": "callback",
    "bridge.token": "token",
    "device.device_authorization": "token",
    "bridge.introspect": "introspect",
    "bridge.revoke": "revoke",
    "bridge.userinfo": "userinfo",
}
# Set by the /userinfo front (userinfo_front.DECISIONS); no header can set it.
FRONT_DECISIONS = "wecom_oidc.rate_limit_decisions"
# Endpoints where the client authenticates (a failure is a guess at its secret).
CLIENT_AUTH = {"bridge.token", "device.device_authorization", "bridge.introspect",
               "bridge.revoke"}
# Endpoints whose client only the view can tell, from the saved login its state names:
# the view calls limit_client() before WeCom is asked anything.
CLIENT_FROM_VIEW = {"bridge.upstream_callback"}


def client_ip() -> str:
    """The caller's address as the rate limits and logs see it (ProxyFix has already
    applied `proxy_hops`)."""
    return request.remote_addr or "-"


def claimed_client_id() -> str:
    """The client_id a request names (Basic credentials or the form); not yet
    authenticated. '' when there is none or it cannot be read."""
    # The environ, not request.headers: a missing header costs werkzeug a raised and
    # caught KeyError there.
    auth = request.environ.get("HTTP_AUTHORIZATION", "")
    if auth[:6].lower() == "basic ":
        return basic_user(auth)
    return request.form.get("client_id", "") if request.method == "POST" else (
        request.args.get("client_id", ""))


def basic_user(auth: str) -> str:
    """The client_id a Basic Authorization header names, or ''."""
    try:
        user = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")[0]
        return unquote(user)  # RFC 6749 §2.3.1: form-urlencoded before encoding
    except (ValueError, UnicodeDecodeError):
        return ""


def request_hits(endpoint: str, ip: str, client_id: str) -> list[tuple[str, str, int]]:
    """The (rule, key, amount) counters a request to `endpoint` (one of FAMILIES) from
    `ip` spends, for RateLimiter.hit_many; `client_id` only when it is registered.
    The address's own counters first, so a request they refuse never spends its
    client's (hit_many stops at the first refusal)."""
    family = FAMILIES[endpoint]
    hits = [(f"{family}_per_ip", ip, 1)]
    if endpoint in CLIENT_AUTH:
        # Refused before the secret is even looked at: the right secret does not
        # help a client locked out by guesses.
        hits.append(("failed_auth_per_ip", ip, 0))
        if client_id:
            hits += [("failed_auth_per_client_ip", f"{client_id} {ip}", 0),
                     ("failed_auth_per_client", client_id, 0)]
    if client_id:
        hits.append((f"{family}_per_client", client_id, 1))
    return hits


def init_app(app: Flask, limiter: RateLimiter, *,
             on_failed_auth: Callable[[str], None] = lambda client_id: None,
             sleep: Callable[[float], None] | None = None) -> None:
    """Register the checks on the bridge `app` (its provider in app.extensions).
    `on_failed_auth(client_id or "")` is told of every failed client authentication."""
    provider: Provider = app.extensions["wecom_oidc"]

    def known(client_id: str) -> str:
        """Counters only for registered clients: junk ids must not create keys."""
        return client_id if client_id in provider.clients else ""

    def client_of_request(endpoint: str) -> str:
        if endpoint in CLIENT_FROM_VIEW:
            return ""
        if endpoint == "bridge.userinfo":
            # The client a valid access token (JWT or opaque) was issued to; a junk
            # token names none, so only the per-address limit applies to it.
            return known(str((access_token_record(provider) or {}).get("client_id", "")))
        return known(claimed_client_id())

    def check_client(client_id: str) -> None:
        family = FAMILIES.get(request.endpoint or "")
        if family and known(client_id):
            limiter.check(f"{family}_per_client", client_id)

    app.extensions["rate_limiter"] = limiter
    app.extensions["rate_limits.check_client"] = check_client

    @app.before_request
    def _rate_limits() -> None:
        # The request itself, not the proxy: each proxied read costs a lookup of the
        # request context (~8k instructions).
        req = request._get_current_object()  # type: ignore[attr-defined]
        endpoint = req.endpoint or ""
        family = FAMILIES.get(endpoint)
        if family is None or req.method == "OPTIONS":
            return
        hits = request_hits(endpoint, req.remote_addr or "-", client_of_request(endpoint))
        # Counted already when the /userinfo front (userinfo_front.py) passed it on.
        decisions = req.environ.get(FRONT_DECISIONS) or limiter.hit_many(hits)
        for (rule, _, _), decision in zip(hits, decisions, strict=False):
            raise_if_refused(rule, decision)

    @app.after_request
    def _count_failed_auth(resp: Response) -> Response:
        if resp.status_code not in (400, 401) or request.endpoint not in CLIENT_AUTH:
            return resp
        body = resp.get_json(silent=True) or {}
        if body.get("error") != "invalid_client":
            return resp
        ip, client_id = client_ip(), known(claimed_client_id())
        try:
            limiter.hit("failed_auth_per_ip", ip)
            if client_id:
                limiter.hit("failed_auth_per_client_ip", f"{client_id} {ip}")
                limiter.hit("failed_auth_per_client", client_id)
        except StoreUnavailable:
            pass  # the answer is already a refusal; the store error is counted and logged
        on_failed_auth(client_id)
        log.warning("client authentication failed client=%s ip=%s endpoint=%s rid=%s",
                    client_id or "(unknown)", ip, request.path, request_id())
        delay = limiter.settings.failed_auth_delay
        if delay > 0:
            (sleep or time.sleep)(delay)
        return resp


def limit_client(client_id: str) -> None:
    """The per-client limit of this request's endpoint, for a view that learns its
    client from a record (CLIENT_FROM_VIEW); raises TooManyRequests when over. Nothing
    when the rate limits are not installed."""
    check = current_app.extensions.get("rate_limits.check_client")
    if check is not None:
        check(client_id)
