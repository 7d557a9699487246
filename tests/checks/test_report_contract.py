"""The MeshReport JSON envelope and JUnit XML that CI pipelines read: pinned shapes.

A report is produced by the real runner over checks defined here (small Check
subclasses, as a plugin author would write them) on a target with no network:
the framework is what is under test.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

import pytest

from bcastctl.checks.base import Check, CheckContext, CheckResult, fail, ok, skip, warn
from bcastctl.checks.report import REPORT_KIND, CheckReport
from bcastctl.checks.runner import RunOptions, run_checks
from bcastctl.errors import ExitCode, UnreachableError, UsageError
from bcastctl.fleet import Fleet, parse_fleet
from bcastctl.report.checks_junit import junit_xml
from bcastctl.report.envelope import envelope
from bcastctl.targets.base import (
    Capability,
    Endpoint,
    HttpResponse,
    RegionEndpoints,
    TurnEndpoint,
)

REPORT_KEYS = {
    "target", "fleet", "regions", "unreachable_regions", "checks", "results",
    "root_causes", "summary", "strict", "attempts", "duration_s", "exit_code",
}  # fmt: skip
RESULT_KEYS = {"check", "scope", "scope_kind", "status", "message", "hint", "values"}
CAUSE_KEYS = {"cause", "layer", "explains", "hint"}
SUMMARY_KEYS = {"total", "ok", "warn", "fail", "skip"}


class OfflineTarget:
    """Regions without endpoints; `down` regions are unreachable."""

    def __init__(self, fleet: Fleet, down: Sequence[str] = ()) -> None:
        self._fleet = fleet
        self.down = set(down)

    @property
    def kind(self) -> Capability:
        return "lab"

    @property
    def fleet(self) -> Fleet:
        return self._fleet

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"lab"})

    @property
    def region_names(self) -> Sequence[str]:
        return self._fleet.region_names

    async def region(self, name: str, timeout_s: float) -> RegionEndpoints:
        if name in self.down:
            raise UnreachableError(f"{name}: API server refused the connection")
        return RegionEndpoints(name, (), (), (), TurnEndpoint(name, None, absent_reason="none"))

    async def request(
        self,
        method: str,
        endpoint: Endpoint,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 5.0,
    ) -> HttpResponse:
        raise UnreachableError(f"{endpoint.url}: offline")

    async def close(self) -> None:
        pass


class Mixed(Check):
    name = "mixed"
    title = "one of each status"
    layer = "test"

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        return [
            ok(self.name, f"{region.name}->x", "fine", rtt_ms=1.5),
            warn(self.name, f"{region.name}->y", "meh", hint="look"),
            fail(self.name, f"{region.name}->z", "broken", hint="fix it"),
            skip(self.name, region.name, "not here"),
        ]


class Slow(Check):
    name = "slow"
    title = "waits for an answer that never comes"
    layer = "test"

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        await asyncio.sleep(60)
        return []


class Crashes(Check):
    name = "crashes"
    title = "has a bug"
    layer = "test"

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        raise KeyError("boom")


class KubeOnly(Check):
    name = "kube-only"
    title = "needs clusters"
    layer = "cluster"
    needs = frozenset({"kube"})

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        return [ok(self.name, region.name, "cluster fine")]


@pytest.fixture
def fleet() -> Fleet:
    regions = [{"name": n, "geo": {"lat": 0, "lon": 0}} for n in ("r1", "r2", "r3")]
    return parse_fleet({"name": "contract", "image": "x", "regions": regions})


async def report_of(fleet: Fleet, checks: list[Check], **options: object) -> CheckReport:
    down = options.pop("down", ())
    target = OfflineTarget(fleet, down)  # type: ignore[arg-type]
    return await run_checks(target, RunOptions(**options), checks=checks)  # type: ignore[arg-type]


async def test_envelope_keys_are_pinned(fleet: Fleet) -> None:
    report = await report_of(fleet, [Mixed()], timeout_s=1)
    data = json.loads(json.dumps(envelope(REPORT_KIND, report)))
    assert set(data) == {"apiVersion", "kind", "result"}
    assert (data["apiVersion"], data["kind"]) == ("bcastctl.io/v1", "MeshReport")
    result = data["result"]
    assert set(result) == REPORT_KEYS
    assert set(result["summary"]) == SUMMARY_KEYS
    assert all(set(r) == RESULT_KEYS for r in result["results"])
    assert all(set(c) == CAUSE_KEYS for c in result["root_causes"])
    assert {r["status"] for r in result["results"]} == {"ok", "warn", "fail", "skip"}
    assert result["summary"] == {"total": 12, "ok": 3, "warn": 3, "fail": 3, "skip": 3}
    assert result["exit_code"] == ExitCode.CHECKS_FAILED
    first = result["results"][0]
    assert first == {
        "check": "mixed",
        "scope": "r1->x",
        "scope_kind": "pair",
        "status": "ok",
        "message": "fine",
        "hint": None,
        "values": {"rtt_ms": 1.5},
    }


async def test_strict_fails_on_warnings(fleet: Fleet) -> None:
    class WarnOnly(Check):
        name, title, layer = "warn-only", "warns", "test"

        async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
            return [warn(self.name, region.name, "meh")]

    assert (await report_of(fleet, [WarnOnly()])).exit_code == ExitCode.OK
    assert (await report_of(fleet, [WarnOnly()], strict=True)).exit_code == 1


async def test_timeouts_and_crashes_fail_their_scope_and_the_rest_still_runs(fleet: Fleet) -> None:
    report = await report_of(fleet, [Slow(), Crashes(), Mixed()], timeout_s=0.2)
    slow = [r for r in report.results if r.check == "slow"]
    assert [r.scope for r in slow] == ["r1", "r2", "r3"]
    assert all("no answer within 0.2 s" in r.message for r in slow)
    crashed = [r for r in report.results if r.check == "crashes"]
    assert all("KeyError" in r.message and r.status == "fail" for r in crashed)
    assert sum(1 for r in report.results if r.check == "mixed") == 12


async def test_unreachable_region_fails_alone_and_all_unreachable_is_exit_4(fleet: Fleet) -> None:
    report = await report_of(fleet, [Mixed()], down=["r2"])
    r2 = [r for r in report.results if "r2" in r.scope]
    assert [r.message for r in r2] == ["region unreachable: r2: API server refused the connection"]
    assert sum(1 for r in report.results if r.scope.startswith(("r1", "r3"))) == 8
    assert report.root_causes[0].cause.startswith("region r2 is unreachable")
    everything = await report_of(fleet, [Mixed()], down=["r1", "r2", "r3"])
    assert everything.exit_code == ExitCode.UNREACHABLE


async def test_selection_needs_and_bad_patterns(fleet: Fleet) -> None:
    report = await report_of(fleet, [Mixed(), Crashes(), KubeOnly()], select=["!crash"])
    assert report.checks == ["mixed"]  # kube-only is not applicable to a lab target
    report = await report_of(fleet, [Mixed(), Crashes()], select=["^cr"])
    assert report.checks == ["crashes"]
    with pytest.raises(UsageError, match="invalid regular expression"):
        await report_of(fleet, [Mixed()], select=["("])
    with pytest.raises(UsageError, match="selects no check"):
        await report_of(fleet, [Mixed()], select=["nothing"])
    with pytest.raises(UsageError, match="unknown region 'r9'"):
        await report_of(fleet, [Mixed()], regions=["r9"])


async def test_junit_is_junit(fleet: Fleet) -> None:
    report = await report_of(fleet, [Mixed(), Crashes()], down=["r3"])
    root = ET.fromstring(junit_xml(report))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["mixed", "crashes"]
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(report.results) == int(root.get("tests", "-1"))
    for suite in suites:
        own = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(own)
        assert int(suite.get("failures", "-1")) == sum(
            1 for c in own if c.find("failure") is not None
        )
        assert int(suite.get("skipped", "-1")) == sum(
            1 for c in own if c.find("skipped") is not None
        )
    names = [c.get("name") for c in cases]
    assert "mixed [r1->z]" in names and "crashes [r3]" in names
    failure = next(c for c in cases if c.get("name") == "mixed [r1->z]").find("failure")
    assert failure is not None and "hint: fix it" in (failure.text or "")


async def test_wait_polls_until_healthy_and_reports_each_retry(fleet: Fleet) -> None:
    class HealsOnThirdTry(Check):
        name, title, layer = "heals", "fails twice", "test"
        tries = 0

        async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
            if region.name == "r1":
                HealsOnThirdTry.tries += 1
            broken = HealsOnThirdTry.tries < 3
            return [(fail if broken else ok)(self.name, region.name, "state")]

    retries: list[tuple[int, int]] = []
    report = await report_of(
        fleet,
        [HealsOnThirdTry()],
        wait_s=30,
        poll_interval_s=0.01,
        on_retry=lambda attempt, failing, left: retries.append((attempt, failing)),
    )
    assert report.exit_code == ExitCode.OK and report.attempts == 3
    assert retries == [(1, 3), (2, 3)]
    gives_up = await report_of(fleet, [Mixed()], wait_s=0.05, poll_interval_s=0.01)
    assert gives_up.exit_code == ExitCode.CHECKS_FAILED and gives_up.attempts >= 2


async def test_checks_that_change_the_fleet_run_after_the_others(fleet: Fleet) -> None:
    finished: list[str] = []

    class Reader(Check):
        name, title, layer = "reader", "reads the fleet", "test"

        async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
            await asyncio.sleep(0.05)
            finished.append(region.name)
            return [ok(self.name, region.name, "read")]

    class Changer(Check):
        name, title, layer = "changer", "publishes", "test"
        runs_after_others = True

        async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
            return [ok(self.name, region.name, f"saw {len(finished)} reads done")]

    report = await report_of(fleet, [Changer(), Reader()])
    assert [r.check for r in report.results][:3] == ["changer"] * 3  # report order kept
    assert {r.message for r in report.results if r.check == "changer"} == {"saw 3 reads done"}
