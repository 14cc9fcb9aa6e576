"""Headless Chromium (the distribution's `chromium` package, never a downloaded
browser) driven by Playwright against the real demo stack: emulator, bridge
under `wecom-oidc serve` and the sample app, on loopback sockets, one stack per module.

Without the browser the tests skip with a message; with CI set they fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import TIMEOUT_MS

from wecom_oidc.demo.run import Stack, start_stack


@pytest.fixture(scope="session")
def browser(chromium: Any) -> Any:
    """The run's one Chromium (tests/conftest.py)."""
    return chromium


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo's own stack, on free ports."""
    s = start_stack(tmp_path_factory.mktemp("demo"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def artifacts(pytestconfig: pytest.Config) -> Path:
    """test-artifacts/browser/, emptied of a previous run's screenshots."""
    path = pytestconfig.rootpath / "test-artifacts" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_page(browser: Any, artifacts: Path, request: pytest.FixtureRequest
             ) -> Iterator[Callable[..., Any]]:
    """new_page(user_agent=None, locale="en-US") -> a page in a fresh browser
    context (own cookies). A failing test leaves a screenshot of each page."""
    contexts: list[Any] = []

    def make(user_agent: str | None = None, locale: str = "en-US",
             mobile: bool = False) -> Any:
        options: dict[str, Any] = {"locale": locale}
        if user_agent:
            options["user_agent"] = user_agent
        if mobile:
            options.update(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                           is_mobile=True, has_touch=True)
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = request.node.stash.get(_FAILED, False)
    for i, context in enumerate(contexts):
        if failed:
            for j, page in enumerate(context.pages):
                page.screenshot(path=artifacts / f"{_slug(request.node.name)}-FAILED-{i}{j}.png",
                                full_page=True)
        context.close()


@pytest.fixture
def shot(artifacts: Path, request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """shot(page, step): a full-page screenshot kept under test-artifacts/browser/."""

    def take(page: Any, step: str) -> Path:
        path = artifacts / f"{_slug(request.node.name)}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
