"""The upstream identity provider interface (one module per upstream, like a Dex
connector). The OIDC layer only sees `Identity`; upstream data such as WeCom's
user_ticket or access_token never leaves the upstream module."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..identity import Identity


@dataclass(frozen=True)
class LoginRequest:
    """What an upstream gets to send a browser to its login page."""

    state: str  # comes back unchanged at the callback
    callback_url: str
    user_agent: str = ""
    scopes: tuple[str, ...] = ()  # the OIDC scopes asked (e.g. for consented fields)
    lang: str = ""  # the page language the person prefers ("zh", "en", ...)


@dataclass(frozen=True)
class Wiring:
    """What the composition root hands an upstream's factory besides config and
    store: the clock, and observers for its API calls (metrics)."""

    clock: Callable[[], float] = time.time
    observe_call: Callable[..., None] | None = None
    observe_token: Callable[..., None] | None = None
    observe_backoff: Callable[[str], None] | None = None


def callback_path(name: str) -> str:
    """Where an upstream sends the browser back: /<name>/callback below the issuer."""
    return f"/{name}/callback"


@runtime_checkable
class Upstream(Protocol):
    """Sends the browser to the upstream login and turns its callback into an Identity."""

    name: str  # short and URL-safe; names the callback route (see callback_path)

    def login_url(self, login: LoginRequest) -> str:
        """Where to send the browser."""
        ...

    def complete_login(self, params: Mapping[str, str]) -> Identity:
        """Finish the login from the callback's query parameters.

        Raises `UpstreamDenied` for a person who may not log in and `UpstreamError`
        for anything else that went wrong."""
        ...


def callback_has_fragment(upstream: Upstream, user_agent: str) -> bool:
    """Whether this browser reached the callback from a login URL with a fragment, which
    it then keeps across redirects. An optional capability of an upstream (WeCom's
    in-app `#wechat_redirect`): `callback_has_fragment(user_agent) -> bool`."""
    check = getattr(upstream, "callback_has_fragment", None)
    return bool(check is not None and check(user_agent))


@runtime_checkable
class RefreshingUpstream(Upstream, Protocol):
    """An upstream that can re-check a person without a browser (refresh tokens)."""

    def refresh(self, identity: Identity) -> Identity:
        """The person as the directory describes them now; UpstreamDenied if gone."""
        ...
