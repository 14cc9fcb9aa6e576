"""A replica never makes its own signing key when the store is shared (Redis)."""

from __future__ import annotations

import subprocess

from e2e.stack import free_port

from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve
from wecom_oidc.oidc.keys import generate_key

from .pair import replica_config, shared_keys, start_replica, start_replicas


def start_and_wait_for_exit(tmp_path, store_url: str, keys) -> tuple[int, str]:
    """A replica that is expected to refuse to start: (exit code, its log)."""
    port = free_port()
    server, emulator_url = serve(EmulatorConfig())
    config = tmp_path / "replica.toml"
    config.write_text(replica_config(port, emulator_url, tmp_path, store_url, keys),
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
    return code, (tmp_path / "replica.log").read_text(encoding="utf-8")


def test_replica_with_empty_keys_dir_and_redis_store_refuses_to_start(tmp_path,
                                                                       redis_store_url):
    keys = tmp_path / "mounted-keys"
    keys.mkdir()
    code, output = start_and_wait_for_exit(tmp_path, redis_store_url, keys)
    assert code != 0
    assert f"wecom-oidc keys generate --dir {keys}" in output
    assert "shared with other replicas" in output
    assert not list(keys.glob("*.pem"))  # nothing generated


def test_replica_with_keys_other_than_its_peers_refuses_to_start(tmp_path, redis_store_url):
    peers, _ = start_replicas(tmp_path, redis_store_url, shared_keys(tmp_path), count=1)
    try:
        own = tmp_path / "own-keys"  # a replica that did not mount the shared folder
        generate_key(own)
        code, output = start_and_wait_for_exit(tmp_path, redis_store_url, own)
    finally:
        peers.stop()
    assert code != 0
    assert "share no key with the ones other replicas on this store publish" in output
