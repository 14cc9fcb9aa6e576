"""`wecom-oidc demo`: the bridge, the WeCom emulator and a sample app on three
loopback ports, with a generated config and keys under ./.demo/.

`start_stack()` is what both the demo and the browser tests run: the emulator
and the sample app in threads of this process, the bridge as a real
`wecom-oidc serve` subprocess, each on its own port.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server

from .app import DemoClientConfig, create_app

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 9000
DEMO_DIR = ".demo"
CLIENT_ID = "demo-app"
DEVICE_CLIENT_ID = "demo-cli"  # `wecom-oidc login --device` against the demo
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class StackError(RuntimeError):
    """The demo stack could not start; the message says why and what to do."""


@dataclass(frozen=True)
class Ports:
    bridge: int
    emulator: int
    app: int

    @classmethod
    def from_first(cls, port: int) -> Ports:
        """Three consecutive ports: bridge, emulator, sample app."""
        return cls(port, port + 1, port + 2)


@dataclass
class Stack:
    """A running demo: three URLs and one way to stop everything."""

    workdir: Path
    bridge_url: str
    emulator_url: str
    app_url: str
    bridge_log: Path
    emulator: Any = None  # the emulator's server object (tests may inspect it)
    _process: subprocess.Popen | None = None
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def bridge_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop the app, the bridge and the emulator (in that order). Idempotent."""
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:  # keep stopping the others
                log.exception("demo: error while stopping")

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_stack(workdir: str | Path, ports: Ports | None = None, *,
                emulator_config: Any = None, ready_timeout: float = 30.0) -> Stack:
    """Start emulator, bridge and sample app; return once all three answer.

    `ports=None` picks free ports (tests). The config, keys, SQLite store and the
    bridge's log live in `workdir`. Raises StackError, with nothing left running,
    when a port is taken or a server does not come up.
    """
    from ..emulator.config import EmulatorConfig
    from ..emulator.server import serve

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if ports is not None:
        _check_ports_free(ports)
    _bypass_proxies_for_loopback(os.environ)
    emu_config = emulator_config or EmulatorConfig()
    stack = Stack(workdir, "", "", "", workdir / "bridge.log")
    try:
        _start(stack, ports, emu_config, serve, ready_timeout)
    except BaseException:
        stack.stop()
        raise
    return stack


def _start(stack: Stack, ports: Ports | None, emu_config: Any, serve: Callable[..., Any],
           ready_timeout: float) -> None:
    try:
        emu_server, stack.emulator_url = serve(emu_config, host=HOST,
                                               port=ports.emulator if ports else 0)
    except OSError as e:
        raise StackError(f"the WeCom emulator cannot listen: {e}") from None
    stack.emulator = emu_server
    stack._stops.append(lambda: _close_server(emu_server))
    stack.emulator_url = stack.emulator_url.rstrip("/")

    # Bind the app's socket first so a port of 0 resolves; the app needs its own URL.
    app_server = _bind_app(ports.app if ports else 0)
    stack.app_url = f"http://{HOST}:{app_server.server_port}"
    bridge_port = ports.bridge if ports else _free_port()
    stack.bridge_url = f"http://{HOST}:{bridge_port}"

    client_secret = secrets.token_urlsafe(32)
    config_path = write_config(stack.workdir, issuer=stack.bridge_url,
                               emulator_url=stack.emulator_url, emu=emu_config,
                               client_secret=client_secret, app_url=stack.app_url)
    app_server.app = create_app(DemoClientConfig(
        issuer=stack.bridge_url, app_url=stack.app_url, client_id=CLIENT_ID,
        client_secret=client_secret, secret_key=secrets.token_hex(32)))
    threading.Thread(target=app_server.serve_forever, name="demo-app", daemon=True).start()
    stack._stops.append(lambda: _close_server(app_server))

    stack._process = _spawn_bridge(config_path, stack.bridge_log)
    stack._stops.append(lambda: _terminate(stack._process))

    deadline = time.monotonic() + ready_timeout
    _wait_ready("the WeCom emulator", stack.emulator_url + "/", deadline)
    _wait_ready("the bridge", stack.bridge_url + "/healthz", deadline, stack)
    _wait_ready("the sample app", stack.app_url + "/healthz", deadline)


