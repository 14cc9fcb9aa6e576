"""Helpers for the ops tests (a module name unique across the suite)."""

from __future__ import annotations

from e2e.stack import CLI_REDIRECT, CONFIDENTIAL, PUBLIC, WEB_REDIRECT

# The clients the e2e RelyingParty signs in as.
CLIENT_ID, CLIENT_SECRET = CONFIDENTIAL


def emulator_env(emulator_url: str, issuer: str, workdir) -> dict[str, str]:
    """A complete bridge config in environment variables only (no file)."""
    return {
        "WECOM_OIDC_ISSUER": issuer,
        "WECOM_OIDC_WECOM__CORP_ID": "ww_emulated_corp",
        "WECOM_OIDC_WECOM__AGENT_ID": "1000002",
        "WECOM_OIDC_WECOM__SECRET": "emulated-app-secret",
        "WECOM_OIDC_WECOM__API_BASE_URL": emulator_url,
        "WECOM_OIDC_WECOM__AUTHORIZE_URL": emulator_url + "/connect/oauth2/authorize",
        "WECOM_OIDC_WECOM__WEB_LOGIN_URL": emulator_url + "/wwlogin/sso/login",
        "WECOM_OIDC_WECOM__TIMEOUT": "5",
        "WECOM_OIDC_STORE__URL": f"sqlite:///{workdir}/bridge.db",
        "WECOM_OIDC_KEYS__DIR": str(workdir / "keys"),
        "WECOM_OIDC_CLAIMS__EMAIL_TEMPLATE": "{userid}@corp.example",
        "WECOM_OIDC_CLIENTS": (
            f'[{{"client_id": "{CLIENT_ID}", "client_secret": "{CLIENT_SECRET}", '
            f'"redirect_uris": ["{WEB_REDIRECT}"]}}, '
            f'{{"client_id": "{PUBLIC}", "redirect_uris": ["{CLI_REDIRECT}"]}}]'),
    }
