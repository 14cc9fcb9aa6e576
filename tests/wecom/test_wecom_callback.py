"""The callback crypto against WeCom's side as the emulator writes it (its own
implementation from D90968), and the hardened XML reader."""

from __future__ import annotations

import base64
import time

import pytest

from wecom_oidc.emulator.callbacks import encrypt, envelope, event_xml, sign
from wecom_oidc.wecom.callback import CallbackCrypto, CallbackRefused, parse_flat_xml

TOKEN = "QDG6eK"
KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # D90968's example key
CORP = "wx5823bf96d3bd56c7"
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><Encrypt>&lol4;</Encrypt></xml>"""


def crypto(corp: str = CORP) -> CallbackCrypto:
    return CallbackCrypto(TOKEN, KEY, corp)


# D90968's worked example (the official doc's POST): its Encrypt value and signature.
DOC_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qcz"
    "cdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8q"
    "Ljvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4L"
    "UMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rU"
    "PA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXd"
    "Q2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==")
DOC_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"


def test_signature_matches_d90968_worked_example():
    assert crypto().signature("1409659813", "1372623149", DOC_ENCRYPT) == DOC_SIGNATURE


def test_open_post_d90968_worked_example_pad_30():
    # Its padding is 30 bytes: a 16-byte PKCS#7 unpadder would refuse it.
    body = envelope(CORP, 218, DOC_ENCRYPT)
    event, raw = crypto().open_post(DOC_SIGNATURE, "1409659813", "1372623149", body)
    assert len(raw) == 284
    assert event["ToUserName"] == CORP and event["MsgType"] == "text"


@pytest.mark.parametrize("size", [1, 11, 12, 100, 284, 1000])
def test_decrypt_emulator_message_round_trips_any_padding(size):
    # Sizes whose 32-byte padding is above 16 (e.g. 12 -> 16+4+12+18 = 50 -> pad 14,
    # 11 -> pad 15 ... 284 -> pad 30 as in the doc) break a 16-byte unpadder.
    message = b"x" * size
    assert crypto().decrypt(encrypt(KEY, CORP, message)) == message


def test_decrypt_pad_above_16_is_accepted():
    message = b"<xml/>" + b"y" * 278  # 284 bytes: the doc's case, pad = 30
    plain_len = 16 + 4 + len(message) + len(CORP)
    assert 32 - plain_len % 32 > 16
    assert crypto().decrypt(encrypt(KEY, CORP, message)) == message


def test_open_post_reads_event_fields():
    now = str(int(time.time()))
    message = event_xml(CORP, {"Event": "change_contact", "ChangeType": "delete_user",
                               "UserID": "zhangsan"}, int(now))
    encrypted = encrypt(KEY, CORP, message)
    event, raw = crypto().open_post(sign(TOKEN, now, "42", encrypted), now, "42",
                                    envelope(CORP, 1000002, encrypted))
    assert raw == message
    assert event["ChangeType"] == "delete_user" and event["UserID"] == "zhangsan"
    assert event["FromUserName"] == "sys"


def test_open_post_bad_signature_refused():
    encrypted = encrypt(KEY, CORP, b"<xml/>")
    with pytest.raises(CallbackRefused) as e:
        crypto().open_post("0" * 40, "1", "2", envelope(CORP, 1, encrypted))
    assert e.value.reason == "bad_signature"


def test_open_post_signature_over_other_value_refused():
    encrypted = encrypt(KEY, CORP, b"<xml/>")
    with pytest.raises(CallbackRefused):
        crypto().open_post(sign(TOKEN, "1", "2", "echostr"), "1", "2",
                           envelope(CORP, 1, encrypted))


def test_decrypt_other_corp_refused():
    # Same key, another corp's receive id (WxJava skips this check).
    with pytest.raises(CallbackRefused) as e:
        crypto().decrypt(encrypt(KEY, "ww_other_corp", b"<xml/>"))
    assert e.value.reason == "bad_corp"


def test_decrypt_wrong_key_refused_as_junk():
    other = base64.b64encode(b"k" * 32).decode().rstrip("=")
    with pytest.raises(CallbackRefused) as e:
        crypto().decrypt(encrypt(other, CORP, b"<xml/>"))
    assert e.value.reason in ("junk", "bad_corp")


@pytest.mark.parametrize("junk", ["", "not base64!", base64.b64encode(b"short").decode(),
                                  base64.b64encode(b"a" * 33).decode()])
def test_decrypt_junk_refused(junk):
    with pytest.raises(CallbackRefused) as e:
        crypto().decrypt(junk)
    assert e.value.reason == "junk"


def test_verify_url_returns_plaintext_echostr():
    echostr = encrypt(KEY, CORP, b"1616140317555161061")
    assert crypto().verify_url(sign(TOKEN, "1", "2", echostr), "1", "2", echostr) == \
        "1616140317555161061"


def test_parse_billion_laughs_refused_without_expansion():
    started = time.monotonic()
    with pytest.raises(CallbackRefused) as e:
        parse_flat_xml(BILLION_LAUGHS)
    assert e.value.reason == "junk"
    assert time.monotonic() - started < 5  # refused at the DOCTYPE, not expanded


def test_parse_external_entity_refused():
    xxe = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><A>&e;</A></xml>'
    with pytest.raises(CallbackRefused):
        parse_flat_xml(xxe)


def test_parse_oversized_refused():
    with pytest.raises(CallbackRefused):
        parse_flat_xml(b"<xml><A>" + b"a" * 70000 + b"</A></xml>")


def test_parse_skips_nested_and_keeps_first():
    fields = parse_flat_xml(b"<xml><A><![CDATA[x]]></A><Ext><Item><N>n</N></Item></Ext>"
                            b"<A>y</A></xml>")
    assert fields == {"A": "x", "Ext": ""}


def test_crypto_rejects_bad_settings():
    with pytest.raises(ValueError):
        CallbackCrypto("bad token!", KEY, CORP)
    with pytest.raises(ValueError):
        CallbackCrypto(TOKEN, KEY[:-1], CORP)
