"""`python -m wecom_oidc.emulator` prints its base URL and serves there."""

from __future__ import annotations

import subprocess
import sys

import requests

from wecom_oidc.emulator.__main__ import main


def test_main_bad_config_file_returns_2(tmp_path, capsys):
    bad = tmp_path / "emu.toml"
    bad.write_text("agent_id = 'x'\n", encoding="utf-8")
    assert main(["--config", str(bad)]) == 2
    assert "agent_id" in capsys.readouterr().err


def test_module_run_prints_base_url_that_answers():
    process = subprocess.Popen([sys.executable, "-m", "wecom_oidc.emulator", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        base_url = first.split()[3]
        assert base_url.startswith("http://127.0.0.1:")
        body = requests.get(f"{base_url}/cgi-bin/gettoken", timeout=5, params={
            "corpid": "ww_emulated_corp", "corpsecret": "emulated-app-secret"}).json()
        assert body["errcode"] == 0
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
