"""Client secrets: at least 32 characters unless the config says otherwise, or given as
a hash (`wecom-oidc hash-secret`), verified in constant time, a slow hash once per
process. (The hashed client signing in end to end: tests/e2e/test_e2e_attacks_limits.py.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from wecom_oidc.config import secret_hash
from wecom_oidc.config.secret_hash import (
    PBKDF2,
    SHA256,
    Verifier,
    hash_secret,
    parse_secret_hash,
)
from wecom_oidc.errors import ConfigError
from wecom_oidc.oidc.models import Client

LONG = "L" * 32
MINIMAL = """
issuer = "https://sso.example.com"
[wecom]
corp_id = "ww1"
agent_id = 1000002
secret = "corp-secret"
[[clients]]
client_id = "app"
redirect_uris = ["https://app.example.com/cb"]
"""


def client_config(lines: str) -> str:
    return MINIMAL + lines + "\n"


def cli(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wecom_oidc.cli", *args], cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def test_secrets_short_client_secret_is_refused_naming_the_key(make_settings):
    with pytest.raises(ConfigError) as e:
        make_settings(client_config('client_secret = "' + "s" * 31 + '"'))
    [problem] = e.value.problems
    assert "clients[0].client_secret: is 31 characters" in problem
    assert "s" * 31 not in problem


def test_secrets_32_characters_load_without_warning(make_settings):
    s = make_settings(client_config(f'client_secret = "{LONG}"'))
    assert s.warnings == () and not s.clients[0].is_public


def test_secrets_short_secret_allowed_by_config_loads_with_a_warning(make_settings):
    s = make_settings(client_config('client_secret = "short"\nallow_short_secret = true'))
    assert Client(s.clients[0]).check_client_secret("short")
    [warning] = s.warnings
    assert "clients[0].client_secret: shorter than 32" in warning


def test_secrets_check_config_prints_the_warning(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(client_config('client_secret = "short"\nallow_short_secret = true'),
                      encoding="utf-8")
    r = cli("--config", str(config), "check-config", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "allow_short_secret" in r.stderr
    assert "short\n" not in r.stderr + r.stdout


def test_secrets_hash_makes_a_confidential_client_checked_in_constant_time(make_settings):
    s = make_settings(client_config(f'client_secret_hash = "{hash_secret(LONG)}"'))
    client = Client(s.clients[0])
    assert not s.clients[0].is_public and not client.is_public
    assert client.check_client_secret(LONG)
    assert not client.check_client_secret(LONG + "x")
    assert not client.check_client_secret("")
    assert client.check_endpoint_auth_method("client_secret_basic", "token")
    assert not client.check_endpoint_auth_method("none", "token")


@pytest.mark.parametrize("lines, key, words", [
    (f'client_secret = "{LONG}"\nclient_secret_hash = "{hash_secret(LONG)}"',
     "client_secret_hash", "not both"),
    ('client_secret_hash = "md5$abc$def"', "client_secret_hash", "hash-secret"),
    ('client_secret_hash = "sha256$c2FsdA$c2hvcnQ"', "client_secret_hash", "wrong length"),
    ('client_secret_hash = "pbkdf2-sha256$1000$c2FsdHNhbHQ$'
     + "A" * 43 + '"', "client_secret_hash", "iterations"),
])
def test_secrets_bad_hash_config_is_a_problem(make_settings, lines, key, words):
    with pytest.raises(ConfigError) as e:
        make_settings(client_config(lines))
    assert any(f"clients[0].{key}" in p and words in p for p in e.value.problems), \
        e.value.problems


def test_secrets_short_secret_under_fast_hash_warns(make_settings):
    s = make_settings(client_config(
        f'client_secret_hash = "{hash_secret("short")}"\nallow_short_secret = true'))
    assert any("pbkdf2" in w for w in s.warnings)


def test_secrets_hashes_are_salted_and_round_trip():
    a, b = hash_secret(LONG), hash_secret(LONG)
    assert a != b and a.startswith(SHA256 + "$")
    assert str(parse_secret_hash(a)) == a
    assert parse_secret_hash(b).matches(LONG) and not parse_secret_hash(b).matches("x")


def test_secrets_slow_hash_costs_one_kdf_per_process_for_the_right_secret(monkeypatch):
    hashed = parse_secret_hash(hash_secret("a person's pass phrase", PBKDF2, 100_000))
    runs: list[int] = []
    real = secret_hash.hashlib.pbkdf2_hmac

    def counting(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(secret_hash.hashlib, "pbkdf2_hmac", counting)
    verify = Verifier(hashed)
    assert all(verify("a person's pass phrase") for _ in range(5))
    assert len(runs) == 1
    # A wrong guess always pays in full (and is rate limited at the endpoints).
    assert not verify("guess") and not verify("guess")
    assert len(runs) == 3
    assert verify("a person's pass phrase") and len(runs) == 3


def test_secrets_cli_generate_prints_a_secret_and_its_hash(tmp_path):
    r = cli("hash-secret", "--generate", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    secret = re.search(r"client_secret \(.*\): (\S+)", r.stdout).group(1)
    value = re.search(r'client_secret_hash = "(\S+)"', r.stdout).group(1)
    assert len(secret) >= 32 and parse_secret_hash(value).matches(secret)
    assert value.startswith(SHA256 + "$")


def test_secrets_cli_reads_the_secret_from_stdin_and_refuses_short_ones(tmp_path):
    ok = cli("hash-secret", stdin=LONG + "\n", cwd=tmp_path)
    assert ok.returncode == 0 and LONG not in ok.stdout
    value = re.search(r'client_secret_hash = "(\S+)"', ok.stdout).group(1)
    assert parse_secret_hash(value).matches(LONG)
    short = cli("hash-secret", stdin="short\n", cwd=tmp_path)
    assert short.returncode == 2 and "32" in short.stderr
    allowed = cli("hash-secret", "--allow-short", stdin="short\n", cwd=tmp_path)
    value = re.search(r'client_secret_hash = "(\S+)"', allowed.stdout).group(1)
    assert value.startswith(PBKDF2 + "$") and parse_secret_hash(value).matches("short")
