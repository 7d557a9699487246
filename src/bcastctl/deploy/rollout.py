"""`deploy`: preflight every region, then roll out region by region (canary first).

Nothing is written anywhere until every selected region passed preflight. Then, per
region: plan (unchanged regions are left alone, with no write), apply in order, prune,
wait for rollout, health gate; on failure roll that region back to its previous
revision and stop. `--dry-run` stops after a server-side dry run and a diff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bcastctl.adapters.kube import ApplyConflict, KubeClient
from bcastctl.deploy import revisions
from bcastctl.deploy.apply import (
    POLL_S,
    RolloutProgress,
    apply_all,
    check_conflicts,
    no_progress,
    prune,
    wait_rollout,
)
from bcastctl.deploy.connect import Connected, connect_regions
from bcastctl.deploy.drain import DrainTally, plan_drains, restore, roll_pods, staged
from bcastctl.deploy.gate import health_gate
from bcastctl.deploy.model import DeployResult, RegionDeploy
from bcastctl.deploy.plan import RegionDeployPlan, desired, dry_run_diff, plan_region
from bcastctl.deploy.preflight import Preflight, preflight_all
from bcastctl.errors import BcastError, ConfigError, ExitCode, OperationFailed, UnreachableError
from bcastctl.fleet import Fleet
from bcastctl.model import replace


@dataclass(frozen=True)
class DeployOptions:
    regions: Sequence[str] | None = None  # None: every region
    parallel: bool = False
    dry_run: bool = False
    timeout_s: float | None = None  # rollout wait per region; None: the fleet's
    force_conflicts: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    gate: bool = True
    gate_checks: Sequence[str] = ()  # verify's --check patterns; () = every applicable check
    gate_timeout_s: float = 10.0
    gate_wait_s: float = 0.0  # re-run failing gate checks until this deadline
    api_timeout_s: float = 10.0
    max_disrupted: int | None = None  # sessions the drains may cut per region; None: any
    poll_s: float = POLL_S  # longest gap between two looks while waiting (rollout, drains, gate)


def batches(fleet: Fleet, regions: list[str], parallel: bool) -> list[list[str]]:
    """Canary alone first, then groups of `rollout.parallelism`; --parallel: all at once."""
    if parallel:
        return [regions]
    size = fleet.rollout.parallelism
    head, rest = regions[:1], regions[1:]
    return [head] + [rest[i : i + size] for i in range(0, len(rest), size)] if head else []


def _distinct_clusters(connected: Connected) -> None:
    """Two regions in one cluster would share the namespace and the revision record."""
    seen: dict[str, str] = {}
    for region, client in connected.clients.items():
        if client.host in seen:
            raise ConfigError(
                f"regions {seen[client.host]} and {region} point at the same cluster "
                f"({client.host}); nothing was written",
                hint="give each region its own cluster (regions[].cluster.context or gke)",
            )
        seen[client.host] = region


async def _preflight(
    fleet: Fleet, connected: Connected, regions: list[str]
) -> dict[str, list[str]]:
    """Every region's warnings; raises the first region's problem (nothing written)."""
    _distinct_clusters(connected)
    manifests = {region: desired(fleet, region) for region in regions}
    answers = await preflight_all(connected.clients, connected.contexts, manifests)
    problems = [answer for answer in answers.values() if isinstance(answer, BcastError)]
    if problems:
        first = min(problems, key=lambda e: -int(e.exit_code))  # unreachable (4) before config
        more = (
            f" (and {len(problems) - 1} more problem(s) in other regions)"
            if len(problems) > 1
            else ""
        )
        raise type(first)(f"preflight: {first.message}{more}; nothing was written", hint=first.hint)
    return {r: list(a.warnings) for r, a in answers.items() if isinstance(a, Preflight)}


async def deploy(
    fleet: Fleet, options: DeployOptions, progress: RolloutProgress = no_progress
) -> DeployResult:
    connected = await connect_regions(
        fleet, options.regions, options.kubeconfig, options.context, options.api_timeout_s
    )
    try:
        regions = connected.regions
        warnings = await _preflight(fleet, connected, regions)
        plans = dict(
            zip(
                regions,
                await asyncio.gather(
                    *(plan_region(connected.clients[r], fleet, r) for r in regions)
                ),
                strict=True,
            )
        )
        if options.dry_run:
            outcomes = await asyncio.gather(
                *(_dry_run(connected.clients[r], plans[r], options) for r in regions)
            )
            return _result(fleet, options, list(outcomes), connected.api_calls(), warnings)
        outcomes = await _roll(fleet, connected, plans, options, progress)
        return _result(fleet, options, outcomes, connected.api_calls(), warnings)
    finally:
        connected.close()


async def _roll(
    fleet: Fleet,
    connected: Connected,
    plans: dict[str, RegionDeployPlan],
    options: DeployOptions,
    progress: RolloutProgress,
) -> list[RegionDeploy]:
    done: dict[str, RegionDeploy] = {}
    stopped = False
    for batch in batches(fleet, connected.regions, options.parallel):
        if stopped:
            for region in batch:
                done[region] = RegionDeploy(
                    region=region, state="not-started", image=plans[region].image
                )
            continue
        outcomes = await asyncio.gather(
            *(_deploy_region(fleet, connected, plans[r], options, progress) for r in batch)
        )
        for outcome in outcomes:
            done[outcome.region] = outcome
        stopped = any(o.state in ("failed", "rolled-back") for o in outcomes)
    return [done[region] for region in connected.regions]


def _result(
    fleet: Fleet,
    options: DeployOptions,
    outcomes: list[RegionDeploy],
    calls: dict[str, int],
    warnings: dict[str, list[str]],
) -> DeployResult:
    failed = any(o.state in ("failed", "rolled-back") for o in outcomes)
    return DeployResult(
        fleet=fleet.name,
        dry_run=options.dry_run,
        parallel=options.parallel,
        regions=[
            replace(o, api_calls=calls.get(o.region, 0), warnings=warnings.get(o.region, []))
            for o in outcomes
        ],
        exit_code=int(ExitCode.CHECKS_FAILED if failed else ExitCode.OK),
    )


async def _dry_run(
    client: KubeClient, plan: RegionDeployPlan, options: DeployOptions
) -> RegionDeploy:
    current = plan.history.current
    if plan.unchanged:
        return RegionDeploy(
            region=plan.region,
            state="unchanged",
            image=plan.image,
            revision=current.number if current else None,
        )
    return RegionDeploy(
        region=plan.region,
        state="dry-run",
        image=plan.image,
        previous_revision=current.number if current else None,
        changes=plan.changes,
        diff=await dry_run_diff(client, plan, options.force_conflicts),
    )


async def _gate(
    connected: Connected, region: str, options: DeployOptions, progress: RolloutProgress
) -> Literal["passed", "skipped"]:
    """The region-scoped verify mesh; OperationFailed naming the failures if it fails."""
    if not options.gate:
        return "skipped"
    progress(region, "health gate", 0.95)
    outcome = await health_gate(
        connected.target,
        region,
        select=options.gate_checks,
        timeout_s=options.gate_timeout_s,
        wait_s=options.gate_wait_s,
        poll_s=options.poll_s,
    )
    if not outcome.passed:
        raise OperationFailed(
            f"{region}: health gate failed: {'; '.join(outcome.failures[:3])}",
            hint=outcome.hint,
        )
    return "passed"


async def _deploy_region(
    fleet: Fleet,
    connected: Connected,
    plan: RegionDeployPlan,
    options: DeployOptions,
    progress: RolloutProgress,
) -> RegionDeploy:
    started = time.monotonic()
    client = connected.clients[plan.region]
    previous = plan.history.current.number if plan.history.current else None
    if plan.unchanged:
        progress(plan.region, "unchanged", 1.0)
        return RegionDeploy(
            region=plan.region,
            state="unchanged",
            image=plan.image,
            revision=previous,
            previous_revision=previous,
        )
    timeout_s = options.timeout_s or fleet.rollout.timeout_s
    try:
        if not options.force_conflicts:
            await check_conflicts(client, plan.manifests, plan.live)
    except ApplyConflict as e:
        return RegionDeploy(
            region=plan.region,
            state="failed",
            image=plan.image,
            revision=previous,
            previous_revision=previous,
            failure=f"{e.message}; nothing was written to this region",
            hint=e.hint,
            duration_s=round(time.monotonic() - started, 3),
        )
    drains = plan_drains(plan.region, plan.manifests, plan.live, fleet.node.admin_port)
    tally = DrainTally()
    try:
        changes = await apply_all(
            client,
            plan.region,
            staged(plan.manifests, drains),
            force=options.force_conflicts,
            progress=progress,
            live=plan.live,
        )
        changes += await prune(client, plan.prune)
        if drains is not None:
            await roll_pods(
                client,
                plan.region,
                drains,
                tally,
                max_disrupted=options.max_disrupted,
                timeout_s=timeout_s,
                progress=progress,
                poll_s=options.poll_s,
            )
        await wait_rollout(
            client, plan.region, plan.manifests, timeout_s, progress, poll_s=options.poll_s
        )
        gate = await _gate(connected, plan.region, options, progress)
    except BcastError as e:
        failed = await _fail_region(
            fleet,
            client,
            plan,
            e,
            started,
            timeout_s,
            progress,
            max_disrupted=options.max_disrupted,
            tally=tally,
            poll_s=options.poll_s,
        )
        return replace(failed, **_counts(tally))
    history = revisions.added(plan.history, plan.manifests, "deploy", gate)
    saved = await revisions.save(client, fleet.namespace, fleet.name, history)
    progress(plan.region, f"deployed revision {saved.revisions[-1].number}", 1.0)
    return RegionDeploy(
        region=plan.region,
        state="deployed",
        revision=saved.revisions[-1].number,
        previous_revision=previous,
        image=plan.image,
        changes=changes,
        gate=gate,
        duration_s=round(time.monotonic() - started, 3),
        **_counts(tally),
    )


def _counts(tally: DrainTally) -> dict[str, Any]:
    return {"sessions_drained": tally.drained, "sessions_cut": tally.cut, "drains": tally.pods}


async def _fail_region(
    fleet: Fleet,
    client: KubeClient,
    plan: RegionDeployPlan,
    error: BcastError,
    started: float,
    timeout_s: float,
    progress: RolloutProgress,
    *,
    max_disrupted: int | None,
    tally: DrainTally,
    poll_s: float = POLL_S,
) -> RegionDeploy:
    """Roll the region back to the revision that was live before, behind drains within
    what `max_disrupted` still allows (counted in `tally`), and say what happened."""
    current = plan.history.current
    failure, hint, rolled_back_to = error.message, error.hint, None
    if current is None:
        failure += "; no previous revision to roll back to (first deploy): left as applied"
    elif isinstance(error, UnreachableError):
        failure += "; cluster unreachable: not rolled back"
    else:
        progress(plan.region, f"rolling back to revision {current.number}", 0.0)
        try:
            await restore(
                client,
                plan.region,
                current.manifests,
                plan.manifests,
                timeout_s,
                progress,
                admin_port=fleet.node.admin_port,
                max_disrupted=max_disrupted,
                tally=tally,
                poll_s=poll_s,
            )
            rolled_back_to = current.number
            attempt = revisions.FailedAttempt(
                digest=plan.digest, image=plan.image, at=revisions.now(), failure=error.message
            )
            await revisions.save(
                client,
                fleet.namespace,
                fleet.name,
                revisions.History(plan.history.revisions, attempt),
            )
        except BcastError as rollback_error:
            failure += f"; rollback to revision {current.number} failed: {rollback_error.message}"
    return RegionDeploy(
        region=plan.region,
        state="rolled-back" if rolled_back_to is not None else "failed",
        previous_revision=current.number if current else None,
        revision=rolled_back_to,
        image=plan.image,
        failure=failure,
        hint=hint,
        rolled_back_to=rolled_back_to,
        duration_s=round(time.monotonic() - started, 3),
    )
