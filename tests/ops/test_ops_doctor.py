"""`wecom-oidc doctor` against the WeCom emulator: a good setup passes; a wrong
secret, corp id or untrusted IP fails with the fix an admin needs."""

from __future__ import annotations

import io
import os
import threading

import pytest
from ops_support import emulator_env
from werkzeug.serving import make_server

from wecom_oidc.app import create_app
from wecom_oidc.cli import main as cli_main
from wecom_oidc.config import load_settings
from wecom_oidc.ops import doctor
from wecom_oidc.store import MemoryStore

VERIFY = {"WECOM_OIDC_WECOM__VERIFY_FILES": '{"WW_verify_Ab12.txt": "Ab12"}'}


@pytest.fixture
def env_for(emulator, tmp_path, keys_dir, monkeypatch):
    """The doctor reads the real environment, like the CLI does; none of the caller's
    WECOM_OIDC_* variables leak in."""
    for name in list(os.environ):
        if name.startswith("WECOM_OIDC_"):
            monkeypatch.delenv(name)

    def make(issuer: str = "http://127.0.0.1:9", extra: dict | None = None, **emu) -> dict:
        env = {**emulator_env(emulator(**emu), issuer, tmp_path), **(extra or {})}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    return make


def run_doctor(userid: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = doctor.main(None, userid=userid, out=out)
    return code, out.getvalue()


@pytest.fixture
def bridge_port():
    """A live bridge (for the verify file), its port chosen before its config."""
    holder: dict = {}

    def start(env: dict) -> None:
        app = create_app(load_settings(None, env=env), store=MemoryStore())
        server = holder["server"]
        server.app = app
        threading.Thread(target=server.serve_forever, daemon=True).start()

    holder["server"] = make_server("127.0.0.1", 0, lambda e, s: [], threaded=True)
    yield holder["server"].server_port, start
    holder["server"].shutdown()
    holder["server"].server_close()


def test_doctor_good_setup_passes_every_check(env_for, bridge_port):
    port, start = bridge_port
    env = env_for(issuer=f"http://127.0.0.1:{port}", extra=VERIFY)
    start(env)
    code, out = run_doctor()
    assert code == 0, out
    for name in ("config", "signing keys", "store", "gettoken", "egress IP", "department/list",
                 "tag/list", "user/get", "domain verify file"):
        assert f"✓ {name}" in out, out
    assert "✗" not in out
    assert f"127.0.0.1:{port}" in out  # the host to enter as trusted domain is named


def test_doctor_wrong_secret_fails_with_40001_hint(env_for):
    env_for(extra={"WECOM_OIDC_WECOM__SECRET": "not-the-secret"})
    code, out = run_doctor()
    assert code == 1
    assert "✗ gettoken" in out and "errcode 40001" in out
    assert "Copy the Secret of this app" in out
    assert "- department/list: needs a working gettoken" in out
    assert "not-the-secret" not in out


def test_doctor_directory_forbidden_names_errcode_and_console_setting(env_for):
    env_for(faults=[{"api": "department/list", "errcode": 48002, "count": 5},
                    {"api": "tag/list", "errcode": 60011, "count": 5}])
    code, out = run_doctor()
    assert code == 1
    assert "✗ department/list: errcode 48002" in out and "✗ tag/list: errcode 60011" in out
    assert "可见范围" in out and "通讯录" in out and "Logins still work" in out
    assert "✓ user/get" in out


def test_doctor_wrong_corp_id_fails_with_40013_hint(env_for):
    env_for(extra={"WECOM_OIDC_WECOM__CORP_ID": "ww_someone_else"})
    code, out = run_doctor()
    assert code == 1
    assert "errcode 40013" in out and "wecom.corp_id" in out


def test_doctor_untrusted_ip_names_the_ip_and_where_to_add_it(env_for):
    env_for(trusted_ips=["203.0.113.7"])
    code, out = run_doctor()
    assert code == 1
    line = next(ln for ln in out.splitlines() if ln.startswith("✗ egress IP"))
    assert "60020" in line and "127.0.0.1" in line
    assert "Add 127.0.0.1" in out and "企业可信IP" in out


def test_doctor_verify_file_not_served_fails(env_for):
    env_for(extra=VERIFY)  # no bridge listens on the issuer's port
    code, out = run_doctor()
    assert code == 1
    assert "✗ domain verify file" in out and "/WW_verify_Ab12.txt" in out


def test_doctor_without_verify_file_only_warns(env_for):
    env_for()
    code, out = run_doctor()
    assert code == 0, out
    assert "! domain verify file" in out and "! trusted domain" in out


def test_doctor_missing_keys_fails(env_for, tmp_path):
    env_for(extra={"WECOM_OIDC_KEYS__DIR": str(tmp_path / "nowhere")})
    code, out = run_doctor()
    assert code == 1
    assert "✗ signing keys" in out and "wecom-oidc keys generate" in out
    assert not (tmp_path / "nowhere").exists()  # the doctor never creates keys


def test_doctor_unusable_store_fails(env_for, tmp_path):
    (tmp_path / "afile").write_text("x")
    env_for(extra={"WECOM_OIDC_STORE__URL": f"sqlite:///{tmp_path}/afile/db.sqlite"})
    code, out = run_doctor()
    assert code == 1
    assert "✗ store" in out


def test_doctor_userid_looks_up_the_member(env_for):
    env_for()
    code, out = run_doctor(userid="zhangsan")
    assert code == 0, out
    assert "✓ user/get: zhangsan:" in out


def test_doctor_unknown_userid_fails_with_60111(env_for):
    env_for()
    code, out = run_doctor(userid="nobody-here")
    assert code == 1
    assert "✗ user/get" in out and "60111" in out


def test_doctor_config_that_does_not_load_exits_2(env_for, monkeypatch):
    env_for()
    monkeypatch.delenv("WECOM_OIDC_ISSUER")
    code, out = run_doctor()
    assert code == 2
    assert "✗ config" in out and "issuer: is required" in out


def test_doctor_cli_subcommand_exit_code(env_for, capsys):
    env_for(extra={"WECOM_OIDC_WECOM__SECRET": "wrong"})
    assert cli_main(["doctor"]) == 1
    assert "errcode 40001" in capsys.readouterr().out

