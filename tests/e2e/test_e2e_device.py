"""The device grant end to end: `wecom-oidc login --device` in a real process (its
terminal QR decoded by zxing-cpp) approved from the WeCom app on the emulated
phone; Authlib's OAuth2Session polling while a desktop browser approves through
WeCom's QR login; approval from an existing bridge session; denial; refresh
tokens of a device login rotating and ending when the member leaves."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import IN_CI

from .stack import WECOM_UA, RelyingParty, browser, qr_login, start_stack

if IN_CI:
    import zxingcpp
else:
    zxingcpp = pytest.importorskip("zxingcpp", reason="pip install zxing-cpp (test extra)")

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
KUBECTL = "kubectl"
RECHECK_TTL = 1
EXTRA = f"""
[[clients]]
client_id = "{KUBECTL}"
name = "kubectl (jump host)"
grant_types = ["{DEVICE_CODE}"]
refresh_tokens = "always"
groups = "always"

[tokens]
device_poll_interval = 1
member_recheck_ttl = {RECHECK_TTL}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("device"), extra_config=EXTRA)
    yield s
    s.stop()


def discovery(stack) -> dict:
    return requests.get(stack.bridge_url + "/.well-known/openid-configuration", timeout=5).json()


def id_claims(stack, id_token: str) -> dict:
    keys = KeySet.import_key_set(requests.get(stack.bridge_url + "/jwks.json", timeout=5).json())
    claims = jwt.decode(id_token, keys).claims
    assert claims["iss"] == stack.issuer
    return claims


def confirm_page(b: requests.Session, url: str) -> requests.Response:
    """Follow the bridge and the emulator from the verification link to the
    confirmation page (through whichever WeCom login the browser gets)."""
    r = b.get(url, allow_redirects=False)
    hops = 0
    while r.status_code in (302, 303) and hops < 6:
        location = r.headers["Location"].split("#")[0]  # #wechat_redirect stays client-side
        r = b.get(location, allow_redirects=False)
        hops += 1
    assert r.status_code == 200, r.text[:500]
    return r


def answer(b: requests.Session, page: requests.Response, action: str) -> requests.Response:
    form = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    return b.post(page.url, data={**form, "action": action}, allow_redirects=False)


def phone(userid: str) -> requests.Session:
    b = browser(WECOM_UA)
    b.cookies.set("emu_userid", userid)  # who the emulated WeCom app is signed in as
    return b


def desktop_scan(stack, b: requests.Session, url: str, userid: str) -> requests.Response:
    """Desktop browser: the bridge sends it to WeCom's QR page; `userid` scans."""
    to_wecom = b.get(url, allow_redirects=False)
    assert to_wecom.status_code == 302, to_wecom.text
    page = urlsplit(to_wecom.headers["Location"])
    assert page.path == "/wwlogin/sso/login"
    params = {k: v[0] for k, v in parse_qs(page.query).items()}
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": userid}), allow_redirects=False)
    assert scanned.status_code == 302, scanned.text
    return confirm_page(b, scanned.headers["Location"])


def session_for(stack, client_id: str = KUBECTL, scope: str = "openid profile") -> OAuth2Session:
    return OAuth2Session(client_id, scope=scope, token_endpoint_auth_method="none")


def start_device(stack, client: OAuth2Session) -> dict:
    endpoint = discovery(stack)["device_authorization_endpoint"]
    r = client.post(endpoint, data={"client_id": client.client_id, "scope": client.scope},
                    timeout=5, withhold_token=True)
    assert r.status_code == 200, r.text
    return r.json()


def poll_until_done(stack, client: OAuth2Session, started: dict) -> dict:
    """Poll as RFC 8628 §3.5 says, with the client library raising the errors."""
    token_endpoint = discovery(stack)["token_endpoint"]
    interval = started["interval"]
    for _ in range(60):
        try:
            return dict(client.fetch_token(token_endpoint, grant_type=DEVICE_CODE,
                                           device_code=started["device_code"]))
        except OAuthError as e:
            if e.error not in ("authorization_pending", "slow_down"):
                raise
            interval += 5 if e.error == "slow_down" else 0
            threading.Event().wait(interval)
    raise AssertionError("never approved")


