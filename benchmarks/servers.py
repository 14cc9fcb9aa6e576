"""The processes under test, each started the way an operator would: the bridge by
`wecom-oidc serve`, the WeCom emulator and the minimal Flask ceiling, each under serve's server
(wecom_oidc.serving).
CPU time and RSS are read from /proc for a server's parent process and its workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")
# Set by latency_trace.py: servers start under trace_hooks.py, which times their requests.
TRACE_DIR: Path | None = None

EMULATOR = """
import sys
from wecom_oidc.serving import ServerOptions, serve_wsgi
from wecom_oidc.emulator.app import create_emulator_app
from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator import weblogin
port = sys.argv[1]
# Real WeCom draws its QR page on its own servers; the emulator's pure-Python QR encoder
# (~30 ms of CPU a page) would take the shared cores from the bridge being measured.
weblogin.qr_svg = lambda url: '<svg xmlns="http://www.w3.org/2000/svg"/>'
# One process (the emulator's state is in memory) with a thread per waiting call, so
# injected WeCom latency is never queued here: the bridge is what is measured.
serve_wsgi(lambda: create_emulator_app(EmulatorConfig(
    trusted_domains=sys.argv[2].split(","))),
    ServerOptions(bind="127.0.0.1:" + port, workers=1, threads=400, graceful_timeout=1))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                kids.append(int(entry))
    return kids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Server:
    """A server process (and its workers) we started."""

    name: str
    url: str
    proc: subprocess.Popen
    log: object = None
    files: list = field(default_factory=list)

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def cpu(self) -> float:
        """CPU seconds of the master and every live worker. Dead workers' time is
        lost, so callers take differences over a phase in which none died."""
        return cpu_seconds(self.proc.pid) + sum(cpu_seconds(p) for p in self.workers())

    def rss(self) -> list[float]:
        return sorted(rss_mib(p) for p in self.workers())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in self.files:
            f.close()


def _spawn(name: str, args: list[str], url: str, health: str, workdir: Path) -> Server:
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed by Server.stop
    if TRACE_DIR is not None:
        args = [args[0], str(HERE / "trace_hooks.py"), str(TRACE_DIR), name, *args[1:]]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = Server(name, url, proc, files=[log])
    try:
        wait_http(url + health, proc)
    except Exception:
        server.stop()
        raise
    return server


def start_emulator(workdir: Path, bridge_port: int) -> Server:
    port = free_port()
    return _spawn("emulator", [sys.executable, "-c", EMULATOR, str(port),
                               f"127.0.0.1:{bridge_port}"],
                  f"http://127.0.0.1:{port}", "/_emulator/calls", workdir)


def limits_config(enabled: bool) -> str:
    """Every virtual user comes from 127.0.0.1 with one client: the limits stay on
    (their store counters are part of the cost measured) but far above the load."""
    from wecom_oidc.config.settings import DEFAULT_RATES

    rules = "".join(f'{name} = "100000000/1m"\n' for name in DEFAULT_RATES
                    if not name.startswith("failed_auth"))
    return f"[limits]\nenabled = {'true' if enabled else 'false'}\n{rules}"


def bridge_config(port: int, emulator_url: str, workdir: Path, store_url: str,
                  limits: bool = True) -> str:
    return f"""
issuer = "http://127.0.0.1:{port}"

[wecom]
corp_id = "ww_emulated_corp"
agent_id = 1000002
secret = "emulated-app-secret"
api_base_url = "{emulator_url}"
authorize_url = "{emulator_url}/connect/oauth2/authorize"
web_login_url = "{emulator_url}/wwlogin/sso/login"
timeout = 5

[store]
url = "{store_url}"

[keys]
dir = "{workdir}/keys"

[claims]
email_template = "{{userid}}@corp.example"

[[clients]]
client_id = "webapp"
client_secret = "webapp-secret-0123456789-0123456"
redirect_uris = ["https://rp.example/callback"]

[[clients]]
client_id = "webapp-opaque"
client_secret = "webapp-secret-0123456789-0123456"
redirect_uris = ["https://rp.example/callback"]
access_token_format = "opaque"

{limits_config(limits)}"""


def start_bridge(workdir: Path, port: int, emulator_url: str, store_url: str,
                 serve_args: list[str], limits: bool = True) -> Server:
    if not (workdir / "keys").exists():  # a shared (Redis) store never makes its own key
        subprocess.run([sys.executable, "-m", "wecom_oidc.cli", "keys", "generate", "--dir",
                        str(workdir / "keys")], check=True, stdout=subprocess.DEVNULL)
    config = workdir / "bridge.toml"
    config.write_text(bridge_config(port, emulator_url, workdir, store_url, limits),
                      encoding="utf-8")
    return _spawn("bridge", [sys.executable, "-m", "wecom_oidc.cli", "--config", str(config),
                             "serve", "--bind", f"127.0.0.1:{port}", *serve_args],
                  f"http://127.0.0.1:{port}", "/healthz", workdir)


def start_ceiling(workdir: Path, serve_args: list[str]) -> Server:
    port = free_port()
    name = "ceiling-bare" if "--bare" in serve_args else "ceiling"
    return _spawn(name, [sys.executable, str(HERE / "ceiling.py"),
                         "--bind", f"127.0.0.1:{port}", *serve_args],
                  f"http://127.0.0.1:{port}", "/healthz", workdir)
