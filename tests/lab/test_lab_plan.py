"""The lab's address plan and prefix claims (no processes), and the TURN-off wording."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from rich.console import Console

from bcastctl.errors import UsageError
from bcastctl.fleet import Fleet, load_fleet
from bcastctl.lab import addresses
from bcastctl.lab.status import LabStatus
from bcastctl.lab.turn import NOT_INSTALLED
from bcastctl.lab.view import lab_status_view
from bcastctl.lab.workloads import load_objects
from bcastctl.model import replace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lab.yaml"


def _shapes(fleet: Fleet) -> list[addresses.RegionShape]:
    """What render ships for the fleet, as the lab plans it (pods and rendered ports)."""
    return load_objects(fleet, None)[1]


def test_every_node_and_link_has_its_own_address_under_the_prefix() -> None:
    fleet = load_fleet(EXAMPLE)
    plan = addresses.plan_lab(fleet, _shapes(fleet), "127.231")
    endpoints = plan.endpoints(with_nodes=True, with_turn=True)
    assert len(endpoints) == len(set(endpoints))
    assert all(host.startswith("127.231.") for _, host, _ in endpoints)
    nodes = [node for region in plan.regions for node in region.nodes]
    assert len({node.address for node in nodes}) == len(nodes) == 6
    pairs = {(link.from_region, link.to_region) for r in plan.regions for link in r.links}
    assert len(pairs) == 6  # every ordered pair: each region dials every other one
    us = plan.regions[0]
    assert [link.one_way_ms for link in us.links] == [42, 110]
    # pods by their StatefulSet names, ports as rendered
    assert [node.name for node in us.nodes] == ["us-east5-broadcaster-0", "us-east5-broadcaster-1"]
    assert (us.client_port, us.gateway_port, us.monitor_port) == (4222, 7222, 8222)


def test_a_prefix_is_claimed_by_one_state_dir_at_a_time(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    try:
        assert addresses.claim_prefix("127.232", one)
        assert addresses.claim_prefix("127.232", one)  # the same lab again: still its own
        assert not addresses.claim_prefix("127.232", two)
        addresses.release_prefix("127.232", two)  # not the owner: no effect
        assert not addresses.claim_prefix("127.232", two)
        addresses.release_prefix("127.232", one)
        assert addresses.claim_prefix("127.232", two)
    finally:
        addresses.release_prefix("127.232", one)
        addresses.release_prefix("127.232", two)


def test_a_busy_address_moves_the_lab_to_the_next_prefix(tmp_path: Path) -> None:
    fleet = load_fleet(EXAMPLE)
    fleet = replace(fleet, lab=replace(fleet.lab, loopback_prefix="127.233"))
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    plan = None
    try:
        squatter.bind(("127.233.0.53", addresses.DNS_PORT))
        plan, skipped = addresses.choose_plan(
            fleet, _shapes(fleet), tmp_path, with_nodes=True, with_turn=True
        )
        assert plan.prefix == "127.234"
        assert skipped == [f"127.233 (udp 127.233.0.53:{addresses.DNS_PORT} in use)"]
    finally:
        squatter.close()
        if plan is not None:
            addresses.release_prefix(plan.prefix, tmp_path)


def test_too_many_nodes_for_one_region_is_a_usage_error(tmp_path: Path) -> None:
    fleet = load_fleet(EXAMPLE)
    # a copy is checked like a loaded fleet: no latency to the regions left out
    big = replace(
        fleet,
        regions=[replace(fleet.regions[0], replicas=81)],
        lab=replace(fleet.lab, latency=[]),
    )
    with pytest.raises(UsageError, match="region us-east5: StatefulSet us-east5-broadcaster"):
        addresses.choose_plan(big, _shapes(big), tmp_path, with_nodes=True, with_turn=True)


def test_status_says_plainly_when_turn_is_not_installed() -> None:
    status = LabStatus(
        state_dir="/x", fleet_name="f", fleet_path="/f.yaml", loopback_prefix="127.77",
        ready_after_s=1.0, dns_address="127.77.0.53:5353", dns_running=True,
        turn_address=None, turn_running=False, turn_note=NOT_INSTALLED, linkd_running=True,
        regions=[], problems=[],
    )  # fmt: skip
    console = Console(file=io.StringIO(), width=200, no_color=True)
    console.print(lab_status_view(status))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "TURN off: turnserver (coturn) is not installed" in text
    assert "apt-get install -y coturn" in text
