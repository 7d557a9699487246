"""`bcastctl verify failover` on a real lab: every step breaks something real, every viewer
comes back by itself.

Its own lab (2 regions, 2 nodes each): the drill SIGKILLs the publisher's node, a
viewer's node and a region's NATS server, healing each before the next step. The CLI
runs as a user runs it (a new process): JSON envelope on stdout, JUnit file, exit code.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit import cli, running_lab, small_fleet

from bcastctl.drills import STEPS
from bcastctl.node.settings import NodeSettings

pytestmark = pytest.mark.slow
PEER_TIMEOUT_S = NodeSettings.peer_timeout_s.default  # the lab runs nodes with the default
HEARTBEAT_S = NodeSettings.heartbeat_interval_s.default


@pytest.fixture(scope="module")
def drill_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("failover")
    fleet = small_fleet(base / "fleet.yaml", replicas=2, one_way_ms=20)
    with running_lab(fleet, base / "state") as lab:
        yield base / "state", lab


def test_every_viewer_recovers_from_each_fault_by_itself(
    drill_lab: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    state_dir, _ = drill_lab
    junit = tmp_path / "failover.xml"
    run = cli(
        "-o", "json", "verify", "failover", "--junit-file", str(junit),
        state_dir=state_dir, timeout=240,
    )  # fmt: skip
    print(run.stderr)
    assert run.returncode == 0, run.stderr
    envelope = json.loads(run.stdout)
    assert envelope["kind"] == "FailoverReport"
    results = envelope["result"]["results"]
    for result in results:
        print(f"{result['scope']}: {result['status']}: {result['message']}")
        for move in result["values"]["moves"]:
            print(f"    {move}")
    assert [r["scope"] for r in results] == list(STEPS)
    assert all(r["status"] == "ok" for r in results), results
    by_step = {r["scope"]: r["values"] for r in results}
    # a dead holder stops the stream for every viewer; the publisher's new claim waits for
    # the old one to expire (one peer timeout after the dead node's last beat, which went out
    # up to one heartbeat interval before the kill); the viewers keep their sessions meanwhile
    killed_holder = by_step["kill-publisher-node"]
    assert killed_holder["affected"] == 2
    expiry_s = PEER_TIMEOUT_S - HEARTBEAT_S
    assert expiry_s <= killed_holder["recovery_p50_s"] <= PEER_TIMEOUT_S + 3
    assert killed_holder["frames_lost"] > 0
    assert all("same session" in move for move in killed_holder["moves"])
    # a viewer's node and a region's NATS: the viewers there moved to another node
    # (which viewers watch where by then depends on the earlier elections)
    for step in ("kill-viewer-node", "kill-region-nats"):
        values = by_step[step]
        assert 1 <= values["affected"] <= 2, values
        assert values["manual_action"] == "none"
        assert all(" -> " in move for move in values["moves"]), values
    suites = ET.parse(junit).getroot()
    assert suites.get("tests") == "3" and suites.get("failures") == "0"
    assert "kill-region-nats: NATS of" in run.stderr  # progress, on stderr
    assert "token" not in run.stdout.lower() + run.stderr.lower()


def test_a_bound_no_viewer_can_meet_fails_the_drill(
    drill_lab: tuple[Path, dict[str, Any]],
) -> None:
    state_dir, _ = drill_lab
    run = cli(
        "verify", "failover", "--step", "kill-viewer-node", "--max-recovery", "100ms",
        state_dir=state_dir, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "kill-viewer-node" in run.stdout and "late:" in run.stdout
