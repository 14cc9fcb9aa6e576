"""The bridge session cookie: HttpOnly, SameSite=Lax, Secure whenever the issuer is
https, scoped to the issuer's path."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from ..oidc.provider import Provider


def session_cookie(provider: Provider) -> str | None:
    return request.cookies.get(provider.settings.session.cookie_name)


def set_session_cookie(provider: Provider, resp: Response, value: str) -> None:
    s = provider.settings
    resp.set_cookie(s.session.cookie_name, value, max_age=s.session.lifetime,
                    path=s.issuer_path or "/", secure=s.issuer.startswith("https://"),
                    httponly=True, samesite="Lax")


def clear_session_cookie(provider: Provider, resp: Response) -> None:
    s = provider.settings
    resp.delete_cookie(s.session.cookie_name, path=s.issuer_path or "/",
                       secure=s.issuer.startswith("https://"), httponly=True, samesite="Lax")
