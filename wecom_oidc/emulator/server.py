"""Run the emulator on a real socket: `serve()` in a daemon thread, `run()` in the foreground."""

from __future__ import annotations

import threading

from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_emulator_app
from .config import EmulatorConfig


def _make(config: EmulatorConfig, host: str, port: int) -> tuple[BaseWSGIServer, str]:
    server = make_server(host, port, create_emulator_app(config), threaded=True)
    shown = f"[{host}]" if ":" in host else host
    return server, f"http://{shown}:{server.server_port}"


def serve(config: EmulatorConfig, host: str = "127.0.0.1",
          port: int = 0) -> tuple[BaseWSGIServer, str]:
    """Start a threaded server in a daemon thread; the caller calls `server.shutdown()`.

    Returns (server, base_url); port 0 picks a free port.
    """
    server, base_url = _make(config, host, port)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     name="wecom-emulator", daemon=True).start()
    return server, base_url


def run(config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve in the foreground until Ctrl-C; print the base URL first."""
    server, base_url = _make(config, host, port)
    print(f"WeCom emulator on {base_url}  (corp_id={config.corp_id} agent_id={config.agent_id})",
          flush=True)
    print(f"  api_base_url  = {base_url}\n"
          f"  authorize_url = {base_url}/connect/oauth2/authorize\n"
          f"  web_login_url = {base_url}/wwlogin/sso/login", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
