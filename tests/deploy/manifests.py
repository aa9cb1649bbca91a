"""Read deploy/ the way ``kubectl apply -k`` does: a kustomization's ``resources``, files and directories, in order.

The kustomizations under deploy/ only list resources (no patches, generators or name prefixes), so
expanding them here gives exactly what kustomize builds; ``test_manifests.py`` checks both that
they stay that simple and, where kubectl is installed, that ``kubectl kustomize`` agrees.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
#: The two variants users apply: ``kubectl apply -k deploy/`` and ``kubectl apply -k deploy/statefulset/``.
VARIANTS = {"deployment": DEPLOY, "statefulset": DEPLOY / "statefulset"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet")

# Kafka Connect config-provider placeholders, as streamapp.config.providers reads them.
PLACEHOLDER = re.compile(r"\$\{(env|file|directory):(?:([^}]*?):)?([^}]*?)\}")


def load_kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def build(directory: Path) -> list[dict[str, Any]]:
    """Every resource of the kustomization in ``directory``, in kustomize's order (depth first)."""
    resources: list[dict[str, Any]] = []
    for entry in load_kustomization(directory)["resources"]:
        path = (directory / entry).resolve()
        if path.is_dir():
            resources.extend(build(path))
        else:
            resources.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return resources


def manifest_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml")


def find(resources: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [r for r in resources if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {[r['metadata']['name'] for r in matches]}"
    return matches[0]


def workload(resources: list[dict[str, Any]]) -> dict[str, Any]:
    matches = [r for r in resources if r["kind"] in WORKLOAD_KINDS]
    assert len(matches) == 1, [r["kind"] for r in matches]
    return matches[0]


def worker_container(resource: dict[str, Any]) -> dict[str, Any]:
    containers = resource["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["worker"]
    return containers[0]


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    assert "data" not in secret, "the sample Secret uses stringData (readable placeholders)"
    return dict(secret["stringData"])


def pod_environment(resources: list[dict[str, Any]], pod_name: str = "streamapp-0") -> dict[str, str]:
    """The worker container's environment as the kubelet would set it (envFrom, then env)."""
    container = worker_container(workload(resources))
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(find(resources, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]
        if "secretKeyRef" in ref:
            secret = secret_data(find(resources, "Secret", ref["secretKeyRef"]["name"]))
            key = ref["secretKeyRef"]["key"]
            if key in secret or not ref["secretKeyRef"].get("optional"):
                env[var["name"]] = secret[key]
        elif "configMapKeyRef" in ref:
            config = find(resources, "ConfigMap", ref["configMapKeyRef"]["name"])
            env[var["name"]] = config["data"][ref["configMapKeyRef"]["key"]]
        elif ref.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[var["name"]] = pod_name
        else:
            raise AssertionError(f"unexpected valueFrom for {var['name']}: {ref}")
    return env


def mounts(resources: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """mountPath -> (volumeMount, volume) for the worker container; volume None for a volumeClaimTemplate."""
    resource = workload(resources)
    volumes = {v["name"]: v for v in resource["spec"]["template"]["spec"].get("volumes", [])}
    claims = {c["metadata"]["name"] for c in resource["spec"].get("volumeClaimTemplates", [])}
    result = {}
    for mount in worker_container(resource)["volumeMounts"]:
        assert mount["name"] in volumes or mount["name"] in claims, f"volumeMount {mount['name']} has no volume"
        result[mount["mountPath"]] = (mount, volumes.get(mount["name"]))
    return result
