"""/readyz (can this replica serve logins now?) and /metrics.

/healthz (web/views.py) says only that the process answers; /readyz checks what a
login needs from this replica: the state store answers and the signing keys are
loaded. A load balancer takes a replica out of rotation on 503.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

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
        # The public answer names no host or port (anyone may ask); the log does.
        log.warning("readiness: store unreachable: %s", e)
        checks["store"] = "unreachable"
    except Exception as e:  # a backend bug must still read as "not ready", not a 500
        log.warning("readiness: store check failed: %s", type(e).__name__)
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

    server = provider.settings.server
    if not server.metrics_bind:  # else on its own port (cli serve), 404 here
        token = server.metrics_token.reveal().encode() if server.metrics_token else None

        @bp.get("/metrics")
        def prometheus() -> Response:
            if token is not None and not _bearer_matches(token):
                return Response("metrics need the bearer token ([server] metrics_token)\n",
                                401, {"WWW-Authenticate": 'Bearer realm="metrics"'},
                                mimetype="text/plain")
            body, content_type = metrics.exposition()
            return Response(body, content_type=content_type,
                            headers={"Cache-Control": "no-store"})

    return bp


def _bearer_matches(token: bytes) -> bool:
    """Constant-time: a timing difference must not spell the token out."""
    given = request.headers.get("Authorization", "")
    return given[:7].lower() == "bearer " and hmac.compare_digest(
        given[7:].strip().encode(), token)
