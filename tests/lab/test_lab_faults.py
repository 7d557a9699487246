"""`bcastctl lab fault ...`: each fault's effect on NATS monitoring and node membership."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit import (
    cli,
    connected_gateways,
    full_mesh,
    http_json,
    members,
    running_lab,
    small_fleet,
    wait_for,
)

pytestmark = pytest.mark.slow


def _region(lab: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in lab["state"]["regions"] if r["name"] == name)


def _rtt_ms(monitor_url: str, other: str) -> float:
    rtt = http_json(f"{monitor_url}/gatewayz")["outbound_gateways"][other]["connection"]["rtt"]
    value, unit = re.fullmatch(r"([\d.]+)(ms|s|µs)", rtt).groups()  # type: ignore[union-attr]
    return float(value) * {"ms": 1.0, "s": 1000.0, "µs": 0.001}[unit]


@pytest.fixture
def healed(lab_dir: Path) -> Iterator[list[tuple[str, str]]]:
    """Links a test breaks; healed afterwards even if the test fails."""
    broken: list[tuple[str, str]] = []
    yield broken
    for a, b in broken:
        cli("lab", "fault", "heal-link", a, b, "--state-dir", str(lab_dir))


def test_cut_link_partitions_both_ways_and_heal_restores_full_mesh(
    lab: dict[str, Any], lab_dir: Path, healed: list[tuple[str, str]]
) -> None:
    us, eu = _region(lab, "us-east5"), _region(lab, "europe-west9")
    healed.append(("us-east5", "europe-west9"))
    cut = cli("lab", "fault", "cut-link", "us-east5", "europe-west9", "--state-dir", str(lab_dir))
    assert cut.returncode == 0, cut.stderr
    wait_for(
        "us-east5 to lose europe-west9 both ways",
        lambda: connected_gateways(us["nats_monitor_url"]) == ({"asia-southeast1"},) * 2,
        timeout=5,
    )
    assert connected_gateways(eu["nats_monitor_url"]) == ({"asia-southeast1"},) * 2
    # NATS gateways do not relay through a third region: the nodes partition too.
    us_node = us["nodes"][0]
    expected = {
        "us-east5-broadcaster-1",
        "asia-southeast1-broadcaster-0",
        "asia-southeast1-broadcaster-1",
    }
    wait_for("membership partition", lambda: members(us_node["admin_url"]) == expected, 10)
    status = cli("lab", "status", "--state-dir", str(lab_dir))
    assert status.returncode == 1
    assert "gateway us-east5->europe-west9 down" in status.stdout
    assert "link us-east5->europe-west9 is cut" in status.stdout

    heal = cli("lab", "fault", "heal-link", "us-east5", "europe-west9", "--state-dir", str(lab_dir))
    assert heal.returncode == 0, heal.stderr
    wait_for("full mesh after heal", lambda: full_mesh(lab["state"]), timeout=20)
    assert cli("lab", "status", "--state-dir", str(lab_dir)).returncode == 0


def test_slow_link_raises_gateway_rtt_and_heal_restores_it(
    lab: dict[str, Any], lab_dir: Path, healed: list[tuple[str, str]]
) -> None:
    us = _region(lab, "us-east5")
    healed.append(("us-east5", "asia-southeast1"))
    slow = cli(
        "lab", "fault", "slow-link", "us-east5", "asia-southeast1", "--ms", "150",
        "--state-dir", str(lab_dir),
    )  # fmt: skip
    assert slow.returncode == 0, slow.stderr
    # NATS re-measures gateway RTT on each ping (every 2 s in the lab)
    wait_for(
        "gateway RTT ~300 ms",
        lambda: 298 <= _rtt_ms(us["nats_monitor_url"], "asia-southeast1") <= 315,
        timeout=10,
    )
    heal = cli(
        "lab", "fault", "heal-link", "us-east5", "asia-southeast1", "--state-dir", str(lab_dir)
    )
    assert heal.returncode == 0
    wait_for(
        "gateway RTT back to ~220 ms",
        lambda: 218 <= _rtt_ms(us["nats_monitor_url"], "asia-southeast1") <= 235,
        timeout=10,
    )


def test_kill_node_and_kill_nats(tmp_path: Path) -> None:
    """Destructive faults on a lab of their own (2 regions, 1 node each)."""
    fleet = small_fleet(tmp_path / "fleet.yaml")
    state_dir = tmp_path / "state"
    with running_lab(fleet, state_dir) as up:
        east, west = up["state"]["regions"]
        west_node = west["nodes"][0]
        assert members(west_node["admin_url"]) == {"east-broadcaster-0"}

        killed = cli(
            "lab", "fault", "kill-node", "east-broadcaster-0", "--state-dir", str(state_dir)
        )
        assert killed.returncode == 0, killed.stderr
        wait_for(
            "west-broadcaster-0 to drop east-broadcaster-0",
            lambda: members(west_node["admin_url"]) == set(),
            10,
        )
        status = cli("lab", "status", "--state-dir", str(state_dir))
        assert status.returncode == 1 and "node east-broadcaster-0 is not running" in status.stdout

        killed = cli("lab", "fault", "kill-nats", "west", "--state-dir", str(state_dir))
        assert killed.returncode == 0, killed.stderr
        wait_for(
            "east to lose the west gateway",
            lambda: connected_gateways(east["nats_monitor_url"]) == (set(), set()),
            timeout=5,
        )
        status = cli("lab", "status", "--state-dir", str(state_dir))
        assert "NATS west is not running" in status.stdout
        again = cli("lab", "fault", "kill-nats", "west", "--state-dir", str(state_dir))
        assert again.returncode == 1 and "not running" in again.stderr

        # and back: the lab recovers to a full mesh
        for fault, name in (("restart-nats", "west"), ("restart-node", "east-broadcaster-0")):
            restarted = cli("lab", "fault", fault, name, "--state-dir", str(state_dir))
            assert restarted.returncode == 0, restarted.stderr
        wait_for("full mesh after restarts", lambda: full_mesh(up["state"]), timeout=20)
        # a restarted node answers /readyz once its membership converged: maybe a poll later
        healthy = lambda: cli("lab", "status", "--state-dir", str(state_dir)).returncode == 0  # noqa: E731
        wait_for("lab status healthy after restarts", healthy, timeout=10)
        running = cli(
            "lab", "fault", "restart-node", "east-broadcaster-0", "--state-dir", str(state_dir)
        )
        assert running.returncode == 1 and "is running" in running.stderr
