"""Telling the apps a session ended: back-channel logout tokens POSTed to each
app that got a code in the session (OIDC Back-Channel Logout 1.0), and the
front-channel URLs the logged-out page loads (OIDC Front-Channel Logout 1.0)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import requests
from authlib.common.urls import add_params_to_uri

from .session import Session

if TYPE_CHECKING:
    from .provider import Provider

log = logging.getLogger(__name__)

BACKCHANNEL_TIMEOUT = (2.0, 5.0)
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="backchannel-logout")


def notify_backchannel(provider: Provider, session: Session, *, wait: float = 6.0) -> int:
    """POST a logout_token to every app of the session that registered a
    backchannel_logout_uri, in parallel; returns how many accepted it. Waits at
    most `wait` seconds so the person's logout page is never held up for long."""
    jobs = []
    for client_id in session.clients:
        client = provider.clients.get(client_id)
        uri = client.settings.backchannel_logout_uri if client else ""
        if uri:
            token = provider.jwts.logout_token(client_id=client_id, sub=session.sub,
                                               sid=session.sid)
            jobs.append((client_id, _pool.submit(_post, uri, token)))
    accepted = 0
    for client_id, job in jobs:
        try:
            status = job.result(timeout=wait)
        except Exception as e:  # noqa: BLE001 - an app being down must not break logout
            log.warning("backchannel logout client=%s failed: %s", client_id, type(e).__name__)
            continue
        ok = 200 <= status < 300
        accepted += ok
        log.info("backchannel logout client=%s status=%s", client_id, status)
    return accepted


def _post(uri: str, token: str) -> int:
    r = requests.post(uri, data={"logout_token": token}, timeout=BACKCHANNEL_TIMEOUT,
                      headers={"Cache-Control": "no-store"})
    return r.status_code


def frontchannel_urls(provider: Provider, session: Session) -> list[str]:
    """The front-channel logout URLs to load in iframes, with iss and sid."""
    urls = []
    for client_id in session.clients:
        client = provider.clients.get(client_id)
        uri = client.settings.frontchannel_logout_uri if client else ""
        if uri:
            urls.append(add_params_to_uri(uri, {"iss": provider.settings.issuer,
                                                "sid": session.sid}))
    return urls
