"""Signing algorithms per client and key rotation, end to end: ES256 ID tokens that
Authlib's client validates against the JWKS, discovery listing exactly the
algorithms in use, and tokens signed before `wecom-oidc keys rotate` still verifying."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .stack import CONFIDENTIAL, RelyingParty, browser, qr_login, start_stack

ES = ("es-app", "es-app-secret-0123456789-0123456", "https://es.example/callback")
EXTRA = f"""
[[clients]]
client_id = "{ES[0]}"
client_secret = "{ES[1]}"
redirect_uris = ["{ES[2]}"]
id_token_signed_response_alg = "ES256"
refresh_tokens = "always"
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("op-keys"), extra_config=EXTRA, workers=1)
    yield s
    s.stop()


def es_rp(stack) -> RelyingParty:
    return RelyingParty(stack, client_id=ES[0], client_secret=ES[1], redirect_uri=ES[2])


def login(stack, rp: RelyingParty, b=None) -> tuple[dict, dict]:
    started = rp.start()
    token, claims, _ = rp.finish(qr_login(stack, started["url"], "zhangsan", b=b), started)
    return token, claims


def _header(token: str) -> dict:
    h = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))


def jwks(stack) -> dict:
    return requests.get(stack.bridge_url + "/jwks.json", timeout=5).json()


def discovery(stack) -> dict:
    return requests.get(stack.bridge_url + "/.well-known/openid-configuration",
                        timeout=5).json()


def test_keys_es256_client_gets_es256_id_token_validated_by_authlib(stack):
    token, claims = login(stack, es_rp(stack))  # finish() validates against the JWKS
    h = _header(token["id_token"])
    assert h["alg"] == "ES256"
    published = {k["kid"]: k for k in jwks(stack)["keys"]}
    assert published[h["kid"]]["kty"] == "EC"
    assert published[h["kid"]]["crv"] == "P-256"
    assert published[h["kid"]]["alg"] == "ES256"
    assert claims["aud"] == ES[0]
    assert claims["sub"] == "zhangsan"


def test_keys_es256_client_refresh_id_token_es256(stack):
    rp = es_rp(stack)
    token, first = login(stack, rp)
    new = rp.refresh(token["refresh_token"])
    assert _header(new["id_token"])["alg"] == "ES256"
    assert rp.id_claims(new)["sub"] == first["sub"]


def test_keys_rs256_client_beside_es256_client_still_rs256(stack):
    token, _ = login(stack, RelyingParty(stack))
    h = _header(token["id_token"])
    assert h["alg"] == "RS256"
    assert {k["kid"]: k for k in jwks(stack)["keys"]}[h["kid"]]["kty"] == "RSA"


def test_keys_es256_client_access_token_stays_rs256(stack):
    token, _ = login(stack, es_rp(stack))
    assert _header(token["access_token"])["alg"] == "RS256"
    assert _header(token["access_token"])["typ"] == "at+jwt"


def test_keys_es256_id_token_accepted_as_id_token_hint(stack):
    b = browser()
    token, _ = login(stack, es_rp(stack), b=b)
    rp = es_rp(stack)
    started = rp.start(prompt="none", id_token_hint=token["id_token"])
    back = b.get(started["url"], allow_redirects=False).headers["Location"]
    _, claims, _ = rp.finish(back, started)
    assert claims["sub"] == "zhangsan"


def test_discovery_lists_es256_when_a_client_uses_it(stack):
    algs = discovery(stack)["id_token_signing_alg_values_supported"]
    assert algs[0] == "RS256"
    assert set(algs) == {"RS256", "ES256"}


def test_discovery_lists_rs256_only_without_es256_client(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("op-keys-rs"), workers=1)
    try:
        meta = discovery(s)
        keys = jwks(s)["keys"]
    finally:
        s.stop()
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {k["alg"] for k in keys} == {"RS256"}


def test_discovery_lists_rs256_only_when_es256_key_exists_but_no_client_uses_it(
        tmp_path_factory):
    """An ES256 key left in the folder (a client that used it was removed, or
    `keys generate --alg ES256` ahead of time) signs nothing: not advertised."""
    from wecom_oidc.oidc.keys import generate_key

    workdir = tmp_path_factory.mktemp("op-keys-spare-es")
    generate_key(workdir / "keys", "ES256")
    s = start_stack(workdir, workers=1)
    try:
        algs = discovery(s)["id_token_signing_alg_values_supported"]
    finally:
        s.stop()
    assert algs == ["RS256"]


# --- rotation (its own stack: it changes the keys folder) ------------------------------

def cli(stack, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "wecom_oidc.cli", "--config",
                          str(stack.workdir / "bridge.toml"), "keys", *args],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout


