"""Which claims a person gets for which scopes, from the neutral Identity."""

from __future__ import annotations

from typing import Any

from ..config import ClaimsSettings
from ..identity import Identity

SCOPES = ("openid", "profile", "email", "phone", "offline_access")
SCOPE_CLAIMS = {
    "openid": ("sub",),
    "profile": ("name", "preferred_username", "picture", "gender"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
}
CLAIMS_SUPPORTED = tuple(c for names in SCOPE_CLAIMS.values() for c in names) + (
    "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid")


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
    """WeCom's email, else its corp mailbox, else the configured template. An
    address WeCom did not give is verified only when the admin says so."""
    if identity.email:
        return identity.email, settings.wecom_email_verified
    if identity.biz_mail:
        return identity.biz_mail, settings.wecom_email_verified
    if settings.email_template:
        return settings.email_template.format(userid=identity.subject), \
            settings.template_email_verified
    return "", False


def claims_for_scope(claims: dict[str, Any], scope: str) -> dict[str, Any]:
    """Only the claims the granted scopes release; `sub` always."""
    allowed = {"sub"}
    for s in scope.split():
        allowed.update(SCOPE_CLAIMS.get(s, ()))
    return {k: v for k, v in claims.items() if k in allowed}
