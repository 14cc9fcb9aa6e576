"""WeCom's side of the contact-change callbacks (D90968, D90970): encrypt, sign and
POST an event to the configured receiver, in a thread of its own as WeCom does.

Written from the documentation, not from the bridge (which this package never
imports), so a misreading on the bridge side cannot be mirrored here. Uses
`cryptography` for AES only; the framing (random | length | msg | corpid, PKCS#7 to
32 bytes) is done here.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import struct
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .urls import with_query

log = logging.getLogger(__name__)


@dataclass
class CallbackTarget:
    """Where events go (the console's URL, Token and EncodingAESKey). `drop` makes
    the emulator lose every event (as WeCom may), for reconciliation tests."""

    url: str = ""
    token: str = ""
    aes_key: str = ""
    drop: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)  # what happened, for tests


def encrypt(aes_key: str, corp_id: str, message: bytes) -> str:
    key = base64.b64decode(aes_key + "=")
    plain = os.urandom(16) + struct.pack("!I", len(message)) + message + corp_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def sign(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()
                        ).hexdigest()


def event_xml(corp_id: str, fields: dict[str, Any], now: int) -> bytes:
    """A change_contact / subscribe event as WeCom writes it (CDATA for strings).
    FromUserName is `sys` for contact changes, the member for (un)subscribe."""
    fields = {"FromUserName": "sys", **fields}
    body = [f"<ToUserName><![CDATA[{corp_id}]]></ToUserName>",
            f"<CreateTime>{now}</CreateTime>", "<MsgType><![CDATA[event]]></MsgType>"]
    for name, value in fields.items():
        body.append(f"<{name}>{value}</{name}>" if isinstance(value, int) else
                    f"<{name}><![CDATA[{value}]]></{name}>")
    return ("<xml>" + "".join(body) + "</xml>").encode()


def envelope(corp_id: str, agent_id: int, encrypted: str) -> bytes:
    return (f"<xml><ToUserName><![CDATA[{escape(corp_id)}]]></ToUserName>"
            f"<AgentID><![CDATA[{agent_id}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>").encode()


def send(target: CallbackTarget, corp_id: str, agent_id: int, fields: dict[str, Any]) -> None:
    """Post one event in the background (WeCom does not wait for the change to
    return); up to 3 tries when the receiver fails or is slower than 5 s (D90238)."""
    if not target.url or not target.token or not target.aes_key:
        return
    now = int(time.time())  # WeCom's real clock, not the emulator's test clock
    record: dict[str, Any] = {"fields": dict(fields), "at": time.time(), "status": None}
    target.sent.append(record)
    if target.drop:
        record["status"] = "dropped"
        return
    message = event_xml(corp_id, fields, now)

    def run() -> None:
        for attempt in range(3):
            encrypted = encrypt(target.aes_key, corp_id, message)
            timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
            url = with_query(target.url, msg_signature=sign(
                target.token, timestamp, nonce, encrypted), timestamp=timestamp, nonce=nonce)
            req = urllib.request.Request(url,
                                         data=envelope(corp_id, agent_id, encrypted),
                                         headers={"Content-Type": "text/xml"})
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    record["status"] = resp.status
                    return
            except urllib.error.HTTPError as e:
                record["status"] = e.code
            except OSError as e:
                record["status"] = type(e).__name__
            log.warning("emulator callback try %d failed: %s", attempt + 1, record["status"])
            time.sleep(0.2)

    threading.Thread(target=run, name="emulator-callback", daemon=True).start()
