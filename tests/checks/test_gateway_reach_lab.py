"""verify mesh on the lab running examples/multicloud.yaml (two GKE regions on MCS, one EKS
region over a load balancer) and examples/do.yaml (two regions over NodePorts, 117 ms one
way): gateway-reach dials, from inside every region (a node's /api/diag/dial), the address
each peer outside MCS is reached at - in the lab the delay link standing for the node port
or load balancer - and names each region's mode; mcs-dns checks only the MCS pairs. A cut
link (the lab's linkd refuses new connections on it) fails the pair, naming the mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from checks_testkit import by_scope, cli, lab_fleet, running_lab, verify

pytestmark = pytest.mark.slow  # starts a lab

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GKE_A, GKE_B, EKS = "us-east5", "europe-west9", "us-west-2"


def verify_until(state_dir: Path, done: Callable[[dict[str, Any]], bool], *args: str) -> Any:
    deadline = time.monotonic() + 15
    while True:
        _, report = verify(state_dir, *args)
        if done(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


@pytest.fixture(scope="module")
def multicloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("multicloud-lab")
    fleet = lab_fleet(directory / "multicloud.yaml", base=EXAMPLES / "multicloud.yaml")
    with running_lab(fleet, directory / "state") as state_dir:
        yield state_dir


def test_mixed_fleet_passes_and_each_pair_is_checked_the_way_its_mode_needs(
    multicloud: Path,
) -> None:
    code, report = verify(multicloud)
    assert code == 0, [r for r in report["results"] if r["status"] == "fail"]
    reach = by_scope(report, "gateway-reach")
    outside = {f"{EKS}->{GKE_A}", f"{EKS}->{GKE_B}", f"{GKE_A}->{EKS}", f"{GKE_B}->{EKS}"}
    assert {s for s, r in reach.items() if r["status"] == "ok"} == outside
    assert (
        f"{GKE_A}'s gateway (mcs + loadBalancer) reachable" in reach[f"{EKS}->{GKE_A}"]["message"]
    )
    assert f"{EKS}'s gateway (loadBalancer) reachable" in reach[f"{GKE_A}->{EKS}"]["message"]
    assert reach[f"{EKS}->{GKE_A}"]["values"]["mode"] == "mcs + loadBalancer"
    dns = by_scope(report, "mcs-dns")
    assert dns[f"{GKE_A}->{GKE_B}"]["status"] == dns[f"{GKE_B}->{GKE_A}"]["status"] == "ok"
    assert (
        dns[EKS]["status"] == "skip"
        and "(loadBalancer) has no peer over MCS" in dns[EKS]["message"]
    )
    assert not any(EKS in scope for scope in dns if "->" in scope)


def test_a_cut_link_fails_gateway_reach_for_that_pair(multicloud: Path) -> None:
    assert (
        cli("lab", "fault", "cut-link", EKS, GKE_A, "--state-dir", str(multicloud)).returncode == 0
    )
    try:
        report = verify_until(
            multicloud,
            lambda r: by_scope(r, "gateway-reach")[f"{EKS}->{GKE_A}"]["status"] == "fail",
            "--check",
            "gateway-reach",
        )
    finally:
        healed = cli("lab", "fault", "heal-link", EKS, GKE_A, "--state-dir", str(multicloud))
        assert healed.returncode == 0
    reach = by_scope(report, "gateway-reach")
    failed = reach[f"{EKS}->{GKE_A}"]
    assert failed["status"] == "fail"
    assert failed["message"].startswith(f"{GKE_A}'s gateway (mcs + loadBalancer) unreachable: ")
    assert reach[f"{EKS}->{GKE_B}"]["status"] == "ok"


def test_node_port_fleet_passes_with_its_wan_latency(tmp_path: Path) -> None:
    fleet = lab_fleet(tmp_path / "do.yaml", base=EXAMPLES / "do.yaml")
    with running_lab(fleet, tmp_path / "state") as state_dir:
        code, report = verify(state_dir)
    assert code == 0, [r for r in report["results"] if r["status"] == "fail"]
    reach = by_scope(report, "gateway-reach")
    assert reach["nyc1->sgp1"]["status"] == reach["sgp1->nyc1"]["status"] == "ok"
    assert "sgp1's gateway (nodePort) reachable" in reach["nyc1->sgp1"]["message"]
    links = by_scope(report, "nats-gateways")
    rtt_ms = float(links["nyc1->sgp1"]["values"]["rtt_ms"])
    assert 234 <= rtt_ms < 260, rtt_ms  # 2 x 117 ms one way, as the lab emulates it
