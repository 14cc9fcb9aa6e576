"""Answering an authorization request (RFC 6749 §4.1.2): a code, or an error
redirect, each carrying the request's state and naming the issuer (RFC 9207).

Authlib validates a request once, at /authorize. A request that waits for the
upstream login is saved (web/login_state.py) and `resume`d at the callback from
its saved parameters: the code grant is built around them without a second
validation, so the code keeps the exact redirect_uri, nonce and PKCE challenge
that were checked."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlparse, urlunparse

from authlib.common.urls import add_params_to_uri, url_encode
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidClientError,
    InvalidRequestError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Payload

from .grants import CodeGrant
from .models import User

if TYPE_CHECKING:
    from .provider import Provider


class Parameters(OAuth2Payload):
    """An authorization request's parameters, read once: the first value of each
    (what Authlib and the grant extensions read) and all of them (Authlib's check for
    repeated parameters). Authlib's Flask payload reads them through the request's
    combined query and form on every look-up."""

    def __init__(self, lists: Iterable[tuple[str, list[str]]]):
        self._datalist = {key: list(values) for key, values in lists}
        self._data = {key: values[0] for key, values in self._datalist.items() if values}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


def authorization_request(provider: Provider, method: str, headers: Any,
                          lists: Iterable[tuple[str, list[str]]]) -> OAuth2Request:
    """The request to /authorize as Authlib validates it (Provider.get_consent_grant):
    its parameters as `lists` gives them (every value of each, query and form). The
    URL is the endpoint's: Authlib reads no part of it for an authorization request."""
    request = OAuth2Request(method, provider.url("/authorize"), headers=headers)
    request.payload = Parameters(lists)
    return request


def resume(provider: Provider, params: Mapping[str, str]) -> AuthorizationCodeGrant:
    """The code grant of a request validated at /authorize, rebuilt from its saved
    parameters. Only what a restart with another configuration could have changed
    is looked at again: the client must still exist and still own the redirect_uri
    (else an OAuth2Error that must not redirect)."""
    state = params.get("state")
    client = provider.query_client(params.get("client_id", ""))
    if client is None:
        raise InvalidClientError(state=state)
    redirect_uri = params.get("redirect_uri") or client.get_default_redirect_uri()
    if not redirect_uri or not client.check_redirect_uri(redirect_uri):
        raise InvalidRequestError("Redirect URI is not supported by client.", state=state)
    request = OAuth2Request("GET", provider.url("/authorize"))
    request.payload = BasicOAuth2Payload(dict(params))
    request.client = client
    request.scope = client.get_allowed_scope(params.get("scope"))
    grant = CodeGrant(request, provider)  # its extensions only validate: not needed
    grant.redirect_uri = redirect_uri
    return grant


def code_url(grant: AuthorizationCodeGrant, user: User) -> str:
    """Issue a code for `user` (saved by the grant, bound to the request's client,
    redirect_uri, nonce and PKCE challenge); the redirect URL carrying it."""
    request = grant.request
    request.user = user
    code = grant.generate_authorization_code()
    grant.save_authorization_code(code, request)
    params = [("code", code)]
    if request.payload.state:  # RFC 6749 §4.1.2: exactly as the client sent it
        params.append(("state", request.payload.state))
    return response_url(grant.server, grant.redirect_uri, params)


def denied_url(grant: AuthorizationCodeGrant) -> str:
    """The redirect URL answering the grant's request with access_denied: for a
    cancelled login, and as a denied person's way back to the app."""
    return error_url(grant.server, AccessDeniedError(
        redirect_uri=grant.redirect_uri, state=grant.request.payload.state))


def error_url(provider: Provider, error: OAuth2Error) -> str:
    """The redirect URL of an authorization error whose redirect_uri is known good
    (RFC 6749 §4.1.2.1): error, description and the request's state."""
    return response_url(provider, error.redirect_uri, error.get_body())


def response_url(provider: Provider, redirect_uri: str,
                 params: list[tuple[str, Any]]) -> str:
    """Every authorization response, code or error, names its issuer after
    `params` (RFC 9207, mix-up defence; the provider's IssuerParameter says which)."""
    issuer = provider.issuer_parameter.get_issuer()
    if _without_query(redirect_uri):
        # What add_params_to_uri builds for a URI without query or fragment, without
        # splitting it, parsing its empty query and joining it again, nor quoting the
        # same issuer for every response (120k instructions -> about 15k).
        query = _query(params)
        return f"{redirect_uri}?{query}&{_iss_field(issuer)}" if query else \
            f"{redirect_uri}?{_iss_field(issuer)}"
    return add_params_to_uri(redirect_uri, [*params, ("iss", issuer)])


@functools.lru_cache(maxsize=256)
def _without_query(uri: str) -> bool:
    """Whether `uri` has no query and no fragment, and comes out of urlparse and
    urlunparse unchanged (so add_params_to_uri would only append `?` and the query).
    Only registered redirect_uris get here, so the cache stays small."""
    if "?" in uri or "#" in uri:
        return False
    return urlunparse(urlparse(uri)) == uri


# Characters quote_plus leaves as they are: a value made only of them (a code, most
# states) is its own encoding, found without quote_plus's ~8k instructions.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")


def _query(params: list[tuple[str, Any]]) -> str:
    """Authlib's url_encode(params) (what add_params_to_uri appends)."""
    fields = []
    for key, value in params:
        if isinstance(key, str) and isinstance(value, str) and \
                _UNQUOTED.fullmatch(key) and _UNQUOTED.fullmatch(value):
            fields.append(f"{key}={value}")
        else:
            fields.append(url_encode([(key, value)]))
    return "&".join(fields)


@functools.lru_cache(maxsize=8)
def _iss_field(issuer: str) -> str:
    return "iss=" + quote_plus(issuer)
