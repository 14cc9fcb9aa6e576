"""Fixtures for the ops tests: WeCom emulators on loopback ports, a keys folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The e2e helpers (login walkers, relying party) live in tests/e2e, importable as e2e.*.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve
from wecom_oidc.oidc.keys import generate_key


@pytest.fixture
def emulator():
    """start(**EmulatorConfig fields) -> base URL; every server is shut down after."""
    servers = []

    def start(**config) -> str:
        server, url = serve(EmulatorConfig(**config))
        servers.append(server)
        return url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def keys_dir(tmp_path):
    path = tmp_path / "keys"
    generate_key(path)
    return path


@pytest.fixture
def live_bridge(emulator, tmp_path, keys_dir):
    """start(env_extra=None, store=None, **emulator config) -> an e2e Stack whose bridge
    is create_app() served from a thread of this process (one process: no
    multiprocess metrics), configured from environment variables only."""
    import threading

    from e2e.stack import Stack
    from ops_support import emulator_env
    from werkzeug.serving import make_server

    from wecom_oidc.app import create_app
    from wecom_oidc.config import load_settings

    servers = []

    def start(env_extra: dict | None = None, store=None, **emu) -> Stack:
        server = make_server("127.0.0.1", 0, lambda e, s: [], threaded=True)
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_port}"
        emulator_url = emulator(trusted_domains=[url.split("//")[1]], **emu)
        env = {**emulator_env(emulator_url, url, tmp_path), **(env_extra or {})}
        server.app = create_app(load_settings(None, env=env), store=store)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return Stack(url, emulator_url, tmp_path)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
