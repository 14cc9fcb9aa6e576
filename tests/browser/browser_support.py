"""Constants and helpers shared by the browser tests (a plain module: the test
folders are not packages)."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Containers often give /dev/shm only 64 MB, which crashes Chromium's renderers.
    "--disable-dev-shm-usage",
]
# What the WeCom app on an iPhone sends; `wxwork` is what the bridge looks for.
WECOM_MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 wxwork/4.1.6 MicroMessenger/7.0.1 Language/zh")
TIMEOUT_MS = 15_000


def no_browser(reason: str) -> None:
    """Skip, with the fix in the message; in CI a missing browser is a failure."""
    message = (f"browser tests need Playwright and Chromium: {reason}. "
               "Install: apt-get install chromium; pip install -e '.[test]'")
    if IN_CI:
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def chromium_path() -> str:
    """The distribution's Chromium; Playwright never downloads a browser here."""
    path = shutil.which("chromium")
    if path is None:
        no_browser("no `chromium` on PATH")
    assert path is not None
    return path
