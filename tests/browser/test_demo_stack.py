"""`wecom-oidc demo` and start_stack() without a browser: what comes up, the
generated config, a taken port, and Ctrl-C stopping everything."""

from __future__ import annotations

import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from wecom_oidc.config import load_settings
from wecom_oidc.demo.run import CLIENT_ID, Ports, StackError, start_stack


def test_start_stack_bridge_discovery_names_its_issuer(stack):
    meta = requests.get(stack.bridge_url + "/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == stack.bridge_url
    assert meta["authorization_endpoint"] == stack.bridge_url + "/authorize"


def test_start_stack_sample_app_home_offers_login(stack):
    resp = requests.get(stack.app_url + "/", timeout=5)
    assert resp.status_code == 200
    assert "Sign in with WeCom" in resp.text


def test_start_stack_login_redirects_to_bridge_with_pkce(stack):
    resp = requests.get(stack.app_url + "/login", timeout=5, allow_redirects=False)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(stack.bridge_url + "/authorize?")
    assert "code_challenge_method=S256" in location
    assert f"client_id={CLIENT_ID}" in location


def test_start_stack_config_passes_validation(stack):
    settings = load_settings(str(stack.workdir / "config.toml"), env={})
    assert settings.issuer == stack.bridge_url
    assert settings.wecom.api_base_url == stack.emulator_url
    assert settings.client(CLIENT_ID).redirect_uris == (stack.app_url + "/callback",)


def test_start_stack_port_taken_names_the_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} .*already in use"):
            start_stack(tmp_path, Ports(port, _free_port(), _free_port()))
    assert not (tmp_path / "config.toml").exists()  # nothing was started


def test_demo_command_prints_one_url_and_stops_on_ctrl_c(tmp_path):
    first = _three_free_ports()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wecom_oidc.cli", "demo", "--port", str(first)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = _reader(proc)
    try:
        url = _wait_for_url(proc, lines, timeout=60)
        assert url == f"http://127.0.0.1:{first + 2}/"
        assert requests.get(url, timeout=5).status_code == 200
        assert (tmp_path / ".demo" / "config.toml").exists()
        assert list((tmp_path / ".demo" / "keys").iterdir())
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
    assert rc == 0
    for port in (first, first + 1, first + 2):
        with socket.socket() as s:  # every server let go of its port
            assert s.connect_ex(("127.0.0.1", port)) != 0


def _reader(proc: subprocess.Popen) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        proc.stdout.close()

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_url(proc: subprocess.Popen, lines: queue.Queue, timeout: float) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        m = re.fullmatch(r"\s+(http://127\.0\.0\.1:\d+/)\s*", line)
        if m:
            return m.group(1)
    pytest.fail("the demo printed no URL:\n" + "".join(seen))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _three_free_ports() -> int:
    for _ in range(50):
        first = random.randrange(20000, 60000)
        try:
            for port in range(first, first + 3):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    pytest.fail("no three consecutive free ports")
