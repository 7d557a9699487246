"""Writing to one region: server-side apply in order, pruning, and waiting for rollout.

Apply is one object at a time in render's dependency order (namespace and RBAC, NATS,
STUNner, broadcaster), with field manager `bcastctl`. The wait polls the StatefulSets
(updated and ready at the current generation) and the STUNner Gateway (Programmed)
under one deadline, and says what it was still waiting for when the deadline passes.
Waits look again after 50 ms, then twice as long each time, up to `poll_s` (POLL_S, or
`deploy --poll-interval`). (`drain.restore` makes an earlier revision live again, rolling
the broadcaster behind drains.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from bcastctl.adapters.kube import KubeClient, Manifest
from bcastctl.deploy.model import ObjectChange
from bcastctl.deploy.plan import change, is_subset
from bcastctl.errors import OperationFailed
from bcastctl.render.signalling import ENTRY_ROLE, ROLE_LABEL

RolloutProgress = Callable[[str, str, float], None]  # region, what is happening, fraction done
POLL_S: Final = 1.0  # the longest gap between two looks while deploy waits (--poll-interval)


def no_progress(region: str, what: str, fraction: float) -> None:
    return None


async def apply_all(
    client: KubeClient,
    region: str,
    manifests: list[Manifest],
    *,
    force: bool,
    progress: RolloutProgress = no_progress,
    live: list[Manifest | None] | None = None,
) -> list[ObjectChange]:
    """Apply every object in order; the objects the server actually changed."""
    changes: list[ObjectChange] = []
    before = live or [None] * len(manifests)
    for index, (doc, current) in enumerate(zip(manifests, before, strict=True)):
        progress(region, f"apply {doc['kind']}/{doc['metadata']['name']}", index / len(manifests))
        after = await client.apply(doc, force=force)
        old_version = (current or {}).get("metadata", {}).get("resourceVersion")
        if current is None:
            changes.append(change("create", doc))
        elif after.get("metadata", {}).get("resourceVersion") != old_version:
            changes.append(change("update", doc))
    return changes


async def check_conflicts(
    client: KubeClient, manifests: list[Manifest], live: list[Manifest | None]
) -> None:
    """Server-side dry run of every live object that would change: ApplyConflict first.

    A conflict found half-way through the real apply would leave the region half
    updated; found here, the region is left exactly as it was.
    """
    changing = [  # an object we create has no other field manager yet: nothing to conflict
        doc
        for doc, current in zip(manifests, live, strict=True)
        if current is not None and not is_subset(doc, current)
    ]
    await asyncio.gather(*(client.apply(doc, dry_run=True) for doc in changing))


async def prune(client: KubeClient, stale: list[Manifest]) -> list[ObjectChange]:
    """Delete objects a previous revision applied that the new one no longer has."""
    deleted: list[ObjectChange] = []
    for doc in reversed(stale):
        meta = doc["metadata"]
        if await client.delete(doc["apiVersion"], doc["kind"], meta["name"], meta.get("namespace")):
            deleted.append(change("delete", doc))
    return deleted


def _statefulset_waiting(sts: Manifest | None, name: str) -> str | None:
    if sts is None:
        return f"StatefulSet {name} does not exist"
    spec_replicas = int(sts.get("spec", {}).get("replicas", 1))
    status = sts.get("status", {})
    generation = sts["metadata"].get("generation", 0)
    ready = int(status.get("readyReplicas", 0))
    updated = int(status.get("updatedReplicas", 0))
    if status.get("observedGeneration", 0) < generation:
        return f"StatefulSet {name}: generation {generation} not observed yet"
    if updated < spec_replicas or ready < spec_replicas:
        return (
            f"StatefulSet {name}: {ready}/{spec_replicas} ready, {updated}/{spec_replicas} updated"
        )
    if status.get("currentRevision") != status.get("updateRevision"):
        return f"StatefulSet {name}: rolling update to {status.get('updateRevision')} in progress"
    return None


def _gateway_waiting(gateway: Manifest | None, name: str) -> str | None:
    if gateway is None:
        return f"Gateway {name} does not exist"
    conditions = gateway.get("status", {}).get("conditions", [])
    programmed = any(
        c.get("type") == "Programmed" and c.get("status") == "True" for c in conditions
    )
    return None if programmed else f"Gateway {name} not Programmed"


async def _still_waiting(client: KubeClient, watched: list[Manifest]) -> list[str]:
    live = await asyncio.gather(
        *(
            client.get(
                d["apiVersion"], d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")
            )
            for d in watched
        )
    )
    waiting: list[str] = []
    for doc, current in zip(watched, live, strict=True):
        judge = _statefulset_waiting if doc["kind"] == "StatefulSet" else _gateway_waiting
        if (reason := judge(current, doc["metadata"]["name"])) is not None:
            waiting.append(reason)
    return waiting


async def wait_rollout(
    client: KubeClient,
    region: str,
    manifests: list[Manifest],
    timeout_s: float,
    progress: RolloutProgress = no_progress,
    *,
    poll_s: float = POLL_S,
) -> None:
    """Until StatefulSets are updated and ready and Gateways programmed, or the deadline.

    The signalling entry's multi-cluster Gateway is not waited for: GKE takes minutes to
    provision its global load balancer; the health gate's kube-signalling-entry judges it.
    """
    watched = [
        d
        for d in manifests
        if d["kind"] in ("StatefulSet", "Gateway")
        and d["metadata"].get("labels", {}).get(ROLE_LABEL) != ENTRY_ROLE
    ]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    interval = min(0.05, poll_s)
    while True:
        waiting = await _still_waiting(client, watched)
        done = (len(watched) - len(waiting)) / max(1, len(watched))
        progress(region, waiting[0] if waiting else "rolled out", done)
        if not waiting:
            return
        if loop.time() + interval > deadline:
            raise OperationFailed(
                f"{region}: rollout not done after {timeout_s:g} s: {'; '.join(waiting)}",
                hint="look at the pods (kubectl describe statefulset); --timeout gives more time",
            )
        await asyncio.sleep(interval)
        interval = min(interval * 2, poll_s)
