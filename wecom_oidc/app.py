"""create_app(): the composition root, the one place concrete classes are chosen."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.sessions import NullSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from . import redact
from .config import Settings
from .errors import DirectoryUnavailable, StoreUnavailable
from .identity import Identity
from .oidc.client_claims import Place
from .oidc.discovery import metadata
from .oidc.keys import KeyRing
from .oidc.keys_shared import check_shared_keys
from .oidc.provider import Provider
from .ops.hooks import init_app as init_ops
from .ops.metrics import Metrics
from .ratelimit import RateLimiter
from .store import StateStore, open_store
from .store.kinds import Kind
from .upstream.base import RefreshingUpstream, Upstream, Wiring
from .upstream.registry import build_upstream
from .web import cors, device, params, rate_limits, views
from .web.current import PROVIDER, UPSTREAM
from .web.errors import register_error_handlers
from .web.headers import init_app as init_security_headers
from .web.static_json import StaticJson
from .web.token_front import TokenFront
from .web.userinfo_front import UserinfoFront
from .web.views import make_root_blueprint

log = logging.getLogger(__name__)


class _NoSessions(SecureCookieSessionInterface):
    """The bridge keeps no Flask session (its login state is in the store, its cookie
    is its own): one shared null session, which refuses writes, rather than a new one
    made for every request."""

    _null = NullSession()

    def open_session(self, app: Flask, request: Any) -> NullSession:
        return self._null


class BridgeFlask(Flask):
    """Flask, with the sync check of views and hooks done once per function: Flask asks
    inspect on every call (a dozen a request, ~36 a login) whether each is async."""

    session_interface = _NoSessions()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        checked = self._checked
        if func in checked:
            return checked[func]
        made = super().ensure_sync(func)
        checked[func] = made
        return made

    @functools.cached_property
    def _checked(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        return {}


def create_app(settings: Settings, *, store: StateStore | None = None,
               upstream: Upstream | None = None, keys: KeyRing | None = None,
               clock: Callable[[], float] = time.time) -> Flask:
    """Build the bridge. Keys, config, store and the WeCom session are set up
    here once, never per request."""
    # Authlib refuses plain-http request URLs, which is wrong behind a TLS-terminating
    # proxy; transport security is enforced by the issuer URL instead (config demands
    # https for any non-loopback issuer).
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    redact.install()
    # `is None`, not `or`: an empty store has len() 0 and would be replaced.
    store = store if store is not None else open_store(settings.store.url, clock=clock)
    metrics = Metrics()
    store = metrics.instrument(store)  # counts store errors for /metrics
    # A replica sharing a Redis store never generates its own key (see KeyRing.load).
    keys = keys or KeyRing.load(settings.keys.dir, algs=key_algs(settings),
                                create=not settings.store.shared)
    if settings.store.shared:
        try:
            check_shared_keys(store, keys)
        except StoreUnavailable as e:
            # A worker (re)starting during a store outage must still boot: the server
            # stops the whole replica when one keeps failing. The check runs at the next start.
            log.warning("signing keys not compared with the other replicas: %s", e)
    if upstream is None:
        upstream = build_upstream(settings, store, Wiring(
            clock=clock, observe_call=metrics.wecom_call, observe_token=metrics.token_lookup,
            observe_backoff=metrics.wecom_backoff))
    recheck = upstream.refresh if isinstance(upstream, RefreshingUpstream) else None
    provider = Provider(settings, store, keys, clock, recheck=recheck,
                        place=directory_placement(upstream, metrics))

    app = BridgeFlask(__name__, template_folder="web/templates")
    app.extensions[PROVIDER] = provider
    app.extensions[UPSTREAM] = upstream
    app.register_blueprint(views.bp, url_prefix=settings.issuer_path or None)
    if provider.device:
        app.register_blueprint(device.bp, url_prefix=settings.issuer_path or None)
    app.register_blueprint(make_root_blueprint(settings.wecom.verify_files))
    register_error_handlers(app)
    params.init_app(app)
    init_security_headers(app, (settings.wecom.authorize_url, settings.wecom.web_login_url))
    cors.init_app(app, settings)
    limiter = RateLimiter(store, settings.limits, clock=clock, on_limited=metrics.limited)
    rate_limits.init_app(app, limiter, on_failed_auth=metrics.client_auth_failed)
    init_ops(app, metrics)  # /readyz, /metrics, request ids, login and token metrics
    init_offboarding(app, provider, upstream, metrics)
    prefix = settings.issuer_path
    app.wsgi_app = userinfo_front(app, provider, limiter)  # type: ignore[method-assign]
    app.wsgi_app = token_front(app, provider, limiter, metrics)  # type: ignore[method-assign]
    # Fixed for the life of the process (keys load at start): serialised once.
    app.wsgi_app = StaticJson(app.wsgi_app, {  # type: ignore[method-assign]
        prefix + "/.well-known/openid-configuration": metadata(settings, keys.algs),
        prefix + "/jwks.json": keys.public_jwks()})
    hops = settings.server.proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
    for warning in settings.warnings:
        log.warning("config: %s", warning)
    log.info("bridge ready issuer=%s clients=%d kid=%s", settings.issuer,
             len(settings.clients), keys.kid)
    return app


def userinfo_front(app: Flask, provider: Provider, limiter: RateLimiter) -> UserinfoFront:
    """The everyday /userinfo call answered in front of Flask (web/userinfo_front.py),
    counted on the same rate limits, starting this worker's sweeper as a request would."""
    settings = provider.settings
    return UserinfoFront(app.wsgi_app, settings.issuer_path + "/userinfo", provider, limiter,
                         _front_hits(provider, "bridge.userinfo"), on_request=_sweep(app),
                         proxy_ids=settings.server.proxy_hops > 0)


