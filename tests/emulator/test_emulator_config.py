"""EmulatorConfig from TOML, and the directory file (TOML or JSON)."""

from __future__ import annotations

import json

import pytest

from wecom_oidc.emulator.config import EmulatorConfig, EmulatorConfigError, load_emulator_config
from wecom_oidc.emulator.directory import DirectoryError, load_directory


def test_config_defaults_match_the_documented_interface():
    c = EmulatorConfig()
    assert (c.corp_id, c.agent_id, c.secret) == ("ww_emulated_corp", 1000002,
                                                 "emulated-app-secret")
    assert c.trusted_domains == [] and c.trusted_ips is None and c.directory_path is None
    assert (c.token_ttl, c.code_ttl, c.ticket_ttl) == (7200, 300, 1800)
    assert c.app_created_after_2022_06_20 is True


def test_config_load_toml_sets_fields_and_resolves_directory_path(tmp_path):
    path = tmp_path / "emu.toml"
    path.write_text('corp_id = "wwtest"\nagent_id = 7\ntrusted_domains = ["a.example:8080"]\n'
                    'trusted_ips = ["127.0.0.1"]\ndirectory_path = "dir.json"\n'
                    'latency = { "user/get" = 50 }\n', encoding="utf-8")
    c = load_emulator_config(path)
    assert (c.corp_id, c.agent_id, c.trusted_domains) == ("wwtest", 7, ["a.example:8080"])
    assert c.trusted_ips == ["127.0.0.1"] and c.latency == {"user/get": 50}
    assert c.directory_path == str(tmp_path / "dir.json")


def test_config_load_reports_every_problem_at_once(tmp_path):
    path = tmp_path / "emu.toml"
    path.write_text('agent_id = "x"\nsurprise = 1\ntoken_ttl = true\n', encoding="utf-8")
    with pytest.raises(EmulatorConfigError) as e:
        load_emulator_config(path)
    assert "agent_id" in str(e.value) and "surprise" in str(e.value)
    assert "token_ttl" in str(e.value)


def test_config_trusts_exact_host_and_port_only():
    c = EmulatorConfig(trusted_domains=["sso.example.com:8443"])
    assert c.trusts("sso.example.com:8443")
    assert not c.trusts("sso.example.com") and not c.trusts("a.sso.example.com:8443")


def test_directory_sample_has_nested_departments_and_special_people():
    d = load_directory()
    assert 1 in d.departments and len(d.members) >= 10
    assert d.subtree(2)[:3] == [2, 3, 5] and 4 in d.subtree(2)  # 研发中心 > 平台部 > SRE组
    statuses = {m["status"] for m in d.members.values()}
    assert {1, 2, 4, 5} <= statuses
    assert not d.is_visible(d.member("wujiu")) and d.non_members["outsider"]["openid"]


def test_directory_json_file_loads(tmp_path):
    path = tmp_path / "dir.json"
    path.write_text(json.dumps({
        "departments": [{"id": 1, "name": "Root", "parentid": 0}],
        "members": [{"userid": "Alice", "name": "Alice", "department": [1]}],
    }), encoding="utf-8")
    d = load_directory(path)
    assert d.member("alice")["userid"] == "Alice"
    assert d.is_visible(d.member("alice"))  # no visible_range: the whole corp


def test_directory_inconsistent_file_reports_every_problem(tmp_path):
    path = tmp_path / "dir.json"
    path.write_text(json.dumps({
        "departments": [{"id": 2, "name": "Orphan", "parentid": 9}],
        "members": [{"userid": "bob", "name": "Bob", "department": [5]}, {"name": "?"}],
    }), encoding="utf-8")
    with pytest.raises(DirectoryError) as e:
        load_directory(path)
    text = str(e.value)
    assert "root" in text and "parent 9" in text and "department 5" in text
    assert "missing userid" in text


def test_every_errcode_the_emulator_emits_has_a_test():
    """Each errcode in the emulator's errmsg table appears in some test of this folder."""
    import pathlib
    import re

    from wecom_oidc.emulator.wire import ERRMSG

    here = pathlib.Path(__file__).parent
    text = "\n".join(p.read_text(encoding="utf-8") for p in here.glob("test_*.py")
                     if p.name != "test_emulator_config.py")
    untested = [code for code in ERRMSG if not re.search(rf"(?<![\d.]){code}(?!\d)", text)]
    assert untested == []
