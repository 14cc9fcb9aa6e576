"""Before a bridge session answers for an app (another app's /authorize, a
device approval), the member is re-checked with WeCom."""

from __future__ import annotations

import logging

from ..errors import UpstreamDenied, UpstreamError
from ..oidc.logout import notify_backchannel
from ..oidc.models import User
from ..oidc.provider import Provider
from ..oidc.session import Session
from .errors import request_id

log = logging.getLogger("wecom_oidc.web")


def still_member(provider: Provider, session: Session, user: User) -> User | None:
    """The session's person as WeCom describes them now (cached for
    member_recheck_ttl), before the session answers for another app. A member
    who was disabled, left or fell out of the visible range loses the session
    and every token of it. When WeCom cannot be asked, the session goes on as it
    was: an outage must not sign everybody out."""
    if provider.clock() - session.auth_time < provider.settings.tokens.member_recheck_ttl:
        return user  # the WeCom login itself was the check
    try:
        return provider.recheck(user)
    except UpstreamDenied as e:
        provider.sessions.end(session.cookie)
        n = provider.store.revoke_grant(session.sid)
        notify_backchannel(provider, session)
        log.warning("session ended: member may no longer sign in sub=%s reason=%s "
                    "revoked=%d rid=%s", user.sub, e.reason or e.detail, n, request_id())
        return None
    except UpstreamError as e:
        log.warning("member re-check failed, session kept sub=%s errcode=%s rid=%s",
                    user.sub, e.code, request_id())
        return user
