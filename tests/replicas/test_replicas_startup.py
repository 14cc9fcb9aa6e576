"""A replica never makes its own signing key when the store is shared (Redis)."""

from __future__ import annotations

import subprocess

from e2e.stack import free_port

from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve

from .pair import replica_config, start_replica


def test_replica_with_empty_keys_dir_and_redis_store_refuses_to_start(tmp_path,
                                                                       redis_store_url):
    keys = tmp_path / "mounted-keys"
    keys.mkdir()
    port = free_port()
    server, emulator_url = serve(EmulatorConfig())
    config = tmp_path / "replica.toml"
    config.write_text(replica_config(port, emulator_url, tmp_path, redis_store_url, keys),
                      encoding="utf-8")
    proc, log = start_replica(config, port, tmp_path / "replica.log")
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    finally:
        log.close()
        server.shutdown()
        server.server_close()
    output = (tmp_path / "replica.log").read_text(encoding="utf-8")
    assert code != 0
    assert f"wecom-oidc keys generate --dir {keys}" in output
    assert "shared with other replicas" in output
    assert not list(keys.glob("*.pem"))  # nothing generated
