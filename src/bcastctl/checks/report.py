"""The result of a verify run: every result, the root causes, the summary, the exit code.

This is the value `run_checks` returns and report/checks_*.py render (table,
JSON envelope kind "MeshReport", JUnit XML).
"""

from __future__ import annotations

from collections.abc import Sequence

from bcastctl.checks.base import CheckResult, Status
from bcastctl.errors import ExitCode
from bcastctl.model import FrozenModel

REPORT_KIND = "MeshReport"


class Summary(FrozenModel):
    total: int
    ok: int
    warn: int
    fail: int
    skip: int

    @classmethod
    def of(cls, results: Sequence[CheckResult]) -> Summary:
        def count(status: Status) -> int:
            return sum(1 for result in results if result.status == status)

        return cls(
            total=len(results),
            ok=count(Status.ok),
            warn=count(Status.warn),
            fail=count(Status.fail),
            skip=count(Status.skip),
        )


class RootCause(FrozenModel):
    """One underlying problem and the failures it explains (result ids "check/scope")."""

    cause: str  # e.g. "NATS gateway link us-east5 <-> europe-west9 is down"
    layer: str  # nats, dns, node, secret, turn, region
    explains: list[str]
    hint: str | None = None


class CheckReport(FrozenModel):
    target: str  # "lab" | "kube"
    fleet: str
    regions: list[str]  # the regions checked
    unreachable_regions: dict[str, str]  # region -> why
    checks: list[str]  # the checks that ran, in order
    results: list[CheckResult]
    root_causes: list[RootCause]
    summary: Summary
    strict: bool
    attempts: int  # > 1 with --wait
    duration_s: float
    exit_code: int

    @property
    def failed(self) -> list[CheckResult]:
        bad = {Status.fail, Status.warn} if self.strict else {Status.fail}
        return [result for result in self.results if result.status in bad]


def exit_code_for(
    summary: Summary, regions: Sequence[str], unreachable: dict[str, str], strict: bool
) -> ExitCode:
    """0 nothing failed; 1 a check failed (or warned, with --strict); 4 no region reachable."""
    if regions and all(region in unreachable for region in regions):
        return ExitCode.UNREACHABLE
    if summary.fail or (strict and summary.warn):
        return ExitCode.CHECKS_FAILED
    return ExitCode.OK
