"""What each target offers beyond endpoints, by capability protocol (no cluster, no lab)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bcastctl.errors import UsageError
from bcastctl.fleet import parse_fleet
from bcastctl.targets.capabilities import emulated_latency, kube_access, whip_token_source
from bcastctl.targets.kube import KubeTarget
from bcastctl.targets.lab import LabTarget
from bcastctl.targets.lab_state import DnsState, LabState, LinkdState, TurnState

FLEET = parse_fleet(
    {"name": "caps", "image": "bcast-node:test",
     "regions": [{"name": "a", "geo": {"lat": 0, "lon": 0}, "replicas": 1}]}
)  # fmt: skip


def lab_target(tmp_path: Path) -> LabTarget:
    state = LabState(
        fleet_name="caps", namespace="broadcaster", fleet_path=str(tmp_path / "fleet.yaml"),
        state_dir=str(tmp_path), loopback_prefix="127.0",
        secrets_file=str(tmp_path / "secrets.json"), started_at=time.time(),
        ready_after_s=None, regions=[], dns=DnsState(address="127.0.0.1:1", pid=None, domains=[]),
        turn=TurnState(address=None, urls=[], realm=None, pid=None, reason="none"),
        linkd=LinkdState(pid=None, control_socket=""), processes=[],
    )  # fmt: skip
    return LabTarget(state, FLEET)


def test_the_lab_knows_its_token_and_latency_and_has_no_kubernetes(tmp_path: Path) -> None:
    lab = lab_target(tmp_path)
    assert whip_token_source(lab) is lab
    assert emulated_latency(lab) is lab
    with pytest.raises(UsageError, match="the lab target has no Kubernetes API"):
        kube_access(lab)


def test_clusters_offer_kubernetes_and_nothing_the_lab_knows() -> None:
    kube = KubeTarget(FLEET)
    assert kube_access(kube) is kube
    assert whip_token_source(kube) is None
    assert emulated_latency(kube) is None
