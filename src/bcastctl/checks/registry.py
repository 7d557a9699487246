"""Every check, in report order. Adding a check: one file plus one line here.

Entries are "module:Class" so that `bcastctl --help` imports none of them and a
kube-only check's imports cost nothing on the lab.
"""

from __future__ import annotations

import importlib
from typing import Final

from bcastctl.checks.base import Check

CHECKS: Final[tuple[str, ...]] = (
    # kube only (targets/kube.py): cluster, workloads, STUNner, MCS objects
    "bcastctl.checks.kube_cluster:KubeCluster",
    "bcastctl.checks.kube_workloads:KubeWorkloads",
    "bcastctl.checks.kube_stunner:KubeStunnerGateway",
    "bcastctl.checks.kube_mcs:KubeMcsExports",
    "bcastctl.checks.kube_flows:KubeFlows",
    "bcastctl.checks.kube_signalling:KubeSignallingEntry",
    # every target
    "bcastctl.checks.mcs_dns:McsDns",
    "bcastctl.checks.gateway_reach:GatewayReach",
    "bcastctl.checks.nats_gateways:NatsGateways",
    "bcastctl.checks.nats_peers:NatsPeers",
    "bcastctl.checks.membership:MembershipCheck",
    "bcastctl.checks.stream_registry:StreamRegistry",
    "bcastctl.checks.placement:PlacementCheck",
    "bcastctl.checks.turn:Turn",
    "bcastctl.checks.media:Media",
)


def load_checks() -> list[Check]:
    """One instance of every registered check, in report order."""
    checks: list[Check] = []
    for entry in CHECKS:
        module_name, _, class_name = entry.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        if not (isinstance(cls, type) and issubclass(cls, Check)):
            raise TypeError(f"{entry} is not a Check")
        checks.append(cls())
    return checks
