"""deploy/kubernetes/, checked without a cluster: every manifest against the Kubernetes
API schemas of the oldest and the newest release we name (kubernetes-validate ships them,
so this runs offline), strict (an unknown or misspelled field fails), and what the
manifests promise: probes, read-only keys, non-root read-only pods, the selectors and
named ports that must agree, the config that must load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from wecom_oidc.config import load_settings

if os.environ.get("CI", "").lower() in ("", "0", "false", "no"):
    kubernetes_validate = pytest.importorskip("kubernetes_validate",
                                              reason="pip install -e '.[test]'")
else:  # in CI a missing validator is a failure, never a skip
    import kubernetes_validate
K8S = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
VERSIONS = ("1.30.0", "1.37.0")


def documents() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def kind(k: str, name: str | None = None) -> list[dict]:
    return [d for d in documents() if d["kind"] == k
            and (name is None or d["metadata"]["name"] == name)]


def bridge() -> dict:
    (deployment,) = kind("Deployment", "wecom-oidc")
    return deployment


def container() -> dict:
    (c,) = bridge()["spec"]["template"]["spec"]["containers"]
    return c


@pytest.mark.parametrize("version", VERSIONS)
def test_kubernetes_manifests_match_the_api_schemas_strictly(version):
    docs = documents()
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "PodDisruptionBudget",
                                         "ConfigMap", "Ingress", "NetworkPolicy", "Namespace"}
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_kubernetes_validation_catches_a_misspelled_field():
    broken = bridge()
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_kubernetes_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_kubernetes_bridge_replicas_probes_and_resources():
    spec = bridge()["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    c = container()
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert "memory" in c["resources"]["limits"]


def test_kubernetes_bridge_runs_non_root_with_a_read_only_root_filesystem():
    pod = bridge()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = container()["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    # The only writable place: /tmp (the metrics folder).
    mounts = {m["mountPath"]: m for m in container()["volumeMounts"]}
    writable = {p for p, m in mounts.items() if not m.get("readOnly")}
    assert writable == {"/tmp"}


def test_kubernetes_signing_keys_are_a_secret_mounted_read_only_at_keys_dir(settings):
    mounts = {m["name"]: m for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in bridge()["spec"]["template"]["spec"]["volumes"]}
    keys = next(m for m in mounts.values() if m["mountPath"] == settings.keys.dir)
    assert keys["readOnly"] is True
    secret = volumes[keys["name"]]["secret"]
    assert secret["secretName"] == "wecom-oidc-keys"
    assert secret["defaultMode"] & 0o007 == 0  # nobody but the pod's user and group


def test_kubernetes_service_pdb_and_policy_select_the_right_pods():
    pod_labels = bridge()["spec"]["template"]["metadata"]["labels"]
    (service,) = kind("Service", "wecom-oidc")
    (pdb,) = kind("PodDisruptionBudget")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert bridge()["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (policy,) = kind("NetworkPolicy")
    (allowed,) = policy["spec"]["ingress"][0]["from"]
    assert allowed["podSelector"]["matchLabels"].items() <= pod_labels.items()
    (redis,) = kind("Deployment", "wecom-oidc-redis")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= \
        redis["spec"]["template"]["metadata"]["labels"].items()


def test_kubernetes_named_ports_agree_with_the_config(settings):
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports["http"] == int(settings.server.bind.rsplit(":", 1)[1])
    assert ports["metrics"] == int(settings.server.metrics_bind.rsplit(":", 1)[1])
    annotations = bridge()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    (service,) = kind("Service", "wecom-oidc")
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {"http", "metrics"}
    (ingress,) = kind("Ingress")
    backends = {p["backend"]["service"]["port"]["name"]
                for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert backends == {"http"}  # /metrics is never published


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    """The ConfigMap's config.toml, loaded as a replica would (its secret files and the
    store URL stand in for the mounted Secret)."""
    (cm,) = kind("ConfigMap", "wecom-oidc-config")
    text = cm["data"]["config.toml"]
    work = tmp_path_factory.mktemp("k8s-config")
    for secret_path in {line.split('"')[1] for line in text.splitlines()
                        if "_file = " in line}:
        text = text.replace(secret_path, str(work / Path(secret_path).name))
        (work / Path(secret_path).name).write_text("x" * 40, encoding="utf-8")
    (work / "config.toml").write_text(text, encoding="utf-8")
    store_env = next(e for e in container()["env"] if e["name"] == "WECOM_OIDC_STORE__URL")
    assert store_env["valueFrom"]["secretKeyRef"]["name"] == "wecom-oidc-secrets"
    return load_settings(str(work / "config.toml"), env={
        "WECOM_OIDC_STORE__URL": "redis://:pw@wecom-oidc-redis:6379/0"})


def test_kubernetes_config_loads_and_shares_redis(settings):
    assert settings.store.shared
    assert settings.server.proxy_hops == 1
    assert settings.server.graceful_timeout < \
        bridge()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
