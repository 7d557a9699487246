"""`verify failover` on a real lab: every step breaks something real, every viewer comes back.

Its own lab (2 regions, 2 nodes each): the drill SIGKILLs the publisher's node, a
viewer's node and a region's NATS server, healing each before the next step.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit import running_lab, small_fleet

from bcastctl.drills.failover import STEPS, FailoverOptions, run_failover
from bcastctl.node.settings import NodeSettings
from bcastctl.targets.lab import LabTarget

pytestmark = pytest.mark.slow
PEER_TIMEOUT_S = NodeSettings.peer_timeout_s.default  # the lab runs nodes with the default


@pytest.fixture(scope="module")
def drill_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("failover")
    fleet = small_fleet(base / "fleet.yaml", replicas=2, one_way_ms=20)
    with running_lab(fleet, base / "state") as lab:
        yield base / "state", lab


async def test_every_viewer_recovers_from_each_fault_by_itself(
    drill_lab: tuple[Path, dict[str, Any]],
) -> None:
    state_dir, _ = drill_lab
    target = LabTarget.from_state_dir(state_dir)
    try:
        report = await run_failover(target, FailoverOptions(max_recovery_s=PEER_TIMEOUT_S + 3))
    finally:
        await target.close()
    for result in report.results:
        print(f"\n{result.scope}: {result.status.value}: {result.message}")
        for move in result.values["moves"] or []:
            print(f"    {move}")
    assert [r.scope for r in report.results] == list(STEPS)
    assert all(r.status.value == "ok" for r in report.results), report.results
    assert report.exit_code == 0
    by_step = {r.scope: r.values for r in report.results}
    # a dead holder stops the stream for every viewer; the publisher's new claim waits for
    # the old one to expire (one peer timeout), so nobody is back before that
    killed_holder = by_step["kill-publisher-node"]
    assert killed_holder["affected"] == 2
    assert PEER_TIMEOUT_S <= killed_holder["recovery_p50_s"] <= PEER_TIMEOUT_S + 3
    assert killed_holder["frames_lost"] > 0
    # a viewer's node and a region's NATS: the viewers there moved to another node
    # (which viewers watch where by then depends on the earlier elections)
    for step in ("kill-viewer-node", "kill-region-nats"):
        values = by_step[step]
        assert 1 <= values["affected"] <= 2, values
        assert values["manual_action"] == "none"
        assert all(" -> " in move for move in values["moves"]), values
