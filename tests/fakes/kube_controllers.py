"""What the fake clusters' controllers write: StatefulSet, Gateway and Pod status.

`Workloads` is the test's knob: which StatefulSets never become ready (by name or by
image), whether STUNner Gateways get an address, and the pod IP pods report.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from typing import Any

import attrs

Obj = dict[str, Any]


@attrs.define
class Workloads:
    """What the fake controller does with workloads: the test's knob."""

    not_ready: set[str] = attrs.field(factory=set)  # StatefulSet names that never become ready
    not_ready_images: set[str] = attrs.field(factory=set)  # ...or any with one of these images
    gateway_address: str | None = "203.0.113.10"  # None: the Gateway gets no address
    pod_ip: str = "127.0.0.1"

    def ready(self, sts: Obj) -> bool:
        images = {c.get("image") for c in _containers(sts)}
        return sts["metadata"]["name"] not in self.not_ready and not (
            images & self.not_ready_images
        )


def _containers(sts: Obj) -> list[Obj]:
    return list(sts.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []))


def partition(sts: Obj) -> int:
    """The RollingUpdate partition: pods with a lower ordinal keep the current revision."""
    strategy = sts.get("spec", {}).get("updateStrategy") or {}
    return int((strategy.get("rollingUpdate") or {}).get("partition", 0))


def revision_of(sts: Obj) -> str:
    """The controller revision of the StatefulSet's template (named after the set)."""
    template = json.dumps(sts.get("spec", {}).get("template", {}), sort_keys=True).encode()
    return f"{sts['metadata']['name']}-{hashlib.sha256(template).hexdigest()[:10]}"


def statefulset_status(sts: Obj, ready: bool) -> Obj:
    spec = sts.get("spec", {})
    replicas = int(spec.get("replicas", 1))
    revision = revision_of(sts)
    old = sts.get("status", {})
    held = min(replicas, partition(sts))  # pods below the partition keep the old revision
    if held and old.get("currentRevision") in (None, "", revision):
        held = 0  # nothing older to keep (first rollout, or already at this revision)
    done = ready and not held
    return {
        "observedGeneration": sts["metadata"]["generation"],
        "replicas": replicas,
        "readyReplicas": replicas if ready else 0,
        "availableReplicas": replicas if ready else 0,
        "updatedReplicas": replicas - held if ready else 0,
        "currentReplicas": replicas if ready else old.get("currentReplicas", 0),
        "currentRevision": revision if done else old.get("currentRevision", ""),
        "updateRevision": revision,
    }


def gateway_status(gateway: Obj, default_address: str | None) -> Obj:
    addresses = gateway.get("spec", {}).get("addresses") or (
        [{"type": "IPAddress", "value": default_address}] if default_address else []
    )
    programmed = "True" if addresses else "False"
    return {
        "addresses": addresses,
        "conditions": [
            {"type": "Accepted", "status": "True", "reason": "Accepted"},
            {
                "type": "Programmed",
                "status": programmed,
                "reason": "Programmed" if addresses else "AddressNotAssigned",
            },
        ],
    }


def httproute_status(route: Obj) -> Obj:
    """What the GKE Gateway controller reports for a route it accepted."""
    conditions = [
        {"type": kind, "status": "True", "reason": kind} for kind in ("Accepted", "ResolvedRefs")
    ]
    return {
        "parents": [
            {
                "parentRef": parent,
                "controllerName": "networking.gke.io/gateway",
                "conditions": conditions,
            }
            for parent in route.get("spec", {}).get("parentRefs", [])
        ]
    }


def pod_manifest(sts: Obj, name: str, ready: bool, pod_ip: str, created: str) -> Obj:
    """A pod of the StatefulSet; like the real controller, it labels the pod with the
    revision it was made from (`controller-revision-hash`, k8s.io/api apps/v1 types.go
    ControllerRevisionHashLabelKey)."""
    template = sts.get("spec", {}).get("template", {})
    labels = dict(template.get("metadata", {}).get("labels", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": sts["metadata"].get("namespace"),
            "labels": {**labels, "controller-revision-hash": revision_of(sts)},
            "uid": str(uuid.uuid4()),
            "creationTimestamp": created,
        },
        "spec": copy.deepcopy(template.get("spec", {})),
        "status": {
            "phase": "Running",
            "podIP": pod_ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
