"""/readyz (can this replica serve logins now?) and /metrics.

/healthz (web/views.py) says only that the process answers; /readyz checks what a
login needs from this replica: the state store answers and the signing keys are
loaded. A load balancer takes a replica out of rotation on 503.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify

from ..errors import StoreUnavailable
from .metrics import Metrics

log = logging.getLogger(__name__)


def readiness(store: Any, keys: Any) -> dict[str, str]:
    """{check: "ok" | what is wrong}; every check runs, so one answer names them all."""
    checks: dict[str, str] = {}
    try:
        store.ping()
        checks["store"] = "ok"
    except StoreUnavailable as e:
        checks["store"] = f"unreachable: {e}"
    except Exception as e:  # a backend bug must still read as "not ready", not a 500
        checks["store"] = f"error: {type(e).__name__}"
    try:
        jwks = keys.public_jwks()["keys"]
        checks["keys"] = "ok" if keys.kid and jwks else "no signing key loaded"
    except Exception as e:
        checks["keys"] = f"error: {type(e).__name__}"
    return checks


def make_ops_blueprint(provider: Any, metrics: Metrics) -> Blueprint:
    bp = Blueprint("ops", __name__)

    @bp.get("/readyz")
    def readyz() -> Response:
        checks = readiness(provider.store, provider.keys)
        ready = all(v == "ok" for v in checks.values())
        if not ready:
            log.warning("not ready %s", " ".join(f"{k}={v!r}" for k, v in checks.items()
                                                   if v != "ok"))
        resp = jsonify(status="ok" if ready else "unavailable", checks=checks)
        resp.status_code = 200 if ready else 503
        resp.headers["Cache-Control"] = "no-store"
        return resp

    if not provider.settings.server.metrics_bind:  # else on its own port (cli serve)
        @bp.get("/metrics")
        def prometheus() -> Response:
            body, content_type = metrics.exposition()
            return Response(body, content_type=content_type,
                            headers={"Cache-Control": "no-store"})

    return bp