def write_config(workdir: Path, *, issuer: str, emulator_url: str, emu: Any,
                 client_secret: str, app_url: str) -> Path:
    """The bridge's config for the demo, rewritten on every start. Paths in it
    are relative to the file, so the folder can move."""
    for stale in workdir.glob("bridge.db*"):  # tokens of a previous emulator run
        stale.unlink()
    from ..config.secret_hash import hash_secret

    q = json.dumps  # a JSON string is a valid TOML basic string
    bind = issuer.split("://", 1)[1]
    text = f"""\
# Generated by `wecom-oidc demo` at every start: edits here are overwritten.
issuer = {q(issuer)}

[wecom]
corp_id = {q(emu.corp_id)}
agent_id = {int(emu.agent_id)}
secret = {q(emu.secret)}
api_base_url = {q(emulator_url)}
authorize_url = {q(emulator_url + "/connect/oauth2/authorize")}
web_login_url = {q(emulator_url + "/wwlogin/sso/login")}
timeout = 5

[store]
url = "sqlite:///bridge.db"

[keys]
dir = "keys"

[server]
bind = {q(bind)}
workers = 2
threads = 4

[claims]
# The emulated corp's mailboxes are corp-managed.
wecom_email_verified = true

[[clients]]
client_id = {q(CLIENT_ID)}
# The sample app's secret, as `wecom-oidc hash-secret` hashes it: only the app has it.
client_secret_hash = {q(hash_secret(client_secret))}
name = "Sample app"
redirect_uris = [{q(app_url + "/callback")}]
post_logout_redirect_uris = [{q(app_url + "/")}]

[[clients]]
client_id = {q(DEVICE_CLIENT_ID)}
name = "Demo CLI"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code"]
refresh_tokens = "always"
"""
    path = workdir / "config.toml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _spawn_bridge(config_path: Path, log_path: Path) -> subprocess.Popen:
    """`wecom-oidc serve` for real, in its own session so that only
    we signal it, and with WECOM_OIDC_* overrides of the caller's shell removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECOM_OIDC_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT),
                                                    env.get("PYTHONPATH")) if p)
    with open(log_path, "wb") as out:  # this run only
        return subprocess.Popen(
            [sys.executable, "-m", "wecom_oidc.cli", "--config", str(config_path), "serve"],
            cwd=config_path.parent, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)


def _terminate(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM (the server's graceful stop), then SIGKILL the whole group."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _bind_app(port: int) -> BaseWSGIServer:
    try:
        return make_server(HOST, port, _starting, threaded=True)
    except OSError as e:
        raise StackError(f"the sample app cannot listen on port {port}: {e.strerror}") from None


def _starting(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting\n"]


def _close_server(server: Any) -> None:
    server.shutdown()
    close = getattr(server, "server_close", None)
    if close:
        close()


def _wait_ready(name: str, url: str, deadline: float, stack: Stack | None = None) -> None:
    """Until `url` answers 2xx; fail early if the bridge process died."""
    last = "no answer"
    while time.monotonic() < deadline:
        if stack is not None and not stack.bridge_alive():
            raise StackError(f"{name} exited at startup; its log:\n{_tail(stack.bridge_log)}")
        try:
            resp = requests.get(url, timeout=1, allow_redirects=False)
            if resp.status_code < 400 or name == "the WeCom emulator":
                return
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as e:
            last = type(e).__name__
        time.sleep(0.1)
    detail = f"\nbridge log:\n{_tail(stack.bridge_log)}" if stack is not None else ""
    raise StackError(f"{name} did not answer at {url} in time ({last}){detail}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _check_ports_free(ports: Ports) -> None:
    """Name the taken port before anything starts, rather than fail halfway."""
    for name, port in (("bridge", ports.bridge), ("WeCom emulator", ports.emulator),
                       ("sample app", ports.app)):
        if not 0 < port < 65536:
            raise StackError(f"port {port} for the {name} is not a valid port number")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # Like the servers themselves: a port in TIME_WAIT is free, a listener is not.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
            except OSError:
                raise StackError(
                    f"port {port} (for the {name}) on {HOST} is already in use. "
                    f"Stop what uses it, or pick other ports: "
                    f"wecom-oidc demo --port N uses N, N+1 and N+2.") from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _bypass_proxies_for_loopback(env: Any) -> None:
    """An HTTP proxy in the environment must not see loopback calls (requests
    honours NO_PROXY only)."""
    if not any(env.get(k) for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")):
        return
    for key in ("no_proxy", "NO_PROXY"):
        current = [h for h in env.get(key, "").split(",") if h]
        env[key] = ",".join(current + [h for h in (HOST, "localhost") if h not in current])


BANNER = """
  WeCom OIDC demo is running. Open this in a browser:

      {app_url}/

  Desktop browser: "Sign in with WeCom" opens the emulated WeCom QR login page;
  click "scan as ..." beside a member instead of scanning with a phone.
  In-app login: give the browser a WeCom User-Agent (one containing "wxwork",
  e.g. in the developer tools' device mode) to get WeCom's in-app OAuth page
  and, when email is asked for, its consent page.

  From a terminal (the device grant): wecom-oidc login --device --client-id demo-cli
  --issuer {bridge_url}, then open the link it prints (or scan its QR code).

  (bridge {bridge_url} - log in {log}; WeCom emulator {emulator_url})
  Press Ctrl-C to stop.
"""


def main(port: int = DEFAULT_PORT) -> int:
    """Run the demo in ./.demo/ until Ctrl-C (or SIGTERM)."""
    if not 0 < port < 65534:
        print(f"wecom-oidc demo: --port {port}: needs three ports from there", file=sys.stderr)
        return 2
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines
    workdir = Path.cwd() / DEMO_DIR
    # Explicitly: a shell that starts us in the background leaves SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)
    try:
        stack = start_stack(workdir, Ports.from_first(port))
    except StackError as e:
        print(f"wecom-oidc demo: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # start_stack has stopped what it had started
        return 130
    try:
        print(BANNER.format(app_url=stack.app_url, bridge_url=stack.bridge_url,
                            emulator_url=stack.emulator_url,
                            log=_relative(stack.bridge_log)), flush=True)
        while stack.bridge_alive():
            time.sleep(0.5)
        print(f"wecom-oidc demo: the bridge stopped; see {_relative(stack.bridge_log)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the demo ...", flush=True)
        return 0
    finally:
        # A second Ctrl-C must not cut the stop short: the bridge runs in its own
        # session and would outlive us.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)

