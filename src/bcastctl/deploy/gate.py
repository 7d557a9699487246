"""The health gate: the region-scoped `verify mesh` checks, through the check runner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bcastctl.targets.base import Target


@dataclass(frozen=True)
class GateOutcome:
    passed: bool
    failures: list[str]  # "check scope: message" of every failed result
    hint: str | None = None


async def health_gate(
    target: Target,
    region: str,
    *,
    select: Sequence[str] = (),
    timeout_s: float = 10.0,
    wait_s: float = 0.0,
    poll_s: float = 1.0,
) -> GateOutcome:
    """Run the checks for one region (others are not touched); passed when none failed."""
    from bcastctl.checks.base import Status
    from bcastctl.checks.runner import RunOptions, run_checks

    report = await run_checks(
        target,
        RunOptions(
            regions=[region],
            select=select,
            timeout_s=timeout_s,
            wait_s=wait_s,
            poll_interval_s=poll_s,
        ),
    )
    failed = [result for result in report.results if result.status == Status.fail]
    failures = [f"{r.check} {r.scope}: {r.message}" for r in failed]
    hints = [r.hint for r in failed if r.hint]
    return GateOutcome(not failed, failures, hints[0] if hints else None)