def token_front(app: Flask, provider: Provider, limiter: RateLimiter,
                metrics: Metrics) -> TokenFront:
    """The everyday code exchange answered in front of Flask (web/token_front.py), on
    the same rate limits and token metric, starting this worker's sweeper as a
    request would."""
    settings = provider.settings
    return TokenFront(app.wsgi_app, settings.issuer_path + "/token", provider, limiter,
                      _front_hits(provider, "bridge.token"), metrics.token_issued,
                      on_request=_sweep(app), proxy_ids=settings.server.proxy_hops > 0)


def _front_hits(provider: Provider, endpoint: str
                ) -> Callable[[str, str], list[tuple[str, str, int]]]:
    """hits(ip, client_id): the counters a front's request spends, as the Flask hook
    counts them (web/rate_limits.py); counters only for registered clients."""
    def hits(ip: str, client_id: str) -> list[tuple[str, str, int]]:
        known = client_id if client_id in provider.clients else ""
        return rate_limits.request_hits(endpoint, ip, known)

    return hits


def _sweep(app: Flask) -> Callable[[], None]:
    """What a front calls per request: start this worker's sweeper as a request would."""
    sweeper = app.extensions.get("wecom_oidc_sweeper")
    return sweeper.start if sweeper else lambda: None


def directory_placement(upstream: Upstream, metrics: Metrics) -> Place | None:
    """The upstream's optional `place(identity)` capability, counting each time the
    directory could not be read (wecom_oidc_directory_unavailable_total)."""
    place = getattr(upstream, "place", None)
    if place is None:
        return None

    def counted(identity: Identity) -> Identity:
        try:
            return place(identity)
        except DirectoryUnavailable:
            metrics.directory_unavailable()
            raise

    return counted


def init_offboarding(app: Flask, provider: Provider, upstream: Upstream,
                     metrics: Metrics) -> None:
    """The WeCom callback receiver and the reconciliation sweep (docs/offboarding.md);
    only for the WeCom upstream, whose directory they read."""
    from .upstream.wecom import WecomUpstream

    if not isinstance(upstream, WecomUpstream):
        return
    from .oidc.offboard import revoke_member
    from .oidc.sweep import Sweeper
    from .upstream.contact_events import ContactEvents
    from .web.wecom_events import make_events_blueprint
    from .wecom.callback import CallbackCrypto

    settings = provider.settings
    off = settings.offboarding
    if off.callbacks:
        assert off.callback_token is not None and off.callback_aes_key is not None

        def revoke(userid: str, reason: str) -> None:
            if revoke_member(provider, userid, reason=f"callback:{reason}").sessions:
                metrics.member_revoked("callback")

        events = ContactEvents(upstream, revoke,
                               lambda userid: provider.store.delete(Kind.MEMBER_CHECK, userid),
                               upstream.directory)
        crypto = CallbackCrypto(off.callback_token.reveal(), off.callback_aes_key.reveal(),
                                settings.wecom.corp_id)
        app.register_blueprint(
            make_events_blueprint(crypto, provider.store, events.handle, events.name,
                                  metrics.callback_event, provider.clock),
            url_prefix=settings.issuer_path or None)
    if off.sweep_interval > 0:
        sweeper = Sweeper(provider, upstream.member_gone, interval=off.sweep_interval,
                          rate=off.sweep_rate, on_revoked=metrics.member_revoked,
                          on_sweep=metrics.swept)
        app.extensions["wecom_oidc_sweeper"] = sweeper
        # Started from a request, so each server worker (forked before create_app)
        # runs its own loop; the store lock lets one of them sweep per interval.
        app.before_request(sweeper.start)


def key_algs(settings: Settings) -> tuple[str, ...]:
    """RS256 always; ES256 too when a client asks for it."""
    wanted = {c.id_token_signed_response_alg for c in settings.clients}
    return ("RS256", "ES256") if "ES256" in wanted else ("RS256",)
