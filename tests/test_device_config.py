"""Config of the device grant: per-client grant_types, device-only clients without
redirect_uris, the [tokens] device keys, and the example file's device client."""

from __future__ import annotations

from pathlib import Path

import pytest

from wecom_oidc.config import DEVICE_CODE, load_settings
from wecom_oidc.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"

BASE = """
issuer = "https://sso.example.com"
[wecom]
corp_id = "ww1"
agent_id = 1000002
secret = "corp-secret"
{tokens}
[[clients]]
client_id = "cli"
{client}
"""


def settings(make_settings, client: str, tokens: str = ""):
    return make_settings(BASE.format(client=client, tokens=tokens))


def problems(make_settings, client: str, tokens: str = "") -> str:
    with pytest.raises(ConfigError) as info:
        settings(make_settings, client, tokens)
    return "\n".join(info.value.problems)


def test_device_config_default_is_code_grant_only(make_settings):
    c = settings(make_settings, 'redirect_uris = ["http://127.0.0.1/cb"]').clients[0]
    assert c.grant_types == ("authorization_code",) and not c.device


def test_device_config_device_only_client_needs_no_redirect_uris(make_settings):
    c = settings(make_settings, f'grant_types = ["{DEVICE_CODE}"]').clients[0]
    assert c.device and c.redirect_uris == () and c.is_public


def test_device_config_code_grant_still_needs_redirect_uris(make_settings):
    text = problems(make_settings, f'grant_types = ["authorization_code", "{DEVICE_CODE}"]')
    assert "clients[0].redirect_uris: is required" in text


def test_device_config_unknown_grant_type_named(make_settings):
    text = problems(make_settings, 'grant_types = ["password"]')
    assert "clients[0].grant_types" in text and DEVICE_CODE in text


def test_device_config_refresh_token_points_to_refresh_tokens(make_settings):
    text = problems(make_settings, f'grant_types = ["{DEVICE_CODE}", "refresh_token"]')
    assert "refresh_tokens" in text


def test_device_config_token_keys_bounded(make_settings):
    client = f'grant_types = ["{DEVICE_CODE}"]'
    text = problems(make_settings, client, "[tokens]\ndevice_code_ttl = 7200\n"
                                           "device_poll_interval = 0")
    assert "tokens.device_code_ttl" in text and "tokens.device_poll_interval" in text


def test_device_config_example_kubelogin_has_device_grant():
    s = load_settings(str(EXAMPLE), env={})
    assert s.client("kubelogin").device
    assert s.tokens.device_code_ttl == 600 and s.tokens.device_poll_interval == 5
