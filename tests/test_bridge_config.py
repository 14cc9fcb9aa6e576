"""Config: the example file, environment overrides, *_file secrets, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wecom_oidc.config import Secret, load_settings
from wecom_oidc.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"

MINIMAL = """
issuer = "https://sso.example.com"
[wecom]
corp_id = "ww1"
agent_id = 1000002
secret = "corp-secret"
[[clients]]
client_id = "app"
client_secret = "app-secret-0123456789abcdefghijk"
redirect_uris = ["https://app.example.com/cb"]
"""


def problems_of(make_settings, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        make_settings(text, env)
    return info.value.problems


def test_config_example_file_loads_with_documented_values():
    s = load_settings(str(EXAMPLE), env={})
    assert s.issuer == "https://sso.example.com"
    assert s.wecom.agent_id == 1000002
    assert s.wecom.api_base_url == "https://qyapi.weixin.qq.com"
    assert [c.client_id for c in s.clients] == ["grafana", "kubelogin"]
    assert s.client("kubelogin").is_public
    assert not s.client("grafana").is_public
    assert s.tokens.code_ttl == 120


def test_config_example_file_relative_paths_resolve_beside_it():
    s = load_settings(str(EXAMPLE), env={})
    assert s.keys.dir == str(EXAMPLE.parent / "keys")
    assert s.store.url == "sqlite:///" + str(EXAMPLE.parent / "data" / "wecom-oidc.db")


def test_config_minimal_file_gets_defaults(make_settings):
    s = make_settings(MINIMAL)
    assert s.wecom.authorize_url == "https://open.weixin.qq.com/connect/oauth2/authorize"
    assert s.wecom.web_login_url == "https://login.work.weixin.qq.com/wwlogin/sso/login"
    assert s.server.proxy_hops == 0
    assert s.claims.claims_in_id_token is True


def test_config_path_from_env_variable_is_read(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    s = load_settings(env={"WECOM_OIDC_CONFIG": str(path)})
    assert s.source == str(path)
    assert s.wecom.corp_id == "ww1"


def test_config_env_section_key_overrides_file(make_settings):
    s = make_settings(MINIMAL, {"WECOM_OIDC_WECOM__CORP_ID": "ww-from-env",
                                "WECOM_OIDC_TOKENS__CODE_TTL": "300",
                                "WECOM_OIDC_CLAIMS__WECOM_EMAIL_VERIFIED": "true"})
    assert s.wecom.corp_id == "ww-from-env"
    assert s.tokens.code_ttl == 300
    assert s.claims.wecom_email_verified is True


def test_config_env_issuer_overrides_file(make_settings):
    s = make_settings(MINIMAL, {"WECOM_OIDC_ISSUER": "https://login.corp.example/oidc"})
    assert s.issuer == "https://login.corp.example/oidc"
    assert s.issuer_path == "/oidc"


def test_config_env_clients_json_replaces_file_clients(make_settings):
    clients = [{"client_id": "from-env", "redirect_uris": ["https://env.example/cb"]}]
    s = make_settings(MINIMAL, {"WECOM_OIDC_CLIENTS": json.dumps(clients)})
    assert [c.client_id for c in s.clients] == ["from-env"]
    assert s.clients[0].is_public


def test_config_env_clients_invalid_json_is_a_problem(make_settings):
    problems = problems_of(make_settings, MINIMAL, {"WECOM_OIDC_CLIENTS": "[{oops"})
    assert any("clients" in p and "WECOM_OIDC_CLIENTS" in p for p in problems)


@pytest.mark.parametrize("value", ["true", "123", "1e5", "null", '"quoted"', "[1]"])
def test_config_env_secret_that_looks_like_json_is_kept_verbatim(make_settings, value):
    s = make_settings(MINIMAL, {"WECOM_OIDC_WECOM__SECRET": value})
    assert s.wecom.secret.reveal() == value


def test_config_env_list_value_accepts_json(make_settings):
    s = make_settings(MINIMAL, {"WECOM_OIDC_WECOM__PRIVATEINFO_SCOPES": '["email"]'})
    assert s.wecom.privateinfo_scopes == ("email",)


def test_config_env_without_file_is_enough(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"WECOM_OIDC_ISSUER": "https://sso.example.com", "WECOM_OIDC_WECOM__CORP_ID": "ww1",
           "WECOM_OIDC_WECOM__AGENT_ID": "1000002", "WECOM_OIDC_WECOM__SECRET": "s",
           "WECOM_OIDC_CLIENTS": '[{"client_id": "a", "redirect_uris": ["https://a/cb"]}]'}
    s = load_settings(env=env)
    assert s.wecom.agent_id == 1000002
    assert s.keys.dir == str(tmp_path / "keys")


def test_config_secret_file_is_read_and_stripped(make_settings, tmp_path):
    (tmp_path / "wecom_secret").write_text("from-file-secret\n", encoding="utf-8")
    text = MINIMAL.replace('secret = "corp-secret"', 'secret_file = "wecom_secret"')
    s = make_settings(text)
    assert s.wecom.secret.reveal() == "from-file-secret"


def test_config_client_secret_file_is_read(make_settings, tmp_path):
    (tmp_path / "app_secret").write_text("client-secret-from-file-01234567", encoding="utf-8")
    text = MINIMAL.replace('client_secret = "app-secret-0123456789abcdefghijk"',
                           'client_secret_file = "app_secret"')
    s = make_settings(text)
    assert s.clients[0].client_secret.reveal() == "client-secret-from-file-01234567"


def test_config_secret_file_from_env_is_read(make_settings, tmp_path):
    (tmp_path / "s").write_text("env-file-secret", encoding="utf-8")
    s = make_settings(MINIMAL, {"WECOM_OIDC_WECOM__SECRET_FILE": str(tmp_path / "s")})
    assert s.wecom.secret.reveal() == "env-file-secret"


def test_config_missing_secret_file_is_a_problem_naming_the_key(make_settings, tmp_path):
    text = MINIMAL.replace('secret = "corp-secret"', 'secret_file = "nope"')
    problems = problems_of(make_settings, text)
    assert problems == [f"{tmp_path / 'config.toml'}: wecom.secret_file: cannot read "
                        f"{tmp_path / 'nope'}: No such file or directory"]


def test_config_empty_secret_file_is_a_problem(make_settings, tmp_path):
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    text = MINIMAL.replace('secret = "corp-secret"', 'secret_file = "empty"')
    problems = problems_of(make_settings, text)
    assert len(problems) == 1 and "wecom.secret_file" in problems[0]
    assert "empty" in problems[0]


def test_config_several_problems_are_all_reported_with_file_and_key(make_settings, tmp_path):
    text = """
