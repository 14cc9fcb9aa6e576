"""WeCom callback messages (加解密方案, D90968): signature, AES-256-CBC decryption and
a hardened XML reader. Pure: no Flask, no store, no network.

Pitfalls handled here (wecom-callbacks.md A8): PKCS#7 pads to 32 bytes, not AES's 16;
the signed 4th value is echostr on GET and Encrypt on POST; signatures are compared in
constant time; the receive id (corp id) inside the plaintext is checked, since the
envelope's ToUserName is not signed; XML with a DOCTYPE (entity expansion) is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from xml.parsers import expat

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAX_BODY = 64 * 1024  # a contact event is a few hundred bytes
_BLOCK = 32  # WeCom's PKCS#7 block (D90968), not AES's 16
_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
_AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")


class CallbackRefused(Exception):
    """A callback that must not be acted on. `reason` is a short word for the log and
    the metric (bad_signature, bad_corp, junk, stale, replay); never the payload."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail or reason
        super().__init__(self.detail)


def valid_token(token: str) -> bool:
    return bool(_TOKEN_RE.match(token))


def valid_aes_key(key: str) -> bool:
    return bool(_AES_KEY_RE.match(key))


class CallbackCrypto:
    """WXBizMsgCrypt for one receiver: its Token, EncodingAESKey and receive id
    (the corp id for a self-built app and for the contacts-sync tool)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str):
        if not valid_token(token):
            raise ValueError("callback token must be 1-32 letters or digits")
        if not valid_aes_key(encoding_aes_key):
            raise ValueError("EncodingAESKey must be 43 letters or digits")
        self._token = token
        self._key = base64.b64decode(encoding_aes_key + "=")
        self._receive_id = receive_id.encode()

    def signature(self, timestamp: str, nonce: str, payload: str) -> str:
        """sha1 over the four values sorted and joined (D90968)."""
        parts = sorted([self._token, timestamp, nonce, payload])
        return hashlib.sha1("".join(parts).encode()).hexdigest()

    def check_signature(self, msg_signature: str, timestamp: str, nonce: str,
                        payload: str) -> None:
        expected = self.signature(timestamp, nonce, payload)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode()):
            raise CallbackRefused("bad_signature")

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The plaintext to echo back when WeCom verifies the URL (GET)."""
        self.check_signature(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr).decode()

    def open_post(self, msg_signature: str, timestamp: str, nonce: str,
                  body: bytes) -> tuple[dict[str, str], bytes]:
        """(the event's fields, the raw decrypted message) of a POSTed envelope."""
        envelope = parse_flat_xml(body)
        encrypted = envelope.get("Encrypt", "")
        if not encrypted:
            raise CallbackRefused("junk", "no Encrypt element")
        self.check_signature(msg_signature, timestamp, nonce, encrypted)
        message = self.decrypt(encrypted)
        return parse_flat_xml(message), message

    def decrypt(self, encrypted: str) -> bytes:
        """random(16) | len(4, big-endian) | msg | receive id, PKCS#7 to 32 bytes."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackRefused("junk", "not base64") from None
        if not data or len(data) % 16:
            raise CallbackRefused("junk", "not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackRefused("junk", "bad padding (wrong EncodingAESKey?)")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CallbackRefused("junk", "too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20:20 + length], plain[20 + length:]
        if len(message) != length:
            raise CallbackRefused("junk", "length field out of range")
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise CallbackRefused("bad_corp", "receive id is not this corp")
        return message


def parse_flat_xml(data: bytes) -> dict[str, str]:
    """The text of the root's direct children (`<xml><A>x</A>...</xml>` -> {"A": "x"}).

    Hardened: any DOCTYPE is refused, so no entity (internal or external) is ever
    declared or expanded (billion laughs, XXE); the size is capped. Nested elements
    (ExtAttr items) are skipped: no event field the bridge reads is nested."""
    if len(data) > MAX_BODY:
        raise CallbackRefused("junk", "body too large")
    fields: dict[str, str] = {}
    stack: list[str] = []
    text: list[str] = []

    def refuse_dtd(*_args: object) -> None:
        raise CallbackRefused("junk", "DOCTYPE/entities are not accepted")

    def refuse_external(*_args: object) -> int:
        raise CallbackRefused("junk", "external entities are not accepted")

    def start(name: str, _attrs: dict[str, str]) -> None:
        stack.append(name)
        text.clear()

    def end(name: str) -> None:
        if len(stack) == 2:
            fields.setdefault(name, "".join(text).strip())
        stack.pop()
        text.clear()

    def chars(data: str) -> None:
        if len(stack) == 2:
            text.append(data)

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        raise CallbackRefused("junk", "not well-formed XML") from None
    return fields
