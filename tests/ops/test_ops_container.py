"""The image's entrypoint, outside Docker: the Dockerfile's exact ENTRYPOINT + CMD argv
with its ENV, the whole config (clients included) from environment variables and no
file, under `serve` with 2 workers, against the WeCom emulator. Checks health, the
HEALTHCHECK command, logins, metrics added up across workers, JSON logs free of
secrets, and a graceful stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import dockerfile
import pytest
import requests
from e2e.stack import (
    CONFIDENTIAL,
    RelyingParty,
    Stack,
    browser,
    follow_to_client,
    free_port,
    inapp_login,
    wait_http,
)
from ops_support import emulator_env
from prometheus_client.parser import text_string_to_metric_families

from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def image_command() -> tuple[list[str], dict[str, str], list[str]]:
    """(ENTRYPOINT + CMD, ENV, HEALTHCHECK argv) of the Dockerfile's final stage."""
    entry, cmd, env, health = [], [], {}, []
    for c in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if c.cmd == "FROM":
            entry, cmd, env, health = [], [], {}, []
        elif c.cmd == "ENTRYPOINT":
            entry = list(c.value)
        elif c.cmd == "CMD":
            cmd = list(c.value)
        elif c.cmd == "ENV":
            env.update(zip(c.value[::2], c.value[1::2], strict=True))
        elif c.cmd == "HEALTHCHECK":
            health = list(c.value[1:])  # after "CMD"
    env.pop("PATH", None)  # the image's venv: here, this interpreter's
    return entry + cmd, env, health


class Server:
    def __init__(self, workdir: Path, emu_config: EmulatorConfig, **env_extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.emulator, self.emulator_url = serve(emu_config)
        self.argv, image_env, self.health = image_command()
        base = {k: v for k, v in os.environ.items() if not k.startswith("WECOM_OIDC_")}
        self.env = {
            **base, **image_env,
            **emulator_env(self.emulator_url, self.url, workdir),
            # What an operator sets at `docker run`: where to listen, paths, sizes.
            "WECOM_OIDC_SERVER__BIND": f"127.0.0.1:{self.port}",
            "WECOM_OIDC_SERVER__WORKERS": "2", "WECOM_OIDC_SERVER__THREADS": "4",
            "PATH": f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}",
            **env_extra,
        }
        assert "WECOM_OIDC_CONFIG" not in self.env  # no file at all
        assert shutil.which(self.argv[0], path=self.env["PATH"])
        self.log_path = workdir / "bridge.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=workdir, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_http(self.url + "/healthz", self.proc)
        except Exception:
            self.stop()
            raise
        self.stack = Stack(self.url, self.emulator_url, workdir)

    @property
    def emu_state(self):
        return self.emulator.app.extensions["wecom_emulator"]

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8").splitlines()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()
        self.emulator.shutdown()
        self.emulator.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("image")
    s = Server(workdir, EmulatorConfig())
    yield s
    s.stop()


def scrape(url: str) -> dict:
    text = requests.get(url + "/metrics", headers={"Connection": "close"}, timeout=5).text
    return {(m.name, tuple(sorted(m.labels.items()))): m.value
            for fam in text_string_to_metric_families(text) for m in fam.samples}


def qr_login_recording(stack: Stack, auth_url: str, userid: str, seen: list[str]) -> str:
    """tests/e2e's QR walk, keeping the WeCom code the emulator hands the bridge."""
    b = browser()
    to_wecom = b.get(auth_url, allow_redirects=False).headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(to_wecom).query).items()}
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": userid}), allow_redirects=False)
    callback = scanned.headers["Location"]
    seen.append(parse_qs(urlsplit(callback).query)["code"][0])
    return follow_to_client(b, callback)


