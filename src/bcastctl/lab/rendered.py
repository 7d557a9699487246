"""The rendered objects the lab runs: from render (the fleet) or a render output directory.

The lab reads the objects the way a kubelet meets them: the NATS and broadcaster
StatefulSets (found by their `app.kubernetes.io/name` pod label), their first
container, the ConfigMaps their volumes mount, the Services that select them, the
STUNner GatewayConfig and Gateway. Everything else is listed by `not_run` so the
lab can report it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bcastctl.errors import ConfigError
from bcastctl.fleet import Fleet

Manifest = dict[str, Any]

NAME_LABEL = "app.kubernetes.io/name"
NATS_APP = "nats"
NODE_APP = "broadcaster"


@dataclass(frozen=True)
class Workload:
    """A StatefulSet the lab runs as `replicas` processes (one per pod)."""

    name: str
    replicas: int
    service_name: str
    pod_labels: dict[str, str]
    pod_spec: Manifest
    container: Manifest

    def pod_name(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}"

    def container_port(self, name: str) -> int | None:
        for port in self.container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
        return None


@dataclass(frozen=True)
class RegionObjects:
    region: str
    source: str  # where they came from, for messages
    objects: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [doc for doc in self.objects if doc.get("kind") == kind]

    def workload(self, app: str) -> Workload:
        for doc in self.of_kind("StatefulSet"):
            template = doc["spec"]["template"]
            labels = template.get("metadata", {}).get("labels", {})
            if labels.get(NAME_LABEL) == app:
                containers = template["spec"].get("containers") or []
                if not containers:
                    raise ConfigError(f"{self.source}: StatefulSet {_name(doc)} has no container")
                return Workload(
                    name=_name(doc),
                    replicas=int(doc["spec"].get("replicas", 1)),
                    service_name=str(doc["spec"].get("serviceName", "")),
                    pod_labels=dict(labels),
                    pod_spec=template["spec"],
                    container=containers[0],
                )
        raise ConfigError(
            f"{self.source}: no StatefulSet with pod label {NAME_LABEL}={app} "
            f"(region {self.region})"
        )

    def config_map(self, name: str) -> dict[str, str]:
        for doc in self.of_kind("ConfigMap"):
            if _name(doc) == name:
                return {str(k): str(v) for k, v in (doc.get("data") or {}).items()}
        raise ConfigError(f"{self.source}: ConfigMap {name} is mounted but not rendered")

    def mounted_files(self, workload: Workload) -> dict[str, str]:
        """Path inside the container -> content, for every ConfigMap volume it mounts."""
        volumes = {v["name"]: v for v in workload.pod_spec.get("volumes") or []}
        files: dict[str, str] = {}
        for mount in workload.container.get("volumeMounts") or []:
            source = volumes.get(mount["name"], {}).get("configMap")
            if source is None:
                continue
            data = self.config_map(source["name"])
            items = source.get("items") or [{"key": key, "path": key} for key in data]
            for item in items:
                path = f"{mount['mountPath'].rstrip('/')}/{item['path']}"
                if "subPath" in mount:
                    path = mount["mountPath"] if item["path"] == mount["subPath"] else ""
                if path:
                    files[path] = data[item["key"]]
        return files

    def services_selecting(self, workload: Workload) -> list[Manifest]:
        found = []
        for doc in self.of_kind("Service"):
            selector = (doc.get("spec") or {}).get("selector") or {}
            if selector and all(workload.pod_labels.get(k) == v for k, v in selector.items()):
                found.append(doc)
        return found

    def secret_refs(self) -> set[str]:
        """Every Secret reference ("name/key") in the objects: env of any container, auth refs."""
        refs: set[str] = set()
        for doc in self.objects:
            _collect_refs(doc, refs)
        return refs


def _name(doc: Manifest) -> str:
    return str(doc.get("metadata", {}).get("name", "?"))


def _collect_refs(node: Any, refs: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("secretKeyRef")
        if isinstance(ref, dict) and "name" in ref:
            refs.add(f"{ref['name']}/{ref.get('key', 'secret')}")
        auth = node.get("authRef")
        if isinstance(auth, dict) and "name" in auth:
            # STUNner reads the TURN REST secret from the key `secret` (stunner docs/AUTH.md)
            refs.add(f"{auth['name']}/secret")
        for value in node.values():
            _collect_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, refs)


def from_fleet(fleet: Fleet) -> list[RegionObjects]:
    """What render produces for every region of the fleet (what deploy applies)."""
    from bcastctl.render.manifests import region_manifests

    return [
        RegionObjects(
            region.name, f"rendered region {region.name}", region_manifests(fleet, region).resolved
        )
        for region in fleet.regions
    ]


def from_directory(fleet: Fleet, directory: Path) -> list[RegionObjects]:
    """The objects of a render output directory (DIR/resolved/<region>.yaml per fleet region)."""
    loaded = []
    for region in fleet.region_names:
        path = directory / "resolved" / f"{region}.yaml"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{path}: not found (a render output directory has resolved/<region>.yaml)",
                hint=f"bcastctl render --out {directory}",
            ) from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
        try:
            docs = [doc for doc in yaml.safe_load_all(text) if doc]
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from e
        if not all(isinstance(doc, dict) and "kind" in doc for doc in docs):
            raise ConfigError(f"{path}: expected Kubernetes objects (mappings with a kind)")
        loaded.append(RegionObjects(region, str(path), docs))
    return loaded
