"""probe rtt with parts of the fleet missing: no crash, gaps named, exit 4 when nothing answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from checks_testkit import NatsRegions

from bcastctl.errors import ExitCode
from bcastctl.probes.rtt import RttOptions, probe_rtt
from bcastctl.readers.nats import NOT_MEASURED
from bcastctl.targets.lab import LabTarget

pytestmark = pytest.mark.slow  # starts NATS servers


@pytest.fixture
def nats_only(tmp_path: Path) -> Iterator[NatsRegions]:
    """Two regions with NATS but no broadcaster node."""
    regions = NatsRegions.start(tmp_path, ["east", "west"])
    try:
        yield regions
    finally:
        regions.stop()


async def test_regions_without_nodes_are_full_loss_with_the_reason(nats_only: NatsRegions) -> None:
    target = LabTarget(nats_only.lab_state(), nats_only.fleet())
    try:
        report = await probe_rtt(target, RttOptions(samples=2, max_rtt_ms=500))
    finally:
        await target.close()
    assert [p.error for p in report.pairs] == ["no running node in east", "no running node in west"]
    assert all(p.stats.loss_pct == 100 for p in report.pairs)
    # NATS still answers: each link's RTT is there, or not measured yet (nats-server says 0
    # until its first PING on the link, ~1 s after it connects), never "not answering"
    assert all(
        (p.gateway_rtt_ms or 0) > 0 or p.gateway_rtt_note == NOT_MEASURED for p in report.pairs
    ), [(p.gateway_rtt_ms, p.gateway_rtt_note) for p in report.pairs]
    assert report.election.winner is None and set(report.election.why_not) == {"east", "west"}
    assert report.exit_code == ExitCode.CHECKS_FAILED  # every sample lost counts as over


async def test_nothing_reachable_is_exit_4(nats_only: NatsRegions) -> None:
    state = nats_only.lab_state()
    nats_only.stop()
    target = LabTarget(state, nats_only.fleet())
    try:
        report = await probe_rtt(target, RttOptions(samples=2))
    finally:
        await target.close()
    assert report.exit_code == ExitCode.UNREACHABLE
    assert set(report.unreachable_regions) == {"east", "west"} and report.pairs == []