issuer = "http://sso.example.com"
[wecom]
agent_id = "not-a-number"
secret = "s"
[tokens]
code_ttl = 5
[[clients]]
client_id = "app"
redirect_uris = ["http://app.example.com/cb"]
"""
    problems = problems_of(make_settings, text)
    path = str(tmp_path / "config.toml")
    assert all(p.startswith(path + ": ") for p in problems)
    keys = [p[len(path) + 2:].split(":")[0] for p in problems]
    assert sorted(keys) == sorted(["issuer", "wecom.corp_id", "wecom.agent_id",
                                   "tokens.code_ttl", "clients[0].redirect_uris[0]"])


def test_config_error_message_lists_every_problem(make_settings):
    text = MINIMAL.replace('corp_id = "ww1"', "").replace("agent_id = 1000002", "")
    with pytest.raises(ConfigError) as info:
        make_settings(text)
    assert "wecom.corp_id: is required" in str(info.value)
    assert "wecom.agent_id: is required" in str(info.value)


def test_config_missing_file_is_a_problem(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(str(tmp_path / "absent.toml"), env={})
    assert info.value.problems == [f"{tmp_path / 'absent.toml'}: file not found"]


def test_config_invalid_toml_is_a_problem(make_settings):
    problems = problems_of(make_settings, "issuer = ")
    assert len(problems) == 1 and "not valid TOML" in problems[0]


def test_config_http_issuer_off_loopback_is_refused(make_settings):
    text = MINIMAL.replace("https://sso.example.com", "http://sso.example.com")
    problems = problems_of(make_settings, text)
    assert len(problems) == 1 and ": issuer: must use https" in problems[0]


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"])
def test_config_http_issuer_on_loopback_is_accepted(make_settings, host):
    s = make_settings(MINIMAL.replace("https://sso.example.com", f"http://{host}"))
    assert s.issuer == f"http://{host}"


def test_config_issuer_trailing_slash_is_dropped(make_settings):
    s = make_settings(MINIMAL.replace("https://sso.example.com", "https://sso.example.com/oidc/"))
    assert s.issuer == "https://sso.example.com/oidc"


def test_config_issuer_with_query_is_refused(make_settings):
    problems = problems_of(make_settings, MINIMAL.replace(
        "https://sso.example.com", "https://sso.example.com/?x=1"))
    assert len(problems) == 1 and ": issuer: must not have a query" in problems[0]


@pytest.mark.parametrize("ttl", [60, 600])
def test_config_code_ttl_at_bounds_is_accepted(make_settings, ttl):
    assert make_settings(MINIMAL + f"\n[tokens]\ncode_ttl = {ttl}\n").tokens.code_ttl == ttl


@pytest.mark.parametrize("ttl", [59, 601])
def test_config_code_ttl_outside_bounds_is_refused(make_settings, ttl):
    problems = problems_of(make_settings, MINIMAL + f"\n[tokens]\ncode_ttl = {ttl}\n")
    assert len(problems) == 1 and ": tokens.code_ttl: must be between 60 and 600" in problems[0]


def test_config_secret_repr_and_str_never_show_value():
    s = Secret("hunter2-value")
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s)
    assert "hunter2" not in f"{s}"


def test_config_settings_repr_never_shows_secrets(make_settings):
    s = make_settings(MINIMAL)
    assert "corp-secret" not in repr(s)
    assert "app-secret-0123456789abcdefghijk" not in repr(s)


def test_config_relative_sqlite_path_resolves_against_config_folder(make_settings, tmp_path):
    s = make_settings(MINIMAL + '\n[store]\nurl = "sqlite:///state/bridge.db"\n')
    assert s.store.url == "sqlite:///" + str(tmp_path / "state" / "bridge.db")


def test_config_absolute_sqlite_path_is_kept(make_settings):
    s = make_settings(MINIMAL + '\n[store]\nurl = "sqlite:////var/lib/bridge.db"\n')
    assert s.store.url == "sqlite:////var/lib/bridge.db"


def test_config_relative_keys_dir_resolves_against_config_folder(make_settings, tmp_path):
    s = make_settings(MINIMAL + '\n[keys]\ndir = "signing"\n')
    assert s.keys.dir == str(tmp_path / "signing")


def test_config_unsupported_store_url_is_refused(make_settings):
    problems = problems_of(make_settings, MINIMAL + '\n[store]\nurl = "postgres://db/x"\n')
    assert len(problems) == 1 and ": store.url: " in problems[0]


@pytest.mark.parametrize("url", ["redis://cache:6379/0", "rediss://cache:6380/1",
                                 "redis+sentinel://s1:26379,s2:26379/mymaster/0",
                                 "redis+cluster://n1:6379,n2:6379"])
def test_config_redis_store_url_is_accepted_as_shared(make_settings, url):
    s = make_settings(MINIMAL + f'\n[store]\nurl = "{url}"\n')
    assert s.store.url == url
    assert s.store.shared


def test_config_sqlite_store_is_not_shared(make_settings):
    assert not make_settings(MINIMAL).store.shared


def test_config_sentinel_url_without_service_is_refused(make_settings):
    text = MINIMAL + '\n[store]\nurl = "redis+sentinel://s1:26379"\n'
    problems = problems_of(make_settings, text)
    assert len(problems) == 1 and ": store.url: " in problems[0] and "SERVICE" in problems[0]


def test_config_redis_password_never_in_repr(make_settings):
    s = make_settings(MINIMAL + '\n[store]\nurl = "redis://app:hunter2@cache:6379/0"\n')
    assert "hunter2" not in repr(s)
    assert "redis://app:***@cache:6379/0" in repr(s.store)


def test_config_http_redirect_uri_off_loopback_is_refused(make_settings):
    text = MINIMAL.replace("https://app.example.com/cb", "http://app.example.com/cb")
    problems = problems_of(make_settings, text)
    assert len(problems) == 1 and ": clients[0].redirect_uris[0]: " in problems[0]


def test_config_bad_post_logout_uri_names_its_own_key(make_settings):
    text = MINIMAL + '\npost_logout_redirect_uris = ["https://app.example.com/#frag"]\n'
    problems = problems_of(make_settings, text)
    assert len(problems) == 1
    assert ": clients[0].post_logout_redirect_uris[0]: " in problems[0]


def test_config_duplicate_client_id_is_refused(make_settings):
    text = MINIMAL + ('\n[[clients]]\nclient_id = "app"\n'
                      'redirect_uris = ["https://b.example.com/cb"]\n')
    problems = problems_of(make_settings, text)
    assert len(problems) == 1 and ": clients[1].client_id: duplicate" in problems[0]


def test_config_no_clients_is_refused(make_settings):
    text = MINIMAL.split("[[clients]]")[0]
    problems = problems_of(make_settings, text)
    assert len(problems) == 1 and ": clients: no client registered" in problems[0]


def test_config_client_without_secret_is_public(make_settings):
    s = make_settings(MINIMAL.replace('client_secret = "app-secret-0123456789abcdefghijk"', ""))
    assert s.clients[0].is_public and s.clients[0].client_secret is None


def test_config_verify_files_are_loaded(make_settings):
    text = MINIMAL.replace("[[clients]]", '[wecom.verify_files]\n"WW_verify_Ab12.txt" = "Ab12"\n'
                           "[[clients]]", 1)
    s = make_settings(text)
    assert s.wecom.verify_files == (("WW_verify_Ab12.txt", "Ab12"),)


def test_config_verify_file_with_other_name_is_refused(make_settings):
    text = MINIMAL.replace("[[clients]]", '[wecom.verify_files]\n"../etc/passwd" = "x"\n'
                           "[[clients]]", 1)
    problems = problems_of(make_settings, text)
    assert len(problems) == 1 and ": wecom.verify_files: " in problems[0]


def test_config_email_template_without_userid_is_refused(make_settings):
    problems = problems_of(make_settings, MINIMAL + '\n[claims]\nemail_template = "x@corp"\n')
    assert len(problems) == 1 and ": claims.email_template: " in problems[0]


def test_config_negative_workers_is_refused(make_settings):
    problems = problems_of(make_settings, MINIMAL + "\n[server]\nworkers = -1\n")
    assert len(problems) == 1 and ": server.workers: must be a positive integer" in problems[0]


def test_config_empty_wecom_secret_is_a_problem(make_settings):
    problems = problems_of(make_settings, MINIMAL.replace('secret = "corp-secret"',
                                                          'secret = ""'))
    assert len(problems) == 1 and ": wecom.secret: is empty" in problems[0]


def test_config_empty_client_secret_is_refused_not_made_public(make_settings):
    problems = problems_of(make_settings, MINIMAL.replace(
        'client_secret = "app-secret-0123456789abcdefghijk"', 'client_secret = ""'))
    assert len(problems) == 1 and ": clients[0].client_secret: is empty" in problems[0]


def test_config_env_negative_int_reports_the_range_problem(make_settings):
    problems = problems_of(make_settings, MINIMAL, {"WECOM_OIDC_SERVER__THREADS": "-2"})
    assert len(problems) == 1 and ": server.threads: must be a positive integer" in problems[0]


def test_config_env_int_that_is_not_a_number_is_a_problem(make_settings):
    problems = problems_of(make_settings, MINIMAL, {"WECOM_OIDC_WECOM__AGENT_ID": "abc"})
    assert len(problems) == 1 and ": wecom.agent_id: must be int, got str" in problems[0]


def test_config_env_verify_files_accepts_json_table(make_settings):
    s = make_settings(MINIMAL, {"WECOM_OIDC_WECOM__VERIFY_FILES": '{"WW_verify_Q.txt": "Q"}'})
    assert s.wecom.verify_files == (("WW_verify_Q.txt", "Q"),)


def test_config_unknown_keys_are_reported_with_the_closest_known_key(make_settings):
    text = MINIMAL.replace("[wecom]", "[sever]\nbind = \"0.0.0.0:9000\"\n[tokens]\n"
                           "acess_token_ttl = 60\n[wecom]").replace(
        "redirect_uris =", "redirect_uri = \"https://app.example.com/cb\"\nredirect_uris =")
    problems = problems_of(make_settings, text)
    assert any(p.endswith("sever: unknown key (did you mean 'server'?)") for p in problems)
    assert any("tokens.acess_token_ttl: unknown key (did you mean 'access_token_ttl'?)" in p
               for p in problems)
    assert any("clients[0].redirect_uri: unknown key (did you mean 'redirect_uris'?)" in p
               for p in problems)
    assert all(p.startswith(str(Path(p.split(":")[0]))) for p in problems)  # names the file


def test_config_unknown_key_from_environment_is_reported(make_settings):
    problems = problems_of(make_settings, MINIMAL, {"WECOM_OIDC_SERVER__WORKRES": "4"})
    assert any("server.workres: unknown key (did you mean 'workers'?)" in p for p in problems)


def test_config_free_form_tables_accept_any_key(make_settings):
    s = make_settings(MINIMAL.replace(
        'redirect_uris = ["https://app.example.com/cb"]',
        'redirect_uris = ["https://app.example.com/cb"]\n'
        '[clients.extra_claims]\nmy_custom_claim = "position"'))
    assert ("my_custom_claim", "position") in s.clients[0].extra_claims


@pytest.mark.parametrize(("value", "message"), [
    ("9100", "must be host:port"),
    ("0.0.0.0:metrics", "must be host:port"),
    ("127.0.0.1:8000", "must differ from [server] bind"),
])
def test_config_metrics_bind_must_be_another_host_port(make_settings, value, message):
    problems = problems_of(make_settings, MINIMAL,
                           env={"WECOM_OIDC_SERVER__METRICS_BIND": value})
    assert any(": server.metrics_bind: " in p and message in p for p in problems), problems


def test_config_metrics_bind_accepted(make_settings):
    s = make_settings(MINIMAL, env={"WECOM_OIDC_SERVER__METRICS_BIND": "0.0.0.0:9100"})
    assert s.server.metrics_bind == "0.0.0.0:9100"


def test_config_metrics_token_too_short_refused(make_settings):
    problems = problems_of(make_settings, MINIMAL,
                           env={"WECOM_OIDC_SERVER__METRICS_TOKEN": "short"})
    assert any(": server.metrics_token: must be at least 16" in p for p in problems), problems


def test_config_metrics_token_from_file_is_a_secret(make_settings, tmp_path):
    path = tmp_path / "metrics-token"
    path.write_text("t" * 32 + "\n", encoding="utf-8")
    s = make_settings(MINIMAL, env={"WECOM_OIDC_SERVER__METRICS_TOKEN_FILE": str(path)})
    assert s.server.metrics_token.reveal() == "t" * 32
    assert "t" * 32 not in repr(s)


def test_config_log_level_and_audit_log(make_settings, tmp_path):
    s = make_settings(MINIMAL, env={"WECOM_OIDC_SERVER__LOG_LEVEL": "warning",
                                    "WECOM_OIDC_SERVER__AUDIT_LOG": str(tmp_path / "a.log")})
    assert (s.server.log_level, s.server.audit_log) == ("warning", str(tmp_path / "a.log"))
    problems = problems_of(make_settings, MINIMAL, env={
        "WECOM_OIDC_SERVER__LOG_LEVEL": "loud",
        "WECOM_OIDC_SERVER__AUDIT_LOG": str(tmp_path / "missing" / "a.log")})
    assert any(": server.log_level: must be one of" in p for p in problems), problems
    assert any(": server.audit_log: " in p and "not a directory" in p for p in problems)


def test_config_unknown_access_token_format_is_a_problem(make_settings):
    problems = problems_of(make_settings, MINIMAL.replace(
        'client_secret = "app-secret-0123456789abcdefghijk"',
        'client_secret = "app-secret-0123456789abcdefghijk"\naccess_token_format = "paseto"'))
    assert len(problems) == 1
    assert ": clients[0].access_token_format: must be one of jwt, opaque" in problems[0]
