"""The WeCom callback receiver (接收消息 API / 通讯录同步 event server) at /wecom/events.

GET: URL verification, answered with the decrypted echostr as plain text (D90930).
POST: an encrypted event. Checked here (signature, timestamp, receive id, XML) and
de-duplicated; the work runs after the answer in a thread, so WeCom gets its empty
200 within milliseconds (it retries after 5 s, D90238). Refusals are 403/400 with a
log line; nothing here answers 500.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

from flask import Blueprint, Response, request

from ..store.base import StateStore
from ..store.kinds import Kind
from ..wecom.callback import CallbackCrypto, CallbackRefused

log = logging.getLogger("wecom_oidc.web")

SEEN = Kind.WECOM_EVENT_SEEN
SEEN_TTL = 86400  # longer than WeCom's retries and the timestamp window
MAX_SKEW = 600  # seconds between WeCom's timestamp and our clock
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wecom-events")


def _query() -> dict[str, str]:
    """The query string decoded with unquote, not form-style: echostr is Base64 and a
    raw '+' must stay '+' (wecom-callbacks.md A2 pitfall)."""
    out: dict[str, str] = {}
    for pair in request.query_string.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name and name not in out:
            out[name] = unquote(value)
    return out


def make_events_blueprint(crypto: CallbackCrypto, store: StateStore,
                          handle: Callable[[dict[str, str]], None],
                          name_of: Callable[[dict[str, str]], str],
                          observe: Callable[[str, str], None],
                          clock: Callable[[], float]) -> Blueprint:
    bp = Blueprint("wecom_events", __name__)

    def refuse(e: CallbackRefused, what: str) -> Response:
        log.warning("wecom callback refused: %s (%s) %s ip=%s", e.reason, e.detail, what,
                    request.remote_addr)
        observe(what, e.reason)
        return Response(e.reason, status=400 if e.reason == "junk" else 403,
                        mimetype="text/plain")

    def params(*names: str) -> list[str]:
        q = _query()
        missing = [n for n in names if not q.get(n)]
        if missing:
            raise CallbackRefused("junk", "missing " + ",".join(missing))
        return [q[n] for n in names]

    def fresh(timestamp: str) -> None:
        # ASCII digits only: "²".isdigit() is True but int("²") raises.
        if not (timestamp.isascii() and timestamp.isdigit()) or \
                abs(int(timestamp) - clock()) > MAX_SKEW:
            raise CallbackRefused("stale", "timestamp outside the window")

    @bp.get("/wecom/events")
    def verify() -> Response:
        try:
            signature, timestamp, nonce, echostr = params(
                "msg_signature", "timestamp", "nonce", "echostr")
            plain = crypto.verify_url(signature, timestamp, nonce, echostr)
        except CallbackRefused as e:
            return refuse(e, "verify")
        observe("verify", "ok")
        log.info("wecom callback URL verified")
        # Exactly the plaintext: no quotes, newline or BOM (D90930).
        return Response(plain, mimetype="text/plain")

    @bp.post("/wecom/events")
    def receive() -> Response:
        try:
            signature, timestamp, nonce = params("msg_signature", "timestamp", "nonce")
            fresh(timestamp)
            event, message = crypto.open_post(signature, timestamp, nonce,
                                              request.get_data(cache=False))
        except CallbackRefused as e:
            return refuse(e, "event")
        name = name_of(event)
        # WeCom retries (up to 3 tries) and a captured request replayed carry the
        # same message: act on it once, and answer 200 so WeCom stops retrying.
        digest = hashlib.sha256(message).hexdigest()
        if not store.add(SEEN, digest, {"event": name}, SEEN_TTL):
            log.info("wecom callback duplicate event=%s ignored", name)
            observe(name, "duplicate")
            return Response("", mimetype="text/plain")
        observe(name, "accepted")
        log.info("wecom callback event=%s accepted", name)
        _pool.submit(_run, handle, event, name)
        return Response("", mimetype="text/plain")

    return bp


def _run(handle: Callable[[dict[str, str]], None], event: dict[str, str], name: str) -> None:
    try:
        handle(event)
    except Exception:  # noqa: BLE001 - logged; the sweep catches what is missed
        log.exception("wecom callback event=%s failed", name)
