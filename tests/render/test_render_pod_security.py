"""Every rendered pod passes the `restricted` Pod Security Standard; no unused RBAC.

The profile's rules, from kubernetes.io/docs/concepts/security/pod-security-standards/
("Restricted" and the "Baseline" rules it includes): no host namespaces, ports or paths;
not privileged; only allowed volume types; allowPrivilegeEscalation false; runAsNonRoot
true and runAsUser not 0; seccomp RuntimeDefault or Localhost; capabilities drop ALL and
add at most NET_BIND_SERVICE. Issue 11 point 7: no pod had a securityContext, and a Role
was rendered that nothing used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bcastctl.fleet import Fleet, load_fleet, parse_fleet
from bcastctl.render.manifests import region_manifests

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml"
FLEET = load_fleet(EXAMPLE)
ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    problems = []
    context = pod.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"{field} set")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume['name']}: {sorted(kinds)} not allowed")
    containers = pod.get("initContainers", []) + pod["containers"]
    for container in containers:
        name = container["name"]
        own = container.get("securityContext") or {}
        if own.get("privileged"):
            problems.append(f"{name}: privileged")
        if own.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if own.get("runAsNonRoot", context.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if own.get("runAsUser", context.get("runAsUser")) == 0:
            problems.append(f"{name}: runAsUser 0")
        seccomp = (own.get("seccompProfile") or context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile {seccomp}")
        capabilities = own.get("capabilities") or {}
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            problems.append(f"{name}: hostPort")
    return problems


def _pods(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"])
        for doc in objects
        if doc["kind"] in ("StatefulSet", "Deployment", "DaemonSet", "Job")
    ]


def _with_monitor() -> Fleet:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["monitor"] = {"enabled": True, "region": "us-east5"}  # adds the monitor Deployment
    return parse_fleet(data)


@pytest.mark.parametrize("fleet", [FLEET, _with_monitor()], ids=["example", "with-monitor"])
def test_every_rendered_pod_passes_the_restricted_profile(fleet: Fleet) -> None:
    for region in fleet.regions:
        pods = _pods(region_manifests(fleet, region).resolved)
        assert len(pods) >= 2
        for name, pod in pods:
            assert restricted_violations(pod) == [], f"{region.name}: {name}"


def test_the_checker_catches_a_pod_without_a_security_context() -> None:
    """The pods as rendered before: no securityContext at all."""
    pod = {"containers": [{"name": "node", "image": "x"}]}
    problems = restricted_violations(pod)
    assert "node: allowPrivilegeEscalation is not false" in problems
    assert "node: runAsNonRoot is not true" in problems
    assert "node: capabilities do not drop ALL" in problems


@pytest.mark.parametrize("region", FLEET.region_names)
def test_no_rbac_that_no_pod_uses(region: str) -> None:
    objects = region_manifests(FLEET, FLEET.region(region)).resolved
    used_accounts = {pod.get("serviceAccountName", "default") for _, pod in _pods(objects)}
    bound_roles: set[tuple[str, str]] = set()
    for binding in (d for d in objects if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        subjects = {s["name"] for s in binding.get("subjects", []) if s["kind"] == "ServiceAccount"}
        assert subjects & used_accounts, f"{binding['metadata']['name']} binds no pod's account"
        bound_roles.add((binding["roleRef"]["kind"], binding["roleRef"]["name"]))
    for role in (d for d in objects if d["kind"] in ("Role", "ClusterRole")):
        assert (role["kind"], role["metadata"]["name"]) in bound_roles, role["metadata"]["name"]
    for account in (d for d in objects if d["kind"] == "ServiceAccount"):
        assert account["metadata"]["name"] in used_accounts, account["metadata"]["name"]
    for _, pod in _pods(objects):
        if pod.get("serviceAccountName") in ("broadcaster", "nats"):
            assert pod.get("automountServiceAccountToken") is False
