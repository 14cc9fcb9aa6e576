"""Typed settings: defaults <- TOML file <- environment <- `*_file` secrets.

`load_settings()` validates everything at once and raises `ConfigError` listing
every problem with the file and key, so an admin fixes a config in one pass.
"""

from .loader import load_settings
from .settings import (
    AUTHORIZATION_CODE,
    CONFIG_ENV,
    DEVICE_CODE,
    ENV_PREFIX,
    LOOPBACK_HOSTS,
    ClaimsSettings,
    ClientSettings,
    GroupsSettings,
    KeySettings,
    LimitSettings,
    OffboardingSettings,
    Rate,
    Secret,
    ServerSettings,
    SessionSettings,
    Settings,
    StoreSettings,
    TokenSettings,
    WecomSettings,
)

__all__ = [
    "AUTHORIZATION_CODE", "CONFIG_ENV", "DEVICE_CODE", "ENV_PREFIX", "LOOPBACK_HOSTS",
    "ClaimsSettings", "ClientSettings",
    "GroupsSettings", "KeySettings", "LimitSettings", "OffboardingSettings", "Rate",
    "Secret", "ServerSettings", "SessionSettings",
    "Settings", "StoreSettings", "TokenSettings", "WecomSettings", "load_settings",
]
