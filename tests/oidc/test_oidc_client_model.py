"""The Client model: redirect URI matching (exact, RFC 8252 loopback) and secrets."""

from __future__ import annotations

import pytest

from wecom_oidc.config import ClientSettings, Secret
from wecom_oidc.oidc.models import Client


def client(*uris: str, secret: str | None = "s3cret") -> Client:
    return Client(ClientSettings(client_id="c", redirect_uris=uris,
                                 client_secret=Secret(secret) if secret else None))


def test_client_redirect_exact_match_is_accepted():
    assert client("https://app.example.com/cb").check_redirect_uri("https://app.example.com/cb")


@pytest.mark.parametrize("uri", [
    "https://app.example.com/cb/",
    "https://app.example.com/CB",
    "https://app.example.com/cb?x=1",
    "https://app.example.com:8443/cb",
    "http://app.example.com/cb",
    "https://evil.example.com/cb",
    "https://app.example.com.evil.example/cb",
])
def test_client_redirect_not_exact_is_refused(uri):
    assert not client("https://app.example.com/cb").check_redirect_uri(uri)


@pytest.mark.parametrize("registered,asked", [
    ("http://127.0.0.1:8000/callback", "http://127.0.0.1:53121/callback"),
    ("http://127.0.0.1/callback", "http://127.0.0.1:53121/callback"),
    ("http://[::1]:8000/cb", "http://[::1]:40000/cb"),
    ("http://localhost:8250/oidc/callback", "http://localhost:18250/oidc/callback"),
])
def test_client_loopback_redirect_other_port_is_accepted(registered, asked):
    assert client(registered, secret=None).check_redirect_uri(asked)


@pytest.mark.parametrize("asked", [
    "http://127.0.0.1:9000/other",
    "http://127.0.0.2:9000/callback",
    "http://localhost:9000/callback",
    "https://127.0.0.1:9000/callback",
    "http://127.0.0.1:9000/callback?x=1",
    "http://127.0.0.1:notaport/callback",
    "http://user@127.0.0.1:9000/callback",
])
def test_client_loopback_redirect_other_path_host_or_scheme_is_refused(asked):
    assert not client("http://127.0.0.1:8000/callback", secret=None).check_redirect_uri(asked)


def test_client_non_loopback_redirect_other_port_is_refused():
    c = client("https://app.example.com:8443/cb")
    assert not c.check_redirect_uri("https://app.example.com:9443/cb")


def test_client_secret_check_right_secret_is_true():
    assert client("https://a/cb").check_client_secret("s3cret")


def test_client_secret_check_wrong_secret_is_false():
    assert not client("https://a/cb").check_client_secret("s3cret!")


def test_client_secret_check_public_client_is_false():
    assert not client("https://a/cb", secret=None).check_client_secret("")


def test_client_public_only_allows_none_auth_method():
    c = client("https://a/cb", secret=None)
    assert c.check_endpoint_auth_method("none", "token")
    assert not c.check_endpoint_auth_method("client_secret_basic", "token")


def test_client_confidential_refuses_none_auth_method():
    c = client("https://a/cb")
    assert not c.check_endpoint_auth_method("none", "token")
    assert c.check_endpoint_auth_method("client_secret_post", "token")


def test_client_allowed_scope_drops_unknown_scopes_keeps_order():
    assert client("https://a/cb").get_allowed_scope("email openid address openid") == "email openid"


def test_client_default_redirect_only_when_one_is_registered():
    assert client("https://a/cb").get_default_redirect_uri() == "https://a/cb"
    assert client("https://a/cb", "https://b/cb").get_default_redirect_uri() is None
