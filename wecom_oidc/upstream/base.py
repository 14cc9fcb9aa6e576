"""The upstream identity provider interface (one module per upstream, like a Dex
connector). The OIDC layer only sees `Identity`; upstream data such as WeCom's
user_ticket or access_token never leaves the upstream module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from ..identity import Identity


@runtime_checkable
class Upstream(Protocol):
    """Sends the browser to the upstream login and turns its callback into an Identity."""

    def login_url(self, *, state: str, callback_url: str, user_agent: str,
                  scopes: tuple[str, ...]) -> str:
        """Where to send the browser. `state` comes back unchanged at the callback."""
        ...

    def complete_login(self, params: Mapping[str, str]) -> Identity:
        """Finish the login from the callback's query parameters.

        Raises `UpstreamDenied` for a person who may not log in and `UpstreamError`
        for anything else that went wrong."""
        ...


@runtime_checkable
class RefreshingUpstream(Upstream, Protocol):
    """An upstream that can re-check a person without a browser (refresh tokens)."""

    def refresh(self, identity: Identity) -> Identity:
        """The person as the directory describes them now; UpstreamDenied if gone."""
        ...
