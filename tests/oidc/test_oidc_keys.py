"""The key ring: first-start generation, file modes, RFC 7638 kids, rotation, JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import stat
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey

from wecom_oidc.errors import ConfigError
from wecom_oidc.oidc.keys import KeyRing, generate_key

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth"}


def _load(directory: str) -> str:
    return KeyRing.load(directory).kid


def rfc7638_thumbprint(jwk: dict) -> str:
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]},
                           separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_keys_first_load_generates_exactly_one_key(tmp_path):
    ring = KeyRing.load(tmp_path / "keys")
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 1
    assert len(ring.public_jwks()["keys"]) == 1


def test_keys_generated_file_is_owner_only(tmp_path):
    KeyRing.load(tmp_path / "keys")
    (pem,) = (tmp_path / "keys").glob("*.pem")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600


def test_keys_created_dir_is_owner_only(tmp_path):
    KeyRing.load(tmp_path / "keys")
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_keys_second_load_reuses_the_key(tmp_path):
    first = KeyRing.load(tmp_path)
    second = KeyRing.load(tmp_path)
    assert first.kid == second.kid
    assert len(list(tmp_path.glob("*.pem"))) == 1


def test_keys_kid_is_rfc7638_thumbprint(tmp_path):
    ring = KeyRing.load(tmp_path)
    (jwk,) = ring.public_jwks()["keys"]
    assert ring.kid == jwk["kid"] == rfc7638_thumbprint(jwk)


def test_keys_load_without_create_and_no_key_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        KeyRing.load(tmp_path, create=False)
    assert "keys.dir" in info.value.problems[0]


def test_keys_unreadable_pem_is_a_config_error_naming_the_file(tmp_path):
    KeyRing.load(tmp_path)
    (tmp_path / "zzz-broken.pem").write_text("not a key", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        KeyRing.load(tmp_path)
    assert "zzz-broken.pem" in info.value.problems[0]


def test_keys_two_processes_on_empty_dir_make_one_key(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    directory = str(tmp_path / "keys")
    with ctx.Pool(2) as pool:
        kids = pool.map(_load, [directory, directory])
    assert len(list(Path(directory).glob("*.pem"))) == 1
    assert kids[0] == kids[1]


def test_keys_generated_key_becomes_the_signer(tmp_path):
    old = KeyRing.load(tmp_path)
    generate_key(tmp_path)
    new = KeyRing.load(tmp_path)
    assert new.kid != old.kid
    assert new.signing_key.thumbprint() == new.kid


def test_keys_rotation_keeps_old_key_published(tmp_path):
    old = KeyRing.load(tmp_path)
    generate_key(tmp_path)
    kids = [k["kid"] for k in KeyRing.load(tmp_path).public_jwks()["keys"]]
    assert len(kids) == 2 and old.kid in kids


def test_keys_public_jwks_has_no_private_members(keyring):
    for jwk in keyring.public_jwks()["keys"]:
        assert PRIVATE_MEMBERS.isdisjoint(jwk)
        assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"


def test_keys_public_jwks_key_verifies_what_the_signer_signs(keyring):
    from joserfc import jwt

    token = jwt.encode({"alg": "RS256", "kid": keyring.kid}, {"x": 1}, keyring.signing_key)
    (jwk,) = [k for k in keyring.public_jwks()["keys"] if k["kid"] == keyring.kid]
    assert jwt.decode(token, RSAKey.import_key(jwk)).claims == {"x": 1}


def test_keys_public_key_by_kid_finds_the_key(keyring):
    assert keyring.public_key(keyring.kid) is keyring.signing_key
    assert keyring.public_key("unknown") is None


def test_keys_existing_keys_load_from_a_read_only_folder(tmp_path):
    import os

    from wecom_oidc.oidc.keys import KeyRing

    folder = tmp_path / "keys"
    first = KeyRing.load(folder)
    (folder / ".lock").unlink()
    os.chmod(folder, 0o500)
    try:
        again = KeyRing.load(folder)  # no lock file, no new key: nothing to write
    finally:
        os.chmod(folder, 0o700)
    assert again.kid == first.kid
    assert not (folder / ".lock").exists()
