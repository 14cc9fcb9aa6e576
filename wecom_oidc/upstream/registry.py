"""Upstreams by name, like Dex's connector registry: the top-level `upstream` config
key picks one, and a second upstream (DingTalk, Feishu...) is one module with a
`from_settings(settings, store, wiring)` factory plus one line here."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..config import Settings
from ..errors import ConfigError
from ..store.base import StateStore
from .base import Upstream, Wiring

Factory = Callable[[Settings, StateStore, Wiring], Upstream]

# Imported only when chosen, so an upstream's dependencies load only where it is used.
BUILTIN: dict[str, str] = {
    "wecom": "wecom_oidc.upstream.wecom:from_settings",
}
_registered: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Add an upstream under `name` (a plugin, or a test's own upstream)."""
    _registered[name] = factory


def names() -> list[str]:
    return sorted({*BUILTIN, *_registered})


def build_upstream(settings: Settings, store: StateStore, wiring: Wiring) -> Upstream:
    """The upstream the config names; a ConfigError naming the key when none is known."""
    name = settings.upstream
    factory = _registered.get(name)
    if factory is None and name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        factory = getattr(importlib.import_module(module), attr)
    if factory is None:
        raise ConfigError([f"{settings.source}: upstream: unknown upstream {name!r} "
                           f"(known: {', '.join(names())})"])
    return factory(settings, store, wiring)
