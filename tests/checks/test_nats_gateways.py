"""nats-gateways and the runner against real nats-server processes (no nodes)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from checks_testkit import NATS_SERVER, NatsRegion, NatsRegions, free_port, http_json, wait_for

from bcastctl.checks.base import Status
from bcastctl.checks.nats_gateways import NatsGateways
from bcastctl.checks.runner import RunOptions, run_checks
from bcastctl.errors import ExitCode
from bcastctl.targets.base import Endpoint, RegionEndpoints
from bcastctl.targets.lab import LabTarget

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab


@pytest.fixture
def nats_regions(tmp_path: Path) -> Iterator[NatsRegions]:
    regions = NatsRegions.start(tmp_path, ["a", "b", "c"])
    try:
        yield regions
    finally:
        regions.stop()


async def test_healthy_super_cluster_passes_every_pair(nats_regions: NatsRegions) -> None:
    nats_regions.wait_rtt_measured()  # connected links say "rtt not measured yet" until then
    target = LabTarget(nats_regions.lab_state(), nats_regions.fleet())
    try:
        report = await run_checks(target, RunOptions(timeout_s=5), checks=[NatsGateways()])
    finally:
        await target.close()
    scopes = {r.scope: r for r in report.results}
    assert set(scopes) == {f"{x}->{y}" for x in "abc" for y in "abc" if x != y}
    assert all(r.status == Status.ok for r in report.results), report.results
    assert all(r.values["rtt_ms"] > 0 for r in report.results), report.results
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


class TwoServerRegion(LabTarget):
    """The lab target, with region a served by two clustered NATS servers."""

    def __init__(self, *args: Any, second_monitor: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.second_monitor = second_monitor

    async def region(self, name: str, timeout_s: float) -> RegionEndpoints:
        region = await super().region(name, timeout_s)
        if name != "a":
            return region
        extra = Endpoint("a", self.second_monitor)
        return replace(region, nats_monitors=(*region.nats_monitors, extra))


@pytest.fixture
def clustered_a(tmp_path: Path) -> Iterator[tuple[NatsRegion, NatsRegion, NatsRegion]]:
    """Region a: two clustered NATS servers; region b: one. All gateways connected."""
    a1, a2, b1 = NatsRegion("a"), NatsRegion("a"), NatsRegion("b")
    a_cluster = (free_port(), free_port())
    gateways = (
        f'[{{name: "a", urls: ["nats://127.0.0.1:{a1.gateway_port}", '
        f'"nats://127.0.0.1:{a2.gateway_port}"]}}, '
        f'{{name: "b", url: "nats://127.0.0.1:{b1.gateway_port}"}}]'
    )
    servers = [(a1, "a1", a_cluster[0], a_cluster[1]), (a2, "a2", a_cluster[1], a_cluster[0]),
               (b1, "b1", None, None)]  # fmt: skip
    try:
        for server, name, cluster_port, route_port in servers:
            cluster = (
                f'cluster {{ name: "a", listen: "127.0.0.1:{cluster_port}", '
                f'routes: ["nats://127.0.0.1:{route_port}"] }}\n'
                if cluster_port
                else ""
            )
            conf = tmp_path / f"{name}.conf"
            conf.write_text(
                f'server_name: "{name}"\nlisten: "127.0.0.1:{server.client_port}"\n'
                f'http: "127.0.0.1:{server.monitor_port}"\n{cluster}'
                f'gateway {{ name: "{server.name}", listen: "127.0.0.1:{server.gateway_port}", '
                f"gateways: {gateways} }}\n"
            )
            with open(tmp_path / f"{name}.log", "wb") as log:
                server.process = subprocess.Popen(
                    [str(NATS_SERVER), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
                )

        def outbound(server: NatsRegion, to: str) -> bool:
            return to in (http_json(server.monitor + "/gatewayz").get("outbound_gateways") or {})

        wait_for("a1, a2 dial b", lambda: outbound(a1, "b") and outbound(a2, "b"))
        wait_for("b dials a", lambda: outbound(b1, "a"))
        yield a1, a2, b1
    finally:
        for server, *_ in servers:
            server.stop()


async def test_a_clustered_region_needs_inbound_on_one_server_not_all(
    tmp_path: Path, clustered_a: tuple[NatsRegion, NatsRegion, NatsRegion]
) -> None:
    a1, a2, b1 = clustered_a
    inbound = [
        "b" in (http_json(s.monitor + "/gatewayz").get("inbound_gateways") or {}) for s in (a1, a2)
    ]
    assert sorted(inbound) == [False, True]  # b dials one server of a, not both
    fleet = NatsRegions(tmp_path, [a1, b1])
    target = TwoServerRegion(fleet.lab_state(), fleet.fleet(), second_monitor=a2.monitor)
    try:
        report = await run_checks(target, RunOptions(timeout_s=5), checks=[NatsGateways()])
    finally:
        await target.close()
    results = {r.scope: r for r in report.results}
    assert results["a->b"].status == Status.ok, results["a->b"]
    assert results["a->b"].values["servers"] == 2
    assert results["a->b"].values["inbound_servers"] == 1
    assert results["b->a"].status == Status.ok
