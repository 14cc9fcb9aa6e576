"""The provider's metadata (OIDC Discovery 1.0 §3, RFC 8414): exactly what this
server does, no more. Built once at startup and served as fixed bytes
(web/static_json.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import DEVICE_CODE, Settings
from .claims import CLAIMS_SUPPORTED, SCOPES
from .grants import AUTH_METHODS


def metadata(settings: Settings, algs: Sequence[str]) -> dict[str, Any]:
    """The discovery document for `settings`, with the key ring's algorithms `algs`."""
    def url(path: str) -> str:
        return settings.issuer + path

    doc: dict[str, Any] = {
        "issuer": settings.issuer,
        "authorization_endpoint": url("/authorize"),
        "token_endpoint": url("/token"),
        "userinfo_endpoint": url("/userinfo"),
        "jwks_uri": url("/jwks.json"),
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        # What some client's ID tokens are signed with, not every key in the
        # folder: a spare ES256 key signs nothing while no client asks for it.
        "id_token_signing_alg_values_supported": [
            a for a in algs if a == "RS256" or any(
                c.id_token_signed_response_alg == a for c in settings.clients)],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": _claims_supported(settings),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "revocation_endpoint": url("/revoke"),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint": url("/introspect"),
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post"],
        "end_session_endpoint": url("/end_session"),
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
    }
    if any(c.device for c in settings.clients):  # RFC 8628 §4
        doc["device_authorization_endpoint"] = url("/device/code")
        doc["grant_types_supported"].append(DEVICE_CODE)
    return doc


def _claims_supported(settings: Settings) -> list[str]:
    """The standard claims, then those clients configured (extra_claims, role), in
    a stable order."""
    names = dict.fromkeys(CLAIMS_SUPPORTED)
    for c in settings.clients:
        names.update(dict.fromkeys(name for name, _ in c.extra_claims))
        if c.roles or c.role_default:
            names[c.role_claim] = None
    return list(names)
