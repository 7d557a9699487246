"""Run the checks: select, fan out across regions under deadlines, aggregate, explain.

`run_checks(target, RunOptions(...))` is the one entry point (verify mesh, and the
deploy gate with `regions=[...]`). It never stops at the first failure: every
selected check runs in every selected region, concurrently, each under
`timeout_s`; a check that raises or times out becomes a `fail` result naming
what it was waiting for. With `wait_s` it re-runs until nothing fails or the
deadline passes, and reports the last attempt.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bcastctl.checks.base import (
    Check,
    CheckContext,
    CheckResult,
    ScopeKind,
    Status,
    fail,
    skip,
)
from bcastctl.checks.report import CheckReport, Summary, exit_code_for
from bcastctl.checks.rootcause import root_causes
from bcastctl.errors import BcastError, UsageError
from bcastctl.targets.base import RegionEndpoints, Target


@dataclass(frozen=True)
class RunOptions:
    regions: Sequence[str] | None = None  # None: every region of the target
    select: Sequence[str] = ()  # regexes on check names; "!REGEX" excludes
    timeout_s: float = 10.0  # per check and region
    wait_s: float = 0.0  # poll until healthy or this many seconds passed
    poll_interval_s: float = 1.0
    strict: bool = False  # warnings fail too
    media: bool = False  # opt-in end-to-end media check
    media_relay: bool = False  # media through TURN only (relay ICE), even on the lab
    on_retry: Callable[[int, int, float], None] | None = None  # (attempt, failing, seconds left)


def select_checks(checks: Sequence[Check], patterns: Sequence[str]) -> list[Check]:
    """Keep checks matching any include pattern (all when none) and no "!" pattern."""
    include: list[re.Pattern[str]] = []
    exclude: list[re.Pattern[str]] = []
    for pattern in patterns:
        negate = pattern.startswith("!")
        text = pattern[1:] if negate else pattern
        try:
            compiled = re.compile(text)
        except re.error as e:
            raise UsageError(f"--check {pattern!r}: invalid regular expression: {e}") from e
        (exclude if negate else include).append(compiled)
    chosen = [
        check
        for check in checks
        if (not include or any(p.search(check.name) for p in include))
        and not any(p.search(check.name) for p in exclude)
    ]
    if not chosen:
        names = ", ".join(check.name for check in checks)
        raise UsageError(f"--check {' '.join(patterns)}: selects no check", hint=f"checks: {names}")
    return chosen


def applicable(check: Check, target: Target, media: bool) -> bool:
    """Checks whose needs the target does not meet are not run (and not listed)."""
    offered = set(target.capabilities) | ({"media"} if media else set())
    return set(check.needs) <= offered


def _selected_regions(target: Target, regions: Sequence[str] | None) -> list[str]:
    known = list(target.region_names)
    if regions is None:
        return known
    for name in regions:
        if name not in known:
            raise UsageError(f"unknown region {name!r}", hint=f"regions: {', '.join(known)}")
    return [name for name in known if name in regions]


def _failure(check: Check, scope: str, error: BaseException, timeout_s: float) -> CheckResult:
    """A check that raised or ran out of time: a fail result for its scope, never an abort."""
    kind: ScopeKind = "fleet" if scope == "fleet" else "region"
    if isinstance(error, TimeoutError):
        return fail(
            check.name,
            scope,
            f"no answer within {timeout_s:g} s ({check.title})",
            hint="raise --timeout if the fleet is slow, or look at this region's endpoints",
            kind=kind,
        )
    if isinstance(error, BcastError):
        return fail(check.name, scope, error.message, hint=error.hint, kind=kind)
    return fail(
        check.name,
        scope,
        f"check crashed: {type(error).__name__}: {error}",
        hint="this is a bug in bcastctl; please report it",
        kind=kind,
    )


async def _run_in_region(check: Check, ctx: CheckContext, name: str) -> list[CheckResult]:
    try:
        region = await ctx.region(name)
    except BcastError as e:
        return [fail(check.name, name, f"region unreachable: {e.message}", hint=e.hint)]
    try:
        return await asyncio.wait_for(check.run_region(ctx, region), ctx.timeout_s)
    except Exception as e:
        return [_failure(check, name, e, ctx.timeout_s)]


async def _run_fleet_check(check: Check, ctx: CheckContext) -> list[CheckResult]:
    regions: list[RegionEndpoints] = []
    results: list[CheckResult] = []
    for name in ctx.selected:
        try:
            regions.append(await ctx.region(name))
        except BcastError as e:
            results.append(fail(check.name, name, f"region unreachable: {e.message}", hint=e.hint))
    if not regions:
        return results
    try:
        results += await asyncio.wait_for(check.run_fleet(ctx, regions), ctx.timeout_s)
    except Exception as e:
        results.append(_failure(check, "fleet", e, ctx.timeout_s))
    return results


async def _run_check(check: Check, ctx: CheckContext) -> list[CheckResult]:
    if not check.per_region:
        return await _run_fleet_check(check, ctx)
    per_region = await asyncio.gather(*(_run_in_region(check, ctx, n) for n in ctx.selected))
    return [result for results in per_region for result in results]


async def _unreachable(ctx: CheckContext) -> dict[str, str]:
    """Selected regions the target cannot reach -> why (asked once, shared with the checks)."""
    unreachable: dict[str, str] = {}
    answers = await asyncio.gather(*(ctx.region(n) for n in ctx.selected), return_exceptions=True)
    for name, answer in zip(ctx.selected, answers, strict=True):
        if isinstance(answer, BcastError):
            unreachable[name] = answer.message
        elif isinstance(answer, BaseException):
            raise answer
    return unreachable


async def _attempt(
    target: Target, checks: Sequence[Check], regions: list[str], options: RunOptions
) -> tuple[list[CheckResult], dict[str, str]]:
    ctx = CheckContext(
        target=target,
        selected=regions,
        timeout_s=options.timeout_s,
        media=options.media,
        media_relay=options.media_relay,
    )
    unreachable = await _unreachable(ctx)
    first = [check for check in checks if not check.runs_after_others]
    per_check = await asyncio.gather(*(_run_check(check, ctx) for check in first))
    for check in checks:
        if check.runs_after_others:
            per_check.append(await _run_check(check, ctx))
    by_check = dict(
        zip([*first, *(c for c in checks if c.runs_after_others)], per_check, strict=True)
    )
    results = [result for check in checks for result in by_check[check]]
    ctx.cancel_pending()
    return results, unreachable


def _still_failing(results: Sequence[CheckResult], strict: bool) -> bool:
    bad = {Status.fail, Status.warn} if strict else {Status.fail}
    return any(result.status in bad for result in results)


async def run_checks(
    target: Target, options: RunOptions, checks: Sequence[Check] | None = None
) -> CheckReport:
    """Run the selected checks on the selected regions and return the whole report."""
    from bcastctl.checks.registry import load_checks

    started = time.monotonic()
    regions = _selected_regions(target, options.regions)
    every = list(checks) if checks is not None else load_checks()
    chosen = [
        check
        for check in select_checks(every, options.select)
        if applicable(check, target, options.media)
    ]
    deadline = started + options.wait_s
    attempts = 0
    while True:
        attempts += 1
        results, unreachable = await _attempt(target, chosen, regions, options)
        if not _still_failing(results, options.strict) or time.monotonic() >= deadline:
            break
        if options.on_retry is not None:
            failing = sum(1 for r in results if r.status == Status.fail)
            options.on_retry(attempts, failing, deadline - time.monotonic())
        await asyncio.sleep(min(options.poll_interval_s, max(0.0, deadline - time.monotonic())))
    if not chosen:
        results = [skip("verify", "fleet", "no check applies to this target", kind="fleet")]
    summary = Summary.of(results)
    report_exit = exit_code_for(summary, regions, unreachable, options.strict)
    return CheckReport(
        target=target.kind,
        fleet=target.fleet.name,
        regions=regions,
        unreachable_regions=unreachable,
        checks=[check.name for check in chosen],
        results=results,
        root_causes=root_causes(results, unreachable),
        summary=summary,
        strict=options.strict,
        attempts=attempts,
        duration_s=round(time.monotonic() - started, 3),
        exit_code=int(report_exit),
    )


async def run_checks_on(target: Target, options: RunOptions) -> CheckReport:
    """run_checks, then close the target (the CLI's one call)."""
    try:
        return await run_checks(target, options)
    finally:
        await target.close()


__all__ = ["RunOptions", "run_checks", "run_checks_on", "select_checks"]
