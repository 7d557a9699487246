"""A rendered container as a lab process: its argv and environment, resolved as a kubelet would.

- `command`/`args`: the image's entrypoint (a substitution: the local binary) + args.
- `env`: `value` as rendered; `fieldRef` filled per pod (metadata.name, metadata.namespace,
  status.podIP); `secretKeyRef` kept as a reference ("name/key") that `lab up` fills from
  its secrets file into the environment only; `configMapKeyRef` from the rendered
  ConfigMap. What the lab cannot fill is reported, never silently dropped.
- `HOSTNAME` is the pod name, as in a pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bcastctl.lab.rendered import RegionObjects, Workload
from bcastctl.targets.lab_state import LabDifference


@dataclass(frozen=True)
class Pod:
    """One replica of a workload, at its lab address."""

    workload: Workload
    ordinal: int
    address: str  # its loopback address (the pod IP)
    namespace: str

    @property
    def name(self) -> str:
        return self.workload.pod_name(self.ordinal)


@dataclass
class ProcessSpec:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)  # variable -> "name/key"
    differences: list[LabDifference] = field(default_factory=list)


def mount_volumes(workload: Workload, root: Path, files: dict[str, str]) -> dict[str, str]:
    """Make the pod's volumes under `root` (ConfigMap files written, emptyDirs created).

    Returns mountPath -> lab directory, for `rewrite_paths`.
    """
    volumes = {v["name"]: v for v in workload.pod_spec.get("volumes") or []}
    mounts = {}
    for mount in workload.container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"], {})
        if "configMap" in volume or "emptyDir" in volume:
            path = str(mount["mountPath"])
            target = root / path.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            mounts[path] = str(target)
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return mounts


def rewrite_paths(args: list[str], mounts: dict[str, str]) -> list[str]:
    """Arguments naming a path in a mounted volume -> the same path in the lab directory."""
    rewritten = []
    for arg in args:
        for path, lab in sorted(mounts.items(), key=lambda item: -len(item[0])):
            if arg == path or arg.startswith(path.rstrip("/") + "/"):
                arg = lab + arg[len(path.rstrip("/")) :]
                break
        rewritten.append(arg)
    return rewritten


def _field_value(pod: Pod, path: str) -> str | None:
    return {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "status.podIP": pod.address,
        "status.podIPs": pod.address,
    }.get(path)


def container_env(objects: RegionObjects, pod: Pod) -> ProcessSpec:
    """The container's environment (argv left empty: see `container_argv`)."""
    spec = ProcessSpec(argv=[], env={"HOSTNAME": pod.name})
    container = pod.workload.container
    where = f"StatefulSet {pod.workload.name} env"
    for entry in container.get("env") or []:
        name, source = str(entry["name"]), entry.get("valueFrom")
        if source is None:
            spec.env[name] = str(entry.get("value", ""))
        elif "fieldRef" in source:
            value = _field_value(pod, source["fieldRef"]["fieldPath"])
            if value is None:
                spec.differences.append(_not_honoured(objects, f"{where} {name}", source))
            else:
                spec.env[name] = value
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            spec.secret_env[name] = f"{ref['name']}/{ref.get('key', 'secret')}"
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            spec.env[name] = objects.config_map(ref["name"])[ref["key"]]
        else:
            spec.differences.append(_not_honoured(objects, f"{where} {name}", source))
    if container.get("envFrom"):
        spec.differences.append(
            _not_honoured(objects, f"StatefulSet {pod.workload.name} envFrom", container["envFrom"])
        )
    return spec


def _not_honoured(objects: RegionObjects, where: str, rendered: object) -> LabDifference:
    return LabDifference(
        kind="not honoured",
        region=objects.region,
        where=where,
        rendered=str(rendered),
        lab="",
        why="the lab cannot fill this kind of value",
    )


# What a pod has that a lab process does not; reported once per workload.
_POD_FIELDS = (
    "affinity",
    "topologySpreadConstraints",
    "tolerations",
    "nodeSelector",
    "securityContext",
    "serviceAccountName",
    "terminationGracePeriodSeconds",
    "initContainers",
)
_CONTAINER_FIELDS = (
    "resources",
    "readinessProbe",
    "livenessProbe",
    "startupProbe",
    "securityContext",
    "lifecycle",
)


def workload_not_honoured(objects: RegionObjects, workload: Workload) -> list[LabDifference]:
    """The pod and container fields a lab process cannot honour, named one by one."""
    found = []
    for key in _POD_FIELDS:
        if key in workload.pod_spec:
            found.append((f"pod spec.{key}", workload.pod_spec[key]))
    for container in (workload.pod_spec.get("containers") or [])[1:]:
        found.append((f"container {container.get('name')}", "(sidecar not run)"))
    for key in _CONTAINER_FIELDS:
        if key in workload.container:
            found.append((f"container {key}", workload.container[key]))
    for volume in workload.pod_spec.get("volumes") or []:
        if "configMap" not in volume and "emptyDir" not in volume:
            found.append((f"volume {volume.get('name')}", volume))
    why = {
        "container readinessProbe": "the lab waits on its own readiness (gateways, membership)",
        "container lifecycle": "the lab stops processes with SIGTERM, then SIGKILL",
    }
    return [
        LabDifference(
            kind="not honoured",
            region=objects.region,
            where=f"StatefulSet {workload.name} {where}",
            rendered=_short(rendered),
            lab="",
            why=why.get(where, "a lab process has no pod around it"),
        )
        for where, rendered in found
    ]


def _short(value: object, limit: int = 120) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def objects_not_run(objects: RegionObjects, run: set[str]) -> list[LabDifference]:
    """Every object the lab does not run itself (by kind/name), with what stands in for it."""
    stand_ins = {
        "Service": "lab addresses and the lab DNS server",
        "ServiceExport": "the lab DNS server answers clusterset names",
        "Gateway": "coturn on the lab TURN address",
        "GatewayConfig": "coturn with the same auth (TURN REST secret, realm)",
        "GatewayClass": "coturn",
        "UDPRoute": "coturn relays to any lab address",
    }
    found = []
    for doc in objects.objects:
        key = f"{doc['kind']} {doc.get('metadata', {}).get('name', '?')}"
        if key in run:
            continue
        stand_in = stand_ins.get(doc["kind"], "")
        found.append(
            LabDifference(
                kind="substituted" if stand_in else "not honoured",
                region=objects.region,
                where=key,
                rendered=doc.get("apiVersion", ""),
                lab=stand_in,
                why="" if stand_in else "no Kubernetes API in the lab: not enforced",
            )
        )
    return found
