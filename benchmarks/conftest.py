"""Benchmarks run the bridge in this process and the WeCom emulator in another, so
the CPU time measured (`make bench` uses time.process_time) is the bridge's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from e2e.stack import bridge_config, free_port, wait_http  # noqa: E402

EMULATOR_UNDER_SERVE = """
import sys
from wecom_oidc.emulator.app import create_emulator_app
from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.serving import ServerOptions, serve_wsgi
serve_wsgi(lambda: create_emulator_app(EmulatorConfig()), ServerOptions(
    bind="127.0.0.1:" + sys.argv[1], workers=1, threads=8, graceful_timeout=1))
"""


@pytest.fixture(scope="session")
def emulator_url():
    port = free_port()
    # Under serve's server, not werkzeug's dev server: WeCom keeps
    # connections alive, and the bridge's connection pool should be measured so.
    proc = subprocess.Popen([sys.executable, "-c", EMULATOR_UNDER_SERVE, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/_emulator/calls", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def bridge(emulator_url, tmp_path_factory):
    from wecom_oidc.app import create_app
    from wecom_oidc.config import load_settings

    workdir = tmp_path_factory.mktemp("bench")
    config = workdir / "bridge.toml"
    config.write_text(bridge_config(8000, emulator_url, workdir), encoding="utf-8")
    app = create_app(load_settings(str(config), env={}))
    return app


@pytest.fixture
def mint_code(emulator_url):
    http = requests.Session()

    def mint(userid: str, redirect_uri: str, scope: str = "snsapi_base") -> str:
        r = http.post(f"{emulator_url}/_emulator/login", json={
            "userid": userid, "redirect_uri": redirect_uri, "scope": scope, "mode": "web"})
        r.raise_for_status()
        return r.json()["code"]

    return mint
