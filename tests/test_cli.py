"""The `wecom-oidc` command as an admin runs it (a real subprocess)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wecom_oidc.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def test_cli_check_config_example_ok(tmp_path):
    r = run("--config", str(EXAMPLE), "check-config", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "issuer https://sso.example.com" in r.stdout
    assert "replace-me" not in r.stdout + r.stderr


def test_cli_check_config_lists_every_problem_with_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('issuer = "http://sso.example.com"\n[wecom]\ncorp_id = "ww1"\n'
                   '[tokens]\ncode_ttl = 5000\n', encoding="utf-8")
    r = run("--config", str(bad), "check-config", cwd=tmp_path)
    assert r.returncode == 2
    for key in ("issuer", "wecom.agent_id", "wecom.secret", "clients", "tokens.code_ttl"):
        assert f"{bad}: {key}:" in r.stderr, key


def test_cli_check_config_missing_file_says_so(tmp_path):
    r = run("--config", str(tmp_path / "nope.toml"), "check-config", cwd=tmp_path)
    assert r.returncode == 2
    assert "file not found" in r.stderr


def test_cli_keys_generate_adds_a_private_key_readable_by_owner_only(tmp_path):
    r = run("keys", "generate", "--dir", str(tmp_path / "keys"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (key,) = (tmp_path / "keys").glob("*.pem")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_cli_keys_rotate_then_prune_keeps_the_old_key_until_tokens_expire(tmp_path):
    keys = tmp_path / "keys"
    assert run("keys", "generate", "--dir", str(keys), cwd=tmp_path).returncode == 0
    assert run("keys", "rotate", "--dir", str(keys), cwd=tmp_path).returncode == 0
    old, new = sorted(keys.glob("*.pem"))
    kept = run("keys", "prune", "--dir", str(keys), "--max-token-lifetime", "3600",
               cwd=tmp_path)
    assert kept.returncode == 0 and old.exists()  # tokens it signed may still be valid
    gone = run("keys", "prune", "--dir", str(keys), "--max-token-lifetime", "0", cwd=tmp_path)
    assert gone.returncode == 0
    assert not old.exists() and new.exists()


def test_cli_keys_generate_es256(tmp_path):
    r = run("keys", "generate", "--alg", "ES256", "--dir", str(tmp_path / "k"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "ES256" in r.stdout


def test_cli_config_after_the_subcommand_works_like_before_it(tmp_path):
    after = run("check-config", "--config", str(EXAMPLE), cwd=tmp_path)
    before = run("--config", str(EXAMPLE), "check-config", cwd=tmp_path)
    assert after.returncode == before.returncode == 0, after.stderr
    assert after.stdout == before.stdout


def test_cli_config_after_a_nested_action_is_read(tmp_path):
    r = run("keys", "prune", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert r.returncode == 2
    assert "nope.toml: file not found" in r.stderr


def test_cli_every_subcommand_has_help(tmp_path):
    commands = [["serve"], ["check-config"], ["doctor"], ["keys"], ["keys", "generate"],
                ["keys", "rotate"], ["keys", "prune"], ["emulator"], ["demo"], ["login"]]
    for command in commands:
        r = run(*command, "--help", cwd=tmp_path)
        assert r.returncode == 0, (command, r.stderr)
        assert r.stdout.startswith("usage: wecom-oidc " + " ".join(command)), r.stdout


def test_cli_top_level_help_lists_the_exit_codes(tmp_path):
    r = run("--help", cwd=tmp_path)
    assert r.returncode == 0
    assert "exit codes:" in r.stdout and "130" in r.stdout


def test_cli_version_prints_the_package_version(tmp_path):
    from importlib.metadata import version

    r = run("--version", cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout.strip() == f"wecom-oidc {version('wecom-oidc')}"


def test_cli_unknown_option_is_a_usage_error_exit_2(tmp_path):
    r = run("serve", "--no-such-option", cwd=tmp_path)
    assert r.returncode == 2
    assert "unrecognized arguments: --no-such-option" in r.stderr


def test_cli_emulator_port_after_the_subcommand_serves_there(tmp_path):
    import requests
    from e2e.stack import free_port, wait_http

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "wecom_oidc.cli", "emulator", "--port",
                             str(port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    try:
        wait_http(f"http://127.0.0.1:{port}/_emulator/calls", proc)
        assert requests.get(f"http://127.0.0.1:{port}/_emulator/calls", timeout=5).ok
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_cli_readme_documents_the_exit_codes():
    readme = (EXAMPLE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    for code in ("`0`", "`1`", "`2`", "`130`"):
        assert code in section, code


def test_cli_serve_with_a_bind_that_is_not_host_port_says_what_to_write(tmp_path):
    # gunicorn took a bare host; Granian needs host:port, [v6]:port or unix:/path.
    r = run("--config", str(EXAMPLE), "serve", "--bind", "0.0.0.0", cwd=tmp_path)
    assert r.returncode == 2
    assert "[server] bind (or serve --bind) '0.0.0.0'" in r.stderr
    assert '"0.0.0.0:8000"' in r.stderr and "Traceback" not in r.stderr
