"""The emulated corp and app: `EmulatorConfig` and `load_emulator_config(path)`.

The TOML file uses the field names below at its top level, for example::

    corp_id = "ww_emulated_corp"
    agent_id = 1000002
    secret = "emulated-app-secret"
    app_name = "OIDC 登录"
    trusted_domains = ["127.0.0.1:8000"]   # host[:port]; [] = trust any host
    app_created_after_2022_06_20 = true
    trusted_ips = ["127.0.0.1"]            # omit = no 企业可信IP check
    directory_path = "directory.toml"      # relative to this file; omit = the sample
    token_ttl = 7200
    code_ttl = 300
    ticket_ttl = 1800
    latency = { "auth/getuserinfo" = 200 } # ms to answer, per API ("*" = every API)
    faults = [{ api = "gettoken", errcode = -1, count = 2 }]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class EmulatorConfig:
    """One corp with one self-built app (自建应用). Mutable only before the app starts."""

    corp_id: str = "ww_emulated_corp"
    agent_id: int = 1000002
    secret: str = "emulated-app-secret"
    app_name: str = "OIDC 登录"  # shown on the consent page
    # Exact host[:port] matches, as WeCom compares redirect hosts (wecom-api.md §9).
    # Empty = any host is trusted, which suits local demos on random ports.
    trusted_domains: list[str] = field(default_factory=list)
    # Apps created after 2022-06-20 lose the private fields of user/get (§5).
    app_created_after_2022_06_20: bool = True
    # 企业可信IP (§9): None = no check; otherwise business APIs answer 60020.
    trusted_ips: list[str] | None = None
    directory_path: str | None = None
    token_ttl: int = 7200
    code_ttl: int = 300
    ticket_ttl: int = 1800
    # Armed at start and again at every /_emulator/reset.
    latency: dict[str, int] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)

    def trusts(self, host: str) -> bool:
        """Is this redirect host[:port] one of the app's trusted domains (exact match)?"""
        if not self.trusted_domains:
            return True
        return host.lower() in {d.lower() for d in self.trusted_domains}



_TYPES: dict[str, type] = {
    "corp_id": str, "agent_id": int, "secret": str, "app_name": str, "trusted_domains": list,
    "app_created_after_2022_06_20": bool, "trusted_ips": list, "directory_path": str,
    "token_ttl": int, "code_ttl": int, "ticket_ttl": int, "latency": dict, "faults": list,
}


class EmulatorConfigError(ValueError):
    """The emulator's config file is wrong; the message lists every problem."""


def load_emulator_config(path: str | Path) -> EmulatorConfig:
    """Read a TOML file; unknown keys and wrong types are reported all at once."""
    path = Path(path)
    with path.open("rb") as f:
        raw = tomllib.load(f)
    problems = [f"unknown key {k!r}" for k in raw if k not in _TYPES]
    config = EmulatorConfig()
    for key, value in raw.items():
        expected = _TYPES.get(key)
        if expected is None:
            continue
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is int):
            problems.append(f"{key}: expected {expected.__name__}, got {type(value).__name__}")
            continue
        setattr(config, key, value)
    if problems:
        raise EmulatorConfigError(f"{path.name}: " + "; ".join(problems))
    if config.directory_path and not Path(config.directory_path).is_absolute():
        config.directory_path = str(path.parent / config.directory_path)
    return config
