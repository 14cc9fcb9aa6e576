"""Authorization responses (oidc/authorization.response_url) build the redirect URL
themselves for a redirect_uri without a query: the URL Authlib's add_params_to_uri
builds, whatever the redirect_uri and the parameters."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from authlib.common.urls import add_params_to_uri

from wecom_oidc.oidc.authorization import response_url


@pytest.mark.parametrize("redirect_uri", [
    "https://app.example.com/callback", "https://a/b;x", "HTTPS://A/b", "com.example.app:/cb",
    "http://localhost:8080/cb", "https://a/b?x=1&y", "https://a/b?", "https://a/b#f",
    "http:/x", "//a/b", "https://a/%7Euser", ""])
@pytest.mark.parametrize("params", [
    [("code", "Xy-_.~09")], [("code", "c"), ("state", "s t&é=/?")],
    [("error", "access_denied"), ("error_description", "The resource owner denied"),
     ("state", None)], [("x", 5), ("y", b"a b"), ("z", "")], []])
@pytest.mark.parametrize("issuer", ["http://127.0.0.1:8000", "https://sso.example.com/oidc"])
def test_response_url_is_what_authlib_builds(redirect_uri, params, issuer):
    provider = SimpleNamespace(issuer_parameter=SimpleNamespace(get_issuer=lambda: issuer))
    assert response_url(provider, redirect_uri, params) == add_params_to_uri(
        redirect_uri, [*params, ("iss", issuer)])
