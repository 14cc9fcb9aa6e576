"""Store settings that would silently lose data are refused at start: memory:// with
several workers, SQLite on a network filesystem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wecom_oidc.config import Secret, Settings, WecomSettings, load_settings
from wecom_oidc.config.deployment import serve_workers
from wecom_oidc.config.settings import ServerSettings, StoreSettings
from wecom_oidc.errors import ConfigError
from wecom_oidc.store.filesystem import fstype_of, refuse_network_filesystem

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
tmpfs /tmp tmpfs rw 0 0
nas:/export/sso /srv/shared nfs4 rw,vers=4.2 0 0
//files/sso /mnt/smb\\040share cifs rw 0 0
"""


def settings(url: str, workers: int = 2) -> Settings:
    return Settings(issuer="https://sso.example.com",
                    wecom=WecomSettings(corp_id="ww1", agent_id=1, secret=Secret("s")), clients=(),
                    store=StoreSettings(url=url), server=ServerSettings(workers=workers))


def test_serve_workers_memory_default_two_forced_to_one_with_reason():
    workers, warning = serve_workers(settings("memory://"), None)
    assert workers == 1 and "memory://" in warning and "2 workers" in warning


def test_serve_workers_memory_explicit_flag_refused():
    with pytest.raises(ConfigError) as caught:
        serve_workers(settings("memory://"), 4)
    assert "--workers" in str(caught.value) and "4 workers" in str(caught.value)


def test_serve_workers_sqlite_keeps_the_count():
    assert serve_workers(settings("sqlite:////var/lib/sso.db"), 4) == (4, "")


def test_config_memory_with_several_workers_names_the_key(tmp_path):
    config = tmp_path / "bridge.toml"
    config.write_text(Path("config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(str(config), env={"WECOM_OIDC_SERVER__WORKERS": "3",
                                        "WECOM_OIDC_STORE__URL": "memory://"})
    assert any("server.workers: " in p and "memory://" in p
               for p in caught.value.problems)


def test_cli_serve_memory_with_two_workers_refused_before_starting(tmp_path):
    config = tmp_path / "bridge.toml"
    config.write_text('issuer = "http://127.0.0.1:9"\n[wecom]\ncorp_id = "ww1"\n'
                      'agent_id = 1\nsecret = "s"\n[store]\nurl = "memory://"\n'
                      f'[keys]\ndir = "{tmp_path}/keys"\n[[clients]]\nclient_id = "app"\n'
                      'client_secret = "app-secret-0123456789-0123456789"\n'
                      'redirect_uris = ["https://app.example.com/cb"]\n', encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "wecom_oidc.cli", "--config", str(config),
                        "serve", "--workers", "2", "--bind", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "memory://" in r.stderr and "Traceback" not in r.stderr


def test_fstype_longest_mount_point_wins():
    assert fstype_of("/srv/shared/sso", MOUNTS) == "nfs4"
    assert fstype_of("/srv/sharedother", MOUNTS) == "ext4"
    assert fstype_of("/mnt/smb share/db", MOUNTS) == "cifs"


@pytest.mark.parametrize("folder", ["/srv/shared/sso", "/mnt/smb share"])
def test_sqlite_on_network_filesystem_refused(tmp_path, folder):
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        refuse_network_filesystem(f"{folder}/bridge.db", mounts=str(mounts))
    assert "network filesystem" in str(caught.value) and "redis://" in str(caught.value)


def test_sqlite_on_this_machines_real_mounts_allowed(tmp_path):
    refuse_network_filesystem(str(tmp_path / "bridge.db"))  # /proc/mounts of this host
