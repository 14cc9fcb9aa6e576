"""Real apps (JupyterHub with oauthenticator, Matrix Synapse) signing people in through
the bridge and the WeCom emulator, driven by headless Chromium like a person would:
the app's own login button, the emulator's QR page (or the WeCom app), back to the app.

Without the apps (`make apps`) or the browser the tests skip; with CI set they fail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser.browser_support import TIMEOUT_MS


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Callable[..., Any]]:
    """new_page(user_agent=None) -> a page in a fresh browser context (own cookies)."""
    contexts: list[Any] = []

    def make(user_agent: str | None = None) -> Any:
        context = chromium.new_context(locale="zh-CN", user_agent=user_agent) \
            if user_agent else chromium.new_context(locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