def test_image_entrypoint_is_ready_and_its_healthcheck_passes(server):
    assert server.argv == ["wecom-oidc", "serve"]
    ready = requests.get(server.url + "/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    probe = subprocess.run(server.health, env=server.env, capture_output=True, timeout=30)
    assert probe.returncode == 0, probe.stderr
    discovery = requests.get(server.url + "/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == server.url


def test_image_env_only_config_logins_metrics_add_up_and_logs_hold_no_secret(server):
    stack = server.stack
    secrets_seen: list[str] = [CONFIDENTIAL[1], "emulated-app-secret"]
    logins = 0
    for _round in range(10):  # until two workers have served logins (almost always 1)
        for _ in range(3):
            rp = RelyingParty(stack)
            started = rp.start()
            back = qr_login_recording(stack, started["url"], "zhangsan", secrets_seen)
            secrets_seen.append(parse_qs(urlsplit(back).query)["code"][0])
            token, _, _ = rp.finish(back, started)
            secrets_seen += [token["access_token"], token["id_token"]]
            rp = RelyingParty(stack, scope="openid profile email phone")  # user_ticket
            started = rp.start()
            back = inapp_login(stack, started["url"], "zhangsan")
            secrets_seen.append(parse_qs(urlsplit(back).query)["code"][0])
            token, _, _ = rp.finish(back, started)
            secrets_seen += [token["access_token"], token["id_token"]]
            logins += 2
        entries = [json.loads(line) for line in server.log_lines()]
        login_pids = {e["pid"] for e in entries if e["msg"].startswith("login ")}
        if len(login_pids) >= 2:
            break
    assert len(login_pids) >= 2, "every login landed on one worker"

    # Every scrape (a fresh connection, any worker) sees the whole server's counts.
    for _ in range(4):
        m = scrape(server.url)
        assert m[("wecom_oidc_logins_total", (("mode", "qr"), ("outcome", "success")))] \
            == logins / 2
        assert m[("wecom_oidc_logins_total", (("mode", "inapp"), ("outcome", "success")))] \
            == logins / 2
        assert m[("wecom_oidc_tokens_issued_total", (("grant_type", "authorization_code"),))] \
            == logins
        assert m[("wecom_oidc_wecom_calls_total", (("api", "gettoken"), ("errcode", "0")))] == 1
        assert m[("wecom_oidc_wecom_calls_total",
                  (("api", "auth/getuserdetail"), ("errcode", "0")))] == logins / 2
    assert stack.calls("gettoken") == 1

    # Logs: JSON, one object per line, and none of the secrets that passed through.
    state = server.emu_state
    secrets_seen += list(state.tokens) + list(state.tickets)  # WeCom access_token, tickets
    assert list(state.tickets), "the in-app logins should have used a user_ticket"
    lines = server.log_lines()
    assert len(lines) > 10
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg", "request_id", "pid"} <= set(entry), line
        for secret in secrets_seen:
            assert secret not in line, f"a secret in the log: {line}"
    assert any(e["logger"].startswith("_granian") for e in map(json.loads, lines))
    assert any(e.get("request_id") and e["msg"].startswith("login ") for e in
               map(json.loads, lines))


def test_image_sigterm_lets_a_slow_login_finish(tmp_path):
    """Graceful stop: a login in flight when SIGTERM arrives still completes."""
    s = Server(tmp_path, EmulatorConfig(latency={"auth/getuserinfo": 1500}),
               WECOM_OIDC_SERVER__GRACEFUL_TIMEOUT="15")
    try:
        rp = RelyingParty(s.stack)
        started = rp.start()
        b = browser()
        to_wecom = b.get(started["url"], allow_redirects=False).headers["Location"]
        params = {k: v[0] for k, v in parse_qs(urlsplit(to_wecom).query).items()}
        scanned = b.get(f"{s.emulator_url}/wwlogin/sso/scan?"
                        + urlencode({**params, "userid": "zhangsan"}), allow_redirects=False)
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(
            r=b.get(scanned.headers["Location"], allow_redirects=False)))
        t.start()
        time.sleep(0.5)  # the callback is waiting on WeCom
        s.proc.send_signal(signal.SIGTERM)
        t.join(20)
        assert result["r"].status_code == 302
        assert "code=" in result["r"].headers["Location"]
        assert s.proc.wait(20) == 0
    finally:
        s.stop()
