"""Helpers for the interoperability tests: independent relying parties (panva's
openid-client on Node, Apache httpd with mod_auth_openidc) logging in through the
bridge and the WeCom emulator, and claim-shape checks for the recipes in docs/recipes/."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The sample directory's member every interop login scans as.
MEMBER = "zhangsan"


def unavailable(what: str, fix: str) -> NoReturn:
    """Skip with the fix in the message; with CI set a missing RP is a failure."""
    message = f"{what}. Install: {fix}"
    if IN_CI:
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)
