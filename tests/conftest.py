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


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium (the distribution's, driven by Playwright) for the whole
    run: Playwright's sync API allows one instance at a time, and tests/browser and
    tests/apps both need it."""
    from browser.browser_support import CHROMIUM_ARGS, chromium_path, no_browser

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        no_browser("the playwright package is not installed")
    executable = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
