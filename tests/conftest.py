"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os

import pytest

from wecom_oidc.config import load_settings
from wecom_oidc.oidc.keys import KeyRing

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    """One generated RSA key for the session (generation costs ~100 ms)."""
    return KeyRing.load(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def make_settings(tmp_path):
    """Settings from a TOML text written to a temp file (so paths resolve like a real one)."""

    def make(text: str, env: dict[str, str] | None = None):
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return load_settings(str(path), env=env or {})

    return make