def decode_terminal_qr(text: str) -> str:
    """The URL in segno's compact terminal QR: each character is two modules (upper
    and lower half); block characters are light modules."""
    rows = [line for line in text.splitlines() if line and set(line) <= set("█▀▄ ")]
    width, scale = max(len(r) for r in rows), 4
    modules = []
    for line in rows:
        line = line.ljust(width)
        modules.append([c in "█▀" for c in line])
        modules.append([c in "█▄" for c in line])
    pixels = bytearray()
    for row in modules:
        raster = b"".join((b"\xff" if light else b"\x00") * scale for light in row)
        pixels += raster * scale
    image = memoryview(bytes(pixels)).cast("B", (len(modules) * scale, width * scale))
    found = zxingcpp.read_barcodes(image)
    assert found, "no QR code in the terminal output"
    return found[0].text


# --- the CLI, approved in the WeCom app -------------------------------------------------

def run_cli(stack, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "wecom_oidc.cli", "login", "--device", "--client-id", KUBECTL,
         "--issuer", stack.bridge_url, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def read_prompt(proc: subprocess.Popen) -> tuple[str, str]:
    """The CLI's terminal output up to the code line: (text, user code)."""
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("Code / 验证码: "):
            return "".join(lines), line.split(": ", 1)[1].strip()
    proc.kill()
    raise AssertionError("the CLI printed no code:\n" + "".join(lines))


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_e2e_device_cli_qr_scanned_in_wecom_app_gets_tokens(stack):
    with run_cli(stack, "--scope", "openid profile offline_access") as proc:
        terminal, user_code = read_prompt(proc)
        link = decode_terminal_qr(terminal)
        assert link == f"{stack.bridge_url}/device?user_code={user_code}"
        b = phone("zhangsan")
        first = b.get(link, allow_redirects=False)
        wecom = first.headers["Location"]
        assert urlsplit(wecom).path == "/connect/oauth2/authorize"
        assert "scope=snsapi_base" in wecom and wecom.endswith("#wechat_redirect")
        page = confirm_page(b, link)
        assert "kubectl (jump host)" in html.unescape(page.text) and user_code in page.text
        assert answer(b, page, "approve").status_code == 200
        out, err = finish(proc)
    assert proc.returncode == 0, err
    token = json.loads(out)
    claims = id_claims(stack, token["id_token"])
    assert claims["sub"] == "zhangsan" and claims["aud"] == KUBECTL
    assert "groups" in claims and token["refresh_token"]


def test_e2e_device_cli_denied_on_phone_exits_with_message(stack):
    with run_cli(stack) as proc:
        _, user_code = read_prompt(proc)
        b = phone("lisi")
        page = confirm_page(b, f"{stack.bridge_url}/device?user_code={user_code}")
        assert answer(b, page, "deny").status_code == 200
        out, err = finish(proc)
    assert proc.returncode == 1 and out == ""
    assert "denied" in err


@pytest.fixture
def lone_stack(tmp_path):
    """A stack of its own: the guessing test leaves loopback locked out of code entry."""
    s = start_stack(tmp_path, extra_config=EXTRA, workers=1)
    yield s
    s.stop()


def test_e2e_device_guessing_user_codes_is_cut_off(lone_stack):
    """The attack of RFC 8628 §5.1: guess codes until one is someone's pending login."""
    stack = lone_stack
    victim = start_device(stack, session_for(stack))
    attacker = browser()
    wrong = [c * 8 for c in "BCDFGHJKLM" if c * 8 != victim["user_code"].replace("-", "")]
    for guess in wrong[:10]:
        r = attacker.get(f"{stack.bridge_url}/device", params={"user_code": guess},
                         allow_redirects=False)
        assert r.status_code == 400
    hit = attacker.get(f"{stack.bridge_url}/device", params={"user_code": victim["user_code"]},
                       allow_redirects=False)
    assert hit.status_code == 429  # even the right code: this address is done guessing


# --- a client library polling, approved in a desktop browser ---------------------------

def test_e2e_device_desktop_qr_login_with_oauth2session(stack):
    client = session_for(stack)
    started = start_device(stack, client)
    b = browser()
    page = desktop_scan(stack, b, started["verification_uri_complete"], "lisi")
    assert answer(b, page, "approve").status_code == 200
    token = poll_until_done(stack, client, started)
    assert id_claims(stack, token["id_token"])["sub"] == "lisi"
    userinfo = requests.get(stack.bridge_url + "/userinfo", timeout=5, headers={
        "Authorization": "Bearer " + token["access_token"]})
    assert userinfo.json()["sub"] == "lisi"


def test_e2e_device_typed_code_on_desktop(stack):
    client = session_for(stack)
    started = start_device(stack, client)
    b = browser()
    entry = b.get(started["verification_uri"])
    assert entry.status_code == 200 and 'name="user_code"' in entry.text
    typed = started["user_code"].lower().replace("-", " ")
    page = desktop_scan(stack, b, started["verification_uri"] + "?" + urlencode(
        {"user_code": typed}), "lisi")
    assert answer(b, page, "approve").status_code == 200
    assert poll_until_done(stack, client, started)["access_token"]


def test_e2e_device_existing_bridge_session_confirms_at_once(stack):
    b = browser()
    rp = RelyingParty(stack)
    qr_login(stack, rp.start()["url"], "zhangsan", b=b)  # an earlier web login
    client = session_for(stack)
    started = start_device(stack, client)
    page = b.get(started["verification_uri_complete"], allow_redirects=False)
    assert page.status_code == 200 and 'id="confirm"' in page.text
    assert answer(b, page, "approve").status_code == 200
    assert id_claims(stack, poll_until_done(stack, client, started)["id_token"])["sub"] == \
        "zhangsan"


# --- refresh tokens of a device login -------------------------------------------------

def device_tokens(stack, client: OAuth2Session, userid: str) -> dict:
    started = start_device(stack, client)
    b = phone(userid)
    assert answer(b, confirm_page(b, started["verification_uri_complete"]),
                  "approve").status_code == 200
    return poll_until_done(stack, client, started)


def test_e2e_device_refresh_rotates_and_replay_ends_the_family(stack):
    client = session_for(stack)
    token = device_tokens(stack, client, "lisi")
    token_endpoint = discovery(stack)["token_endpoint"]
    rotated = client.refresh_token(token_endpoint, refresh_token=token["refresh_token"])
    assert rotated["refresh_token"] != token["refresh_token"]
    assert id_claims(stack, rotated["id_token"])["sub"] == "lisi"
    with pytest.raises(OAuthError) as e:  # the old one again: it leaked
        client.refresh_token(token_endpoint, refresh_token=token["refresh_token"])
    assert e.value.error == "invalid_grant"
    with pytest.raises(OAuthError):
        client.refresh_token(token_endpoint, refresh_token=rotated["refresh_token"])


def test_e2e_device_refresh_refused_when_member_left(stack):
    client = session_for(stack)
    token = device_tokens(stack, client, "zhouba")
    stack.emu("POST", "members/zhouba", status=5)  # left the company
    # A re-check made while the device was approved may be cached this long (by design).
    threading.Event().wait(RECHECK_TTL + 0.2)
    with pytest.raises(OAuthError) as e:
        client.refresh_token(discovery(stack)["token_endpoint"],
                             refresh_token=token["refresh_token"])
    assert e.value.error == "invalid_grant"
    userinfo = requests.get(stack.bridge_url + "/userinfo", timeout=5, headers={
        "Authorization": "Bearer " + token["access_token"]})
    assert userinfo.status_code == 401


def test_e2e_device_session_of_disabled_member_cannot_approve(stack):
    b = browser()
    qr_login(stack, RelyingParty(stack).start()["url"], "sunqi", b=b)
    stack.emu("POST", "members/sunqi", status=2)  # disabled in the directory
    threading.Event().wait(RECHECK_TTL + 0.2)  # past the login's own check
    client = session_for(stack)
    started = start_device(stack, client)
    again = b.get(started["verification_uri_complete"], allow_redirects=False)
    assert again.status_code == 302  # no confirmation: the session ended, WeCom asks again
    assert urlsplit(again.headers["Location"]).path == "/wwlogin/sso/login"
    params = {k: v[0] for k, v in parse_qs(urlsplit(again.headers["Location"]).query).items()}
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": "sunqi"}), allow_redirects=False)
    refused = b.get(scanned.headers["Location"], allow_redirects=False)
    assert refused.status_code == 403
    with pytest.raises(OAuthError) as e:
        client.fetch_token(discovery(stack)["token_endpoint"], grant_type=DEVICE_CODE,
                           device_code=started["device_code"])
    assert e.value.error == "authorization_pending"


def test_e2e_device_cli_poller_slows_down_when_told(stack):
    """The CLI's poller against the bridge with a sleep that does not wait: the
    bridge answers slow_down, and every later wait is 5 s longer (RFC 8628 §3.5)."""
    from wecom_oidc.device_login import poll

    client = session_for(stack)
    started = start_device(stack, client)
    waits: list[float] = []

    def no_wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:  # approve while the CLI "waits" the third time
            b = phone("lisi")
            answer(b, confirm_page(b, started["verification_uri_complete"]), "approve")

    token = poll(client, discovery(stack)["token_endpoint"], started, sleep=no_wait,
                 clock=lambda: 0.0)
    assert waits == [1, 1, 6]
    assert id_claims(stack, token["id_token"])["sub"] == "lisi"
