from __future__ import annotations

import pytest

from .stack import Receiver, start_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _clean_emulator(stack):
    stack.emu("POST", "reset")


@pytest.fixture(scope="module")
def receiver():
    """An app's back-channel logout endpoint on a loopback port: records every POST."""
    r = Receiver()
    yield r
    r.stop()