def _workers(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def reload_until(stack, predicate, timeout: float = 30) -> None:
    """SIGHUP the server (new workers load the keys folder again), then wait until
    every worker from before has exited and the bridge's JWKS satisfies `predicate`
    three times in a row."""
    server = stack.procs[0].pid
    old = _workers(server)
    stack.procs[0].send_signal(signal.SIGHUP)
    deadline, streak = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        try:
            streak = streak + 1 if predicate(jwks(stack)) else 0
        except requests.RequestException:
            streak = 0
        if streak >= 3 and not old & _workers(server):
            return
        time.sleep(0.2)
    raise AssertionError("the bridge did not pick up the keys folder after SIGHUP")


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    """A stack that logged in, then rotated its keys and reloaded: yields the stack,
    the app, the browser, the tokens and claims from before, and the old kids."""
    s = start_stack(tmp_path_factory.mktemp("op-rotate"), extra_config=EXTRA, workers=1)
    try:
        b = browser()
        rp = RelyingParty(s, scope="openid profile offline_access")
        es = es_rp(s)
        before = {"rs": login(s, rp, b=b), "es": login(s, es)}
        old_kids = {k["kid"] for k in jwks(s)["keys"]}
        assert len(old_kids) == 2
        cli(s, "rotate")
        reload_until(s, lambda j: len(j["keys"]) == 4)
        yield {"stack": s, "rp": rp, "es": es, "b": b, "before": before, "old_kids": old_kids}
    finally:
        s.stop()


def test_rotate_jwks_publishes_old_and_new_keys(rotated):
    kids = {k["kid"]: k["alg"] for k in jwks(rotated["stack"])["keys"]}
    assert rotated["old_kids"] < set(kids)
    assert sorted(kids.values()) == ["ES256", "ES256", "RS256", "RS256"]


def test_rotate_new_tokens_signed_with_new_keys(rotated):
    s = rotated["stack"]
    for app in (RelyingParty(s), es_rp(s)):
        token, _ = login(s, app)  # validated by Authlib against the JWKS
        assert _header(token["id_token"])["kid"] not in rotated["old_kids"]
        assert _header(token["access_token"])["kid"] not in rotated["old_kids"]


def test_rotate_old_id_tokens_still_verify_against_jwks(rotated):
    keyset = KeySet.import_key_set(jwks(rotated["stack"]))
    for token, claims in rotated["before"].values():
        assert _header(token["id_token"])["kid"] in rotated["old_kids"]
        assert jwt.decode(token["id_token"], keyset).claims["sid"] == claims["sid"]


def test_rotate_old_access_token_still_accepted_by_userinfo_and_introspection(rotated):
    s = rotated["stack"]
    token, _ = rotated["before"]["rs"]
    r = requests.get(s.bridge_url + "/userinfo", timeout=5,
                     headers={"Authorization": "Bearer " + token["access_token"]})
    assert r.status_code == 200
    body = requests.post(s.bridge_url + "/introspect", auth=CONFIDENTIAL,
                         data={"token": token["access_token"]}, timeout=5).json()
    assert body["active"] is True


def test_rotate_old_id_token_still_works_as_id_token_hint(rotated):
    s = rotated["stack"]
    token, _ = rotated["before"]["rs"]
    rp = RelyingParty(s)
    started = rp.start(prompt="none", id_token_hint=token["id_token"])
    back = rotated["b"].get(started["url"], allow_redirects=False).headers["Location"]
    _, claims, _ = rp.finish(back, started)
    assert claims["sub"] == "zhangsan"


def test_rotate_refresh_after_rotation_signs_with_new_key(rotated):
    token, _ = rotated["before"]["es"]
    new = rotated["es"].refresh(token["refresh_token"])
    assert _header(new["id_token"])["kid"] not in rotated["old_kids"]
    assert _header(new["id_token"])["alg"] == "ES256"


def test_rotate_prune_then_old_access_token_no_longer_verifies(rotated):
    """Last: prune (with a zero lifetime) removes the replaced keys for good."""
    s = rotated["stack"]
    out = cli(s, "prune", "--max-token-lifetime", "0")
    assert out.count("removed") == 2
    reload_until(s, lambda j: len(j["keys"]) == 2)
    assert not {k["kid"] for k in jwks(s)["keys"]} & rotated["old_kids"]
    token, _ = rotated["before"]["rs"]
    r = requests.get(s.bridge_url + "/userinfo", timeout=5,
                     headers={"Authorization": "Bearer " + token["access_token"]})
    assert r.status_code == 401
    with pytest.raises(JoseError):  # no published key verifies the old ID token
        jwt.decode(token["id_token"], KeySet.import_key_set(jwks(s)))
