"""The emulator's contact-change callbacks: which control calls send which event, and
the encryption as WeCom documents it (checked here with plain AES, not the bridge)."""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from emu_support import api

from wecom_oidc.emulator.callbacks import encrypt, sign

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def _drop_all(client) -> None:
    assert client.post("/_emulator/callback", json={
        "url": "http://127.0.0.1:9/unused", "token": "t", "aes_key": KEY,
        "drop": True}).status_code == 200


def _sent(client) -> list[dict]:
    return [e["fields"] for e in client.get("/_emulator/callback").json["sent"]]


def test_callbacks_status_change_sends_update_user_with_status(client):
    _drop_all(client)
    client.post("/_emulator/members/lisi", json={"status": 2})
    assert _sent(client) == [{"Event": "change_contact", "ChangeType": "update_user",
                              "UserID": "lisi", "Status": 2}]


def test_callbacks_other_field_change_sends_nothing(client):
    _drop_all(client)
    client.post("/_emulator/members/lisi", json={"position": "x"})
    assert _sent(client) == []


def test_callbacks_department_move_sends_update_user_with_department(client):
    _drop_all(client)
    client.post("/_emulator/members/lisi", json={"department": [2, 6]})
    assert _sent(client)[0]["Department"] == "2,6"


def test_callbacks_delete_member_sends_delete_user_and_member_is_gone(client, token):
    _drop_all(client)
    assert client.delete("/_emulator/members/lisi").status_code == 200
    assert _sent(client) == [{"Event": "change_contact", "ChangeType": "delete_user",
                              "UserID": "lisi"}]
    assert api(client, "user/get", token, userid="lisi")["errcode"] != 0
    assert client.delete("/_emulator/members/lisi").status_code == 404


def test_callbacks_tag_change_sends_update_tag(client):
    _drop_all(client)
    client.post("/_emulator/tags/1", json={"add_users": ["lisi"]})
    assert _sent(client)[0]["ChangeType"] == "update_tag"
    assert _sent(client)[0]["AddUserItems"] == "lisi"


def test_callbacks_encryption_follows_d90968():
    encrypted = encrypt(KEY, "ww_corp", b"<xml/>")
    key = base64.b64decode(KEY + "=")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    assert len(plain) % 32 == 0
    plain = plain[:-plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    assert plain[20:20 + length] == b"<xml/>" and plain[20 + length:] == b"ww_corp"
    ts = str(int(time.time()))
    assert sign("t", ts, "n", encrypted) == hashlib.sha1(
        "".join(sorted(["t", ts, "n", encrypted])).encode()).hexdigest()


def test_callbacks_delivery_keeps_the_urls_own_query(client):
    got: list[str] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            got.append(self.path)
            self.send_response(200)
            self.end_headers()
            arrived.set()

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert client.post("/_emulator/callback", json={
            "url": f"http://127.0.0.1:{server.server_port}/wecom/events?tenant=a%26b",
            "token": "t", "aes_key": KEY}).status_code == 200
        client.post("/_emulator/members/lisi", json={"status": 2})
        assert arrived.wait(10), "the emulator never delivered the event"
    finally:
        server.shutdown()
        server.server_close()
    query = parse_qs(urlsplit(got[0]).query)
    assert query["tenant"] == ["a&b"] and set(query) == {"tenant", "msg_signature",
                                                        "timestamp", "nonce"}
