"""Which claims a person gets for which scopes, from the neutral Identity."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..config import ClaimsSettings
from ..identity import Identity

SCOPES = ("openid", "profile", "email", "phone", "groups", "offline_access")
# The standard claims, computed once per login for every client and released by scope.
SCOPE_CLAIMS = {
    "openid": ("sub",),
    "profile": ("name", "preferred_username", "picture", "gender"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
}
STANDARD_CLAIMS = frozenset(c for names in SCOPE_CLAIMS.values() for c in names)
# `groups` (and a client's extra and role claims) are added per client by
# client_claims.for_client, which already decides by scope and client settings.
CLAIMS_SUPPORTED = tuple(c for names in SCOPE_CLAIMS.values() for c in names) + (
    "groups", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid")


def all_claims(identity: Identity, settings: ClaimsSettings) -> dict[str, Any]:
    """Every claim the bridge could release for this person (filtered by scope later)."""
    username = identity.subject.lower() if settings.lowercase_username else identity.subject
    claims: dict[str, Any] = {"sub": identity.subject, "preferred_username": username}
    if identity.name:
        claims["name"] = identity.name
    if identity.picture:
        claims["picture"] = identity.picture
    if identity.gender:
        claims["gender"] = identity.gender
    email, verified = _email(identity, settings)
    if email:
        claims["email"] = email
        claims["email_verified"] = verified
    if identity.phone:
        claims["phone_number"] = identity.phone
        claims["phone_number_verified"] = settings.wecom_phone_verified
    return claims


def _email(identity: Identity, settings: ClaimsSettings) -> tuple[str, bool]:
    """The first WeCom field of `email_sources` that has an address (email, biz_mail
    by default), else the configured template. A WeCom address is verified when the
    admin declares WeCom's addresses verified or its domain is one of theirs; a
    template address only when the admin says the mailbox exists."""
    for source in settings.email_sources:
        address = getattr(identity, source, "")
        if address:
            domain = address.rpartition("@")[2].lower()
            return address, (settings.wecom_email_verified
                             or domain in settings.verified_email_domains)
    if settings.email_template:
        return settings.email_template.format(userid=identity.subject), \
            settings.template_email_verified
    return "", False


def claims_for_scope(claims: dict[str, Any], scope: str) -> dict[str, Any]:
    """Only the standard claims the granted scopes release; `sub` always. Claims
    outside the standard set (groups, a client's extra and role claims) are only
    present when client_claims.for_client put them there for this client: kept."""
    withheld = _withheld(scope)
    return {k: v for k, v in claims.items() if k not in withheld}


@lru_cache(maxsize=256)
def _withheld(scope: str) -> frozenset[str]:
    """The standard claims `scope` does not release. Worked out once per scope string:
    every /userinfo call asks again, and a deployment grants a handful of them."""
    allowed = {"sub"}
    for s in scope.split():
        allowed.update(SCOPE_CLAIMS.get(s, ()))
    return STANDARD_CLAIMS - allowed
