"""nats-gateways and the runner against real nats-server processes (no nodes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from checks_testkit import NatsRegions, wait_for

from bcastctl.checks.base import Status
from bcastctl.checks.nats_gateways import NatsGateways
from bcastctl.checks.runner import RunOptions, run_checks
from bcastctl.errors import ExitCode
from bcastctl.targets.lab import LabTarget
from bcastctl.targets.nats_monitor import go_duration_ms


@pytest.fixture
def nats_regions(tmp_path: Path) -> Iterator[NatsRegions]:
    regions = NatsRegions.start(tmp_path, ["a", "b", "c"])
    try:
        yield regions
    finally:
        regions.stop()


def test_go_durations_as_nats_prints_them() -> None:
    assert go_duration_ms("93µs") == pytest.approx(0.093)
    assert go_duration_ms("84.25ms") == pytest.approx(84.25)
    assert go_duration_ms("1m2.5s") == pytest.approx(62_500)
    assert go_duration_ms("soon") is None


async def test_healthy_super_cluster_passes_every_pair(nats_regions: NatsRegions) -> None:
    target = LabTarget(nats_regions.lab_state(), nats_regions.fleet())
    try:
        report = await run_checks(target, RunOptions(timeout_s=5), checks=[NatsGateways()])
    finally:
        await target.close()
    scopes = {r.scope: r for r in report.results}
    assert set(scopes) == {f"{x}->{y}" for x in "abc" for y in "abc" if x != y}
    assert all(r.status == Status.ok for r in report.results), report.results
    assert all(isinstance(r.values["rtt_ms"], float) for r in report.results)
    assert report.exit_code == ExitCode.OK
    assert report.root_causes == []


async def test_dead_region_fails_its_links_and_its_region_not_others(
    nats_regions: NatsRegions,
) -> None:
    nats_regions.region("c").stop()
    monitor_a = nats_regions.region("a")
    wait_for("a to lose c", lambda: not monitor_a.connected_to(["c"]))
    target = LabTarget(nats_regions.lab_state(), nats_regions.fleet())
    try:
        report = await run_checks(target, RunOptions(timeout_s=3), checks=[NatsGateways()])
    finally:
        await target.close()
    status = {r.scope: r.status for r in report.results}
    assert status["a->b"] == status["b->a"] == Status.ok
    assert status["a->c"] == status["b->c"] == Status.fail
    assert report.unreachable_regions.keys() == {"c"}
    assert status["c"] == Status.fail  # its own region is named as unreachable
    assert report.exit_code == ExitCode.CHECKS_FAILED
    assert any("region c is unreachable" in cause.cause for cause in report.root_causes)


async def test_no_region_reachable_is_exit_4(nats_regions: NatsRegions) -> None:
    state = nats_regions.lab_state()
    nats_regions.stop()
    target = LabTarget(state, nats_regions.fleet())
    try:
        report = await run_checks(target, RunOptions(timeout_s=2), checks=[NatsGateways()])
    finally:
        await target.close()
    assert report.exit_code == ExitCode.UNREACHABLE
    assert set(report.unreachable_regions) == {"a", "b", "c"}


async def test_region_subset_checks_only_those_regions(nats_regions: NatsRegions) -> None:
    target = LabTarget(nats_regions.lab_state(), nats_regions.fleet())
    try:
        report = await run_checks(
            target, RunOptions(regions=["b"], timeout_s=5), checks=[NatsGateways()]
        )
    finally:
        await target.close()
    assert {r.scope for r in report.results} == {"b->a", "b->c"}
    assert report.regions == ["b"]
