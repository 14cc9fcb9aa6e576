"""Defaults <- TOML file <- environment <- `*_file` secrets, validated at once."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .settings import (
    CONFIG_ENV,
    ENV_PREFIX,
    Settings,
)
from .validator import Validator


def load_settings(path: str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Load the config file (``path`` or $WECOM_OIDC_CONFIG), apply environment
    overrides and validate. Raises ConfigError listing every problem."""
    env = dict(os.environ if env is None else env)
    path = path or env.get(CONFIG_ENV)
    raw: dict[str, Any] = {}
    source = "<environment>"
    if path:
        source = str(path)
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError([f"{path}: file not found"]) from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([f"{path}: not valid TOML: {e}"]) from None
    _apply_env(raw, env)
    base = Path(path).resolve().parent if path else Path.cwd()
    return Validator(raw, source, base).settings()


def _apply_env(raw: dict[str, Any], env: dict[str, str]) -> None:
    """WECOM_OIDC_ISSUER, WECOM_OIDC_<SECTION>__<KEY>, WECOM_OIDC_CLIENTS (JSON)."""
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX):].lower()
        if rest == "clients":
            try:
                raw["clients"] = json.loads(value)
            except json.JSONDecodeError as e:
                raw["clients"] = f"<invalid JSON in {name}: {e}>"
            continue
        parts = rest.split("__")
        target = raw
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                break
        else:
            # Kept verbatim: the validator converts by the key's type, so a secret
            # such as "true", "1e5" or "null" is never turned into something else.
            target[parts[-1]] = value

