"""The web tests reuse the OIDC layer's fakes and fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "oidc"))

from oidc_fixtures import app, build_app, clock, http, upstream  # noqa: E402, F401
