"""`rollback --region R` and `status`: the revision history put to use."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bcastctl.adapters.kube import KubeClient
from bcastctl.deploy import revisions
from bcastctl.deploy.apply import RolloutProgress, no_progress
from bcastctl.deploy.connect import connect_regions
from bcastctl.deploy.drain import DrainTally, restore
from bcastctl.deploy.model import RegionStatus, RollbackResult, StatusResult
from bcastctl.errors import BcastError, ConfigError, ExitCode, UnreachableError
from bcastctl.fleet import Fleet


async def rollback(
    fleet: Fleet,
    region: str,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    timeout_s: float | None = None,
    max_disrupted: int | None = None,
    progress: RolloutProgress = no_progress,
) -> RollbackResult:
    """Make the revision before the live one live again (recorded as a new revision)."""
    connected = await connect_regions(fleet, [region], kubeconfig, context, 10.0)
    client = connected.clients[region]
    try:
        history = await revisions.load(client, fleet.namespace)
        current, previous = history.current, history.previous
        if current is None or previous is None:
            have = "no revision" if current is None else f"only revision {current.number}"
            raise ConfigError(
                f"{region}: nothing to roll back to ({have} in "
                f"{fleet.namespace}/{revisions.CONFIGMAP})",
                hint="bcastctl keeps the last revisions it deployed; deploy at least twice",
            )
        tally = DrainTally()
        changes = await restore(
            client,
            region,
            previous.manifests,
            current.manifests,
            timeout_s or fleet.rollout.timeout_s,
            progress,
            admin_port=fleet.node.admin_port,
            max_disrupted=max_disrupted,
            tally=tally,
        )
        source = f"rollback of {current.number} to {previous.number}"
        saved = await revisions.save(
            client,
            fleet.namespace,
            fleet.name,
            revisions.added(history, previous.manifests, source, "skipped"),
        )
        return RollbackResult(
            fleet=fleet.name,
            region=region,
            from_revision=current.number,
            to_revision=saved.revisions[-1].number,
            changes=changes,
            state="rolled-back",
            exit_code=0,
            sessions_drained=tally.drained,
            sessions_cut=tally.cut,
            drains=tally.pods,
        )
    finally:
        connected.close()


async def _region_status(client: KubeClient, fleet: Fleet, region: str) -> RegionStatus:
    try:
        history, sts = await asyncio.gather(
            revisions.load(client, fleet.namespace),
            client.get("apps/v1", "StatefulSet", f"{region}-broadcaster", fleet.namespace),
        )
    except BcastError as e:
        unreachable = isinstance(e, UnreachableError)
        return RegionStatus(region=region, reachable=not unreachable, error=e.message)
    current = history.current
    containers = (
        (sts or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])
    )
    attempt = history.last_failed_attempt
    return RegionStatus(
        region=region,
        reachable=True,
        revision=current.number if current else None,
        applied_at=current.applied_at if current else None,
        image=containers[0].get("image") if sts else None,
        replicas=(sts or {}).get("spec", {}).get("replicas"),
        ready_replicas=(sts or {}).get("status", {}).get("readyReplicas", 0) if sts else None,
        gate=current.gate if current else None,
        last_attempt=attempt.describe() if attempt else None,
    )


async def status(
    fleet: Fleet,
    regions: Sequence[str] | None = None,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> StatusResult:
    connected = await connect_regions(fleet, regions, kubeconfig, context, 10.0)
    try:
        rows = await asyncio.gather(
            *(_region_status(connected.clients[r], fleet, r) for r in connected.regions)
        )
    finally:
        connected.close()
    if any(not row.reachable for row in rows):
        code = ExitCode.UNREACHABLE
    elif any(row.error for row in rows):
        code = ExitCode.CONFIG
    else:
        code = ExitCode.OK
    return StatusResult(fleet=fleet.name, regions=list(rows), exit_code=int(code))
