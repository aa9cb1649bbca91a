"""deploy/: the Kubernetes manifests validate against the Kubernetes schemas and agree with the code.

Schemas: the ``kubernetes-validate`` package bundles the Kubernetes OpenAPI schemas, so validation
runs offline. Strict mode rejects unknown fields, which catches misspelt or misplaced keys that
``kubectl apply`` would otherwise drop silently (or refuse only on a live cluster).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jproperties import Properties

from streamapp.config.providers import PROVIDERS
from streamapp.settings import WorkerSettings

from .manifests import (
    DEPLOY,
    PLACEHOLDER,
    ROOT,
    VARIANTS,
    build,
    find,
    load_kustomization,
    manifest_files,
    mounts,
    pod_environment,
    secret_data,
    worker_container,
    workload,
)

# The oldest Kubernetes minor release still maintained when this was written, and the newest the
# validator knows. Both must accept every manifest.
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
SETTING_NAMES = {f"STREAMAPP_{name.upper()}" for name in WorkerSettings.model_fields}
PLACEHOLDER_PREFIX = "REPLACE-ME"
STREAMAPP_CLI = Path(sys.executable).with_name("streamapp")


@pytest.fixture(params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def resources(variant: str) -> list[dict]:
    return build(VARIANTS[variant])


# --- schemas and kustomize ------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_manifest_validates_against_the_kubernetes_schema(path: Path, version: str):
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert docs, f"{path} holds no resource"
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError with the field


def test_the_validator_rejects_a_broken_manifest():
    """Guards the test above: strict validation really looks inside the pod template."""
    deployment = find(build(VARIANTS["deployment"]), "Deployment")
    broken = copy.deepcopy(deployment)
    worker_container(broken)["readinessprobe"] = worker_container(broken).pop("readinessProbe")  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)
    broken = copy.deepcopy(deployment)
    worker_container(broken)["ports"][0]["containerPort"] = "6066"  # a string where an integer belongs
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomizations_only_list_resources_and_every_manifest_is_used():
    used: set[Path] = set()
    for directory in [DEPLOY, DEPLOY / "base", DEPLOY / "statefulset"]:
        kustomization = load_kustomization(directory)
        assert set(kustomization) == {"apiVersion", "kind", "resources"}, directory
        assert kustomization["kind"] == "Kustomization"
        for entry in kustomization["resources"]:
            path = (directory / entry).resolve()
            assert path.exists(), f"{directory}/kustomization.yaml lists missing {entry}"
            used.add(path)
    assert set(manifest_files()) <= used, "a manifest in deploy/ that no kustomization applies"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its built-in kustomize) is not installed")
def test_kubectl_kustomize_builds_the_same_resources(variant: str, resources: list[dict]):
    out = subprocess.run(
        ["kubectl", "kustomize", str(VARIANTS[variant])], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    built = [doc for doc in yaml.safe_load_all(out) if doc]

    def key(resource: dict) -> tuple[str, str]:
        return resource["kind"], resource["metadata"]["name"]

    assert sorted(built, key=key) == sorted(resources, key=key)


def test_each_variant_has_its_workload_and_what_it_needs(variant: str, resources: list[dict]):
    kinds = sorted((r["kind"], r["metadata"]["name"]) for r in resources)
    expected = [
        ("ConfigMap", "streamapp-connectors"),
        ("ConfigMap", "streamapp-settings"),
        ("PodDisruptionBudget", "streamapp"),
        ("Secret", "streamapp-secrets"),
        ("Service", "streamapp"),
    ]
    if variant == "deployment":
        expected.append(("Deployment", "streamapp"))
    else:
        expected += [("Service", "streamapp-workers"), ("StatefulSet", "streamapp")]
    assert kinds == sorted(expected)


# --- the manifests agree with the code --------------------------------------------------------


def test_every_worker_setting_set_is_a_real_streamapp_setting(resources: list[dict]):
    settings_map = find(resources, "ConfigMap", "streamapp-settings")["data"]
    container = worker_container(workload(resources))
    names = set(settings_map) | {v["name"] for v in container["env"]}
    streamapp_names = {n for n in names if n.startswith("STREAMAPP_")}
    assert streamapp_names - SETTING_NAMES == set(), "unknown STREAMAPP_* variables"
    # Every other variable is there for a ${env:...} placeholder in the connector configs.
    connectors = find(resources, "ConfigMap", "streamapp-connectors")["data"]
    env_placeholders = {m[2] for text in connectors.values() for m in PLACEHOLDER.findall(text) if m[0] == "env"}
    assert names - streamapp_names == env_placeholders


def test_the_pod_environment_is_valid_worker_settings(monkeypatch, variant: str, resources: list[dict]):
    for name in list(os.environ):
        if name.startswith("STREAMAPP_"):
            monkeypatch.delenv(name)
    env = pod_environment(resources)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = WorkerSettings(_env_file=None)
    container = worker_container(workload(resources))
    web = {p["name"]: p["containerPort"] for p in container["ports"]}["web"]
    assert settings.web_port == web
    assert settings.connector_paths == ["/etc/streamapp/connectors/"]
    assert settings.connector_paths[0].rstrip("/") in mounts(resources)
    assert settings.datadir in mounts(resources), "the Faust data dir must be a writable volume"
    assert settings.api_token is None  # optional: the sample Secret has no api-token key
    if variant == "statefulset":
        assert settings.store == "rocksdb://"
        assert settings.group_instance_id == "streamapp-0"  # the pod name, through the downward API
    else:
        assert settings.store == "memory://"
        # Deployment pod names change on every rollout: a static member id from them would leave
        # the previous pod's id holding its partitions until the session timeout.
        assert settings.group_instance_id is None


def test_probes_use_the_health_endpoints_on_the_web_port(resources: list[dict]):
    container = worker_container(workload(resources))
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "web"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "web"}
    assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "web"}
    assert [p["name"] for p in container["ports"]] == ["web"]
    for service in (r for r in resources if r["kind"] == "Service"):
        assert [(p["name"], p["targetPort"]) for p in service["spec"]["ports"]] == [("web", "web")]


def test_selectors_match_the_worker_pods(resources: list[dict]):
    resource = workload(resources)
    labels = resource["spec"]["template"]["metadata"]["labels"]
    assert resource["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pdb = find(resources, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1
    # /readyz is DOWN while Diffusion is: such workers must not block node drains.
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    for service in (r for r in resources if r["kind"] == "Service"):
        assert service["spec"]["selector"].items() <= labels.items()
    if resource["kind"] == "StatefulSet":
        governing = find(resources, "Service", resource["spec"]["serviceName"])
        assert governing["spec"]["clusterIP"] == "None"


def test_pods_run_non_root_on_a_read_only_root_filesystem(resources: list[dict]):
    resource = workload(resources)
    pod = resource["spec"]["template"]["spec"]
    container = worker_container(resource)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    writable = {path for path, (mount, _volume) in mounts(resources).items() if not mount.get("readOnly")}
    assert writable == {"/var/lib/streamapp", "/tmp"}
    data_mount, data_volume = mounts(resources)["/var/lib/streamapp"]
    if resource["kind"] == "StatefulSet":
        assert data_volume is None  # from the volumeClaimTemplate: RocksDB survives restarts
        (claim,) = resource["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == data_mount["name"]
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    else:
        assert "emptyDir" in data_volume


def test_resources_and_shutdown_grace(resources: list[dict]):
    resource = workload(resources)
    container = worker_container(resource)
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    # Kubernetes sends SIGTERM, then SIGKILL after the grace period: it must cover the worker's
    # graceful shutdown, which Faust bounds well under a minute.
    assert resource["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60


def test_the_two_workloads_differ_only_where_they_must():
    deployment = find(build(VARIANTS["deployment"]), "Deployment")
    statefulset = find(build(VARIANTS["statefulset"]), "StatefulSet")

    def comparable(resource: dict) -> dict:
        template = copy.deepcopy(resource["spec"]["template"])
        container = worker_container({"spec": {"template": template}})
        container["env"] = [
            v for v in container["env"] if v["name"] not in ("STREAMAPP_STORE", "STREAMAPP_GROUP_INSTANCE_ID")
        ]
        template["spec"]["volumes"] = [v for v in template["spec"]["volumes"] if v["name"] != "data"]
        return template

    assert comparable(deployment) == comparable(statefulset)


# --- connector configs and secrets ------------------------------------------------------------


def test_secret_values_are_marked_placeholders():
    secret = find(build(VARIANTS["deployment"]), "Secret")
    for key, value in secret_data(secret).items():
        lines = [line for line in value.splitlines() if line.strip() and not line.startswith("#")]
        assert lines, key
        for line in lines:
            assert PLACEHOLDER_PREFIX in line, f"Secret key {key} holds a value not marked as a placeholder"
    assert "PLACEHOLDER" in (DEPLOY / "base/secret.yaml").read_text().upper()


def _connector_settings(name: str, text: str) -> dict[str, str]:
    if name.endswith(".json"):
        doc = json.loads(text)
        return doc.get("config", doc)
    props = Properties()
    props.load(text, "utf-8")
    return {key: value.data for key, value in props.items()}


def test_connector_passwords_come_from_the_secret_only():
    connectors = find(build(VARIANTS["deployment"]), "ConfigMap", "streamapp-connectors")["data"]
    passwords = 0
    for name, text in connectors.items():
        for key, value in _connector_settings(name, text).items():
            if "password" in key or key.endswith(".pass"):
                assert PLACEHOLDER.fullmatch(value), f"{name}: {key} is not a config-provider placeholder"
                passwords += 1
    assert passwords == 2
    providers = {m[0] for text in connectors.values() for m in PLACEHOLDER.findall(text)}
    assert providers == set(PROVIDERS)  # the sample shows ${env:...}, ${file:...} and ${directory:...}


def test_placeholders_name_what_the_pod_provides(resources: list[dict]):
    connectors = find(resources, "ConfigMap", "streamapp-connectors")["data"]
    secret = find(resources, "Secret")
    keys = secret_data(secret)
    container = worker_container(workload(resources))
    secret_env = {
        v["name"]: v["valueFrom"]["secretKeyRef"] for v in container["env"] if "secretKeyRef" in v.get("valueFrom", {})
    }
    secret_mounts = {
        path: volume["secret"]["secretName"]
        for path, (_mount, volume) in mounts(resources).items()
        if volume and "secret" in volume
    }
    assert set(secret_mounts.values()) == {secret["metadata"]["name"]}
    for text in connectors.values():
        for provider, path, key in PLACEHOLDER.findall(text):
            if provider == "env":
                assert key in secret_env and secret_env[key]["key"] in keys, key
            elif provider == "directory":
                assert path in secret_mounts and key in keys, (path, key)
            else:
                directory, name = path.rsplit("/", 1)
                assert directory in secret_mounts and name in keys, path
                assert f"\n{key} =" in "\n" + keys[name], f"{key} not in Secret key {name}"


def test_the_connector_configmap_passes_check_config(tmp_path: Path, variant: str, resources: list[dict]):
    """``streamapp check-config`` on the ConfigMap's files, as mounted in the pod with the sample Secret."""
    connectors = find(resources, "ConfigMap", "streamapp-connectors")["data"]
    secret = find(resources, "Secret")
    (secret_path,) = [p for p, (_m, v) in mounts(resources).items() if v and "secret" in v]
    # The pod's mounts, under tmp_path: the Secret's keys as files, the ConfigMap's keys as files.
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    for key, value in secret_data(secret).items():
        (secrets_dir / key).write_text(value)
    connectors_dir = tmp_path / "connectors"
    connectors_dir.mkdir()
    for name, text in connectors.items():
        (connectors_dir / name).write_text(
            text.replace(secret_path + "/", f"{secrets_dir}/").replace(f"{secret_path}:", f"{secrets_dir}:")
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMAPP_")}
    env.update(pod_environment(resources))
    env["STREAMAPP_ENV_FILE"] = str(tmp_path / "no-such.env")

    result = subprocess.run(
        [str(STREAMAPP_CLI), "check-config", "--json", str(connectors_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == []
    by_name = {c["name"]: c for c in report["connectors"]}
    assert sorted(by_name) == ["DiffusionSinkConnector", "DiffusionSourceConnector", "coap-sink"]
    source = by_name["DiffusionSourceConnector"]["config"]
    assert source["diffusion.username"] == "REPLACE-ME-diffusion-user"  # resolved from the ${file:...} Secret key
    for name in ("DiffusionSinkConnector", "DiffusionSourceConnector"):
        assert by_name[name]["config"]["diffusion.password"] == "[hidden]"
    for key, value in secret_data(secret).items():
        if "password" in key:
            assert value not in result.stdout + result.stderr, f"Secret {key} printed"


def test_the_readme_applies_the_kustomizations_that_exist():
    readme = (ROOT / "README.md").read_text()
    applied = re.findall(r"kubectl apply -k (\S+)", readme)
    assert sorted({(ROOT / path).resolve() for path in applied}) == sorted(p.resolve() for p in VARIANTS.values())
