from __future__ import annotations

import pytest

from .stack import start_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _clean_emulator(stack):
    stack.emu("POST", "reset")
