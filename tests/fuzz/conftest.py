"""One real stack (`wecom-oidc serve` + the WeCom emulator on loopback) for the whole fuzz
session, and the per-endpoint count of requests tried, printed at the end."""

from __future__ import annotations

import pytest
from e2e.stack import start_stack
from fuzz_http import TRIED, FuzzEnv
from fuzz_targets import EXTRA_CONFIG


@pytest.fixture(scope="session")
def fuzz_env(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("fuzz"), workers=1,
                        extra_config=EXTRA_CONFIG)
    try:
        yield FuzzEnv(stack)
    finally:
        stack.stop()


def pytest_terminal_summary(terminalreporter):
    if TRIED:
        terminalreporter.section("fuzz: requests sent per endpoint")
        for name, n in sorted(TRIED.items()):
            terminalreporter.write_line(f"{name:24} {n:7d}")
        terminalreporter.write_line(f"{'total':24} {sum(TRIED.values()):7d}")
