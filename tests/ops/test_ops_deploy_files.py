"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the compose
file against the Compose Specification's JSON schema (as shipped in check-jsonschema)
plus what this project demands of it; the Dockerfile through BuildKit's own parser."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import dockerfile
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value):
    """Compose's ${VAR:-default} with the defaults (what `docker compose config` does
    with an empty environment)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: m.group(2) or "", value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict:
    return interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_compose_file_matches_the_compose_specification_schema(compose):
    schema_file = (resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
                   / "compose-spec.json")
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(compose, schema, cls=jsonschema.Draft202012Validator)


def test_compose_schema_check_catches_a_broken_file(compose):
    schema_file = (resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
                   / "compose-spec.json")
    schema = json.loads(schema_file.read_text())
    broken = {**compose, "services": {**compose["services"],
                                      "bridge": {**compose["services"]["bridge"],
                                                 "healthcheck": {"test": 5}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_compose_has_redis_bridge_proxy_and_a_demo_profile(services):
    assert {"redis", "bridge", "proxy", "keys-init"} <= set(services)
    for name in ("redis", "bridge", "proxy", "keys-init"):
        assert "profiles" not in services[name], name
    assert services["emulator"]["profiles"] == ["demo"]
    assert services["demo-app"]["profiles"] == ["demo"]
    assert services["emulator"]["command"][:1] == ["emulator"]
    assert "--host" in services["emulator"]["command"]


def test_compose_long_running_services_have_healthchecks(services):
    for name, service in services.items():
        if name == "keys-init":
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_compose_bridge_is_scalable(services):
    bridge = services["bridge"]
    assert "container_name" not in bridge
    assert "ports" not in bridge  # replicas publish nothing; the proxy is the front door
    assert int(bridge["deploy"]["replicas"]) >= 2
    assert services["proxy"]["depends_on"]["bridge"]["condition"] == "service_healthy"


def test_compose_bridge_mounts_config_and_keys_read_only_and_has_data_volume(services):
    mounts = {m["target"]: m for m in services["bridge"]["volumes"]}
    assert mounts["/etc/wecom-oidc/config.toml"]["read_only"] is True
    assert mounts["/etc/wecom-oidc/keys"]["read_only"] is True
    assert mounts["/var/lib/wecom-oidc"]["type"] == "volume"
    assert not mounts["/var/lib/wecom-oidc"].get("read_only")
    assert services["bridge"]["read_only"] is True


def test_compose_bridge_uses_redis_and_trusts_one_proxy_hop(services):
    env = services["bridge"]["environment"]
    assert env["WECOM_OIDC_STORE__URL"].startswith("redis://redis:")
    assert env["WECOM_OIDC_SERVER__PROXY_HOPS"] == "1"
    assert services["bridge"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_has_no_inline_secrets(compose):
    text = json.dumps(compose).lower()
    for word in ("emulated-app-secret", "demo-app-secret"):
        assert word not in text
    for service in compose["services"].values():
        env = service.get("environment", {})
        for key in env:
            assert not re.search(r"SECRET(?!_FILE)|PASSWORD", key), key
    assert set(compose["secrets"]) == {"wecom_secret", "demo_client_secret"}
    for secret in compose["secrets"].values():
        assert (ROOT / secret["file"]).is_file()


def test_compose_demo_config_loads_with_its_secret_files(tmp_path):
    """The demo's bridge config is valid once its secrets sit where compose puts them."""
    from wecom_oidc.config import load_settings

    text = (ROOT / "deploy/demo/config.toml").read_text()
    for name, file in (("wecom_secret", "wecom_secret"), ("demo_client_secret", "client_secret")):
        (tmp_path / name).write_text((ROOT / "deploy/demo" / file).read_text())
        text = text.replace(f"/run/secrets/{name}", str(tmp_path / name))
    (tmp_path / "config.toml").write_text(text)
    settings = load_settings(str(tmp_path / "config.toml"), env={
        "WECOM_OIDC_STORE__URL": "redis://redis:6379/0"})
    assert settings.client("demo-app").redirect_uris == ("http://localhost:9002/callback",)
    assert settings.store.shared


# --- Dockerfile -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stages() -> list[list]:
    """The Dockerfile's commands, split into stages at each FROM."""
    out: list[list] = []
    for cmd in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if cmd.cmd == "FROM":
            out.append([])
        out[-1].append(cmd)
    return out


def _final(stages, name: str) -> list:
    return [c for c in stages[-1] if c.cmd == name]


def test_dockerfile_is_multi_stage_on_slim_python_311(stages):
    assert len(stages) >= 2
    for stage in stages:
        assert stage[0].value[0].startswith("python:3.11-slim")
    assert any(c.cmd == "COPY" and "--from=build" in c.flags for c in stages[-1])


def test_dockerfile_runs_as_non_root(stages):
    users = _final(stages, "USER")
    assert users, "no USER in the final stage"
    user = users[-1].value[0].split(":")[0]
    assert user not in ("root", "0")


def test_dockerfile_serves_and_has_a_healthcheck(stages):
    assert _final(stages, "ENTRYPOINT")[-1].value == ("wecom-oidc",)
    assert _final(stages, "CMD")[-1].value == ("serve",)
    health = _final(stages, "HEALTHCHECK")[-1]
    assert health.value[0] == "CMD" and "wecom_oidc.ops.probe" in health.value


def test_dockerfile_final_stage_installs_no_build_tools(stages):
    runs = " ".join(" ".join(c.value) for c in stages[-1] if c.cmd == "RUN")
    for tool in ("gcc", "build-essential", "make ", "g++", "apt-get install", "-dev "):
        assert tool not in runs, tool


def test_dockerfile_names_no_package_index_and_no_local_path():
    text = (ROOT / "Dockerfile").read_text()
    assert "--index-url" not in text and "--extra-index-url" not in text
    assert "/work/" not in text


def test_dockerignore_keeps_keys_and_secrets_out_of_the_image():
    rules = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert rules[0] == "**"  # everything excluded, then only the package re-included
    assert not any(r.startswith("!") and ("keys" in r or "deploy" in r or "tests" in r)
                   for r in rules)


def test_healthcheck_probe_url_from_bind_and_issuer_path():
    from wecom_oidc.ops.probe import probe_url

    assert probe_url("0.0.0.0:8000", "", False) == "http://127.0.0.1:8000/healthz"
    assert probe_url("[::]:8000", "/oidc", True) == "http://[::1]:8000/oidc/readyz"
    assert probe_url("10.1.2.3:9000", "", True) == "http://10.1.2.3:9000/readyz"
