"""The emulator's QR codes (segno, drawn as one SVG path), checked by an independent
decoder (zxing-cpp).

The SVG is rasterized here, without numpy or PIL: its dark runs become black pixels in a
grayscale buffer, which zxing-cpp reads through the buffer protocol.
"""

from __future__ import annotations

import html as htmllib
import os
import random
import re

import pytest
import requests

from wecom_oidc.emulator.qr import encode, qr_svg, to_svg

if os.environ.get("CI", "").lower() in ("", "0", "false", "no"):
    zxingcpp = pytest.importorskip("zxingcpp", reason="pip install zxing-cpp (test extra)")
else:  # in CI a missing decoder is a failure, never a skip
    import zxingcpp

SCALE = 4
_RUN = re.compile(r"M(\d+),(\d+)h(\d+)v1h-\d+z")


def _raster(svg: str) -> memoryview:
    """The SVG drawn at SCALE px per module, quiet zone included, as an 8-bit gray image."""
    n = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    width = n * SCALE
    pixels = bytearray(b"\xff" * width * width)
    for x, y, run in ((int(a), int(b), int(c)) for a, b, c in _RUN.findall(svg)):
        for dy in range(SCALE):
            start = (y * SCALE + dy) * width + x * SCALE
            pixels[start:start + run * SCALE] = b"\x00" * (run * SCALE)
    return memoryview(pixels).cast("B", (width, width))


def _decode(svg: str) -> zxingcpp.Barcode:
    found = zxingcpp.read_barcodes(_raster(svg), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, "the decoder found no QR code"
    return found[0]


def _version(text: str, level: str) -> int:
    return (len(encode(text, level)) - 17) // 4


@pytest.mark.parametrize("level", ["L", "M"])
@pytest.mark.parametrize("length", [1, 14, 17, 40, 100, 200, 213, 271, 300, 420, 700, 1200])
def test_qr_encode_any_length_decodes_to_same_text(level, length):
    rng = random.Random(length)
    text = "".join(rng.choice("abcXYZ0123456789/?&=%:.-_~") for _ in range(length))
    barcode = _decode(qr_svg(text, level))
    assert barcode.text == text
    assert barcode.ec_level == level


def test_qr_encode_utf8_text_decodes_to_same_bytes():
    text = "https://example.com/登录?名字=张三"
    assert _decode(qr_svg(text)).bytes == text.encode("utf-8")


@pytest.mark.parametrize(("length", "level", "version"), [
    (14, "M", 1), (15, "M", 2), (17, "L", 1), (18, "L", 2), (213, "M", 10), (214, "M", 11),
    (271, "L", 10), (272, "L", 11),
])
def test_qr_encode_picks_smallest_version(length, level, version):
    assert _version("a" * length, level) == version


def test_qr_encode_too_long_raises_value_error():
    with pytest.raises(ValueError):
        encode("a" * 2332, "M")  # version 40-M holds 2331 bytes


def test_qr_svg_has_four_module_quiet_zone():
    matrix = encode("hello")
    assert f'viewBox="0 0 {len(matrix) + 8} {len(matrix) + 8}"' in to_svg(matrix)


def test_qr_login_page_qr_decodes_to_scan_url(client):
    page = client.get("/wwlogin/sso/login", query_string={
        "login_type": "CorpApp", "appid": "ww_emulated_corp", "agentid": "1000002",
        "redirect_uri": "https://bridge.example.com/wecom/callback?x=" + "y" * 120,
        "state": "s" * 64, "lang": "zh"}).get_data(as_text=True)
    scan_url = htmllib.unescape(re.search(r'data-scan-url="([^"]+)"', page).group(1))
    svg = re.search(r"<svg .*?</svg>", page).group(0)
    assert scan_url.startswith("http://localhost/wwlogin/sso/scan?")
    assert len(scan_url) > 300
    assert _decode(svg).text == scan_url


def test_qr_scanned_by_signed_in_phone_over_sockets_logs_in(live):
    """Decode the QR of the live page and open it as a phone signed in as lisi."""
    page = requests.get(f"{live}/wwlogin/sso/login", timeout=5, params={
        "login_type": "CorpApp", "appid": "ww_emulated_corp", "agentid": "1000002",
        "redirect_uri": "https://bridge.example.com/wecom/callback", "state": "qr1"}).text
    scanned = _decode(re.search(r"<svg .*?</svg>", page).group(0)).text
    assert scanned.startswith(f"{live}/wwlogin/sso/scan?")
    response = requests.get(scanned, cookies={"emu_userid": "lisi"}, allow_redirects=False,
                            timeout=5)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://bridge.example.com/wecom/callback?")
    assert "state=qr1" in response.headers["Location"]
