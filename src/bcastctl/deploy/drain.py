"""Rolling the broadcaster pod by pod behind drains, counting the sessions each one cuts.

When the broadcaster StatefulSet already runs and its pod template changes, deploy
applies it with a RollingUpdate `partition` equal to the pods that run (the controller
replaces none), then, highest ordinal first: asks the pod's node to drain (POST
/api/drain on the admin port, through the API server's pod proxy), watches its
`bcast_node_sessions` until they reach 0 or the node's drain deadline passes (the
node exits then and cuts what is left), and lowers the partition to that ordinal so
the StatefulSet controller replaces the pod, waiting until it is updated and ready.
Sessions that ended during the drain are counted as drained, the ones still live at
the deadline as cut.

`max_disrupted` holds at every moment, not only after a pod's deadline: while a pod
drains, when more of its sessions are still live than the region may still cut and its
node's deadline is CANCEL_BEFORE_S away (a quarter of a shorter deadline), the drain is
cancelled (DELETE /api/drain: the node keeps its sessions and takes new ones again) and
the rollout stops (deploy rolls the region back). Only a node that cannot be reached,
or answers too late, cuts.

A pod already running the target template (its `controller-revision-hash` label equals
the StatefulSet's `status.updateRevision`, k8s.io/api apps/v1 types.go) is neither
drained nor replaced: a rollback after a rollout that stopped half-way drains only the
pods the rollout had replaced. `restore` (rollback, and deploy's rollback of a failed
region) rolls the broadcaster this way too, so a rollback cuts viewers no more than a
rollout does.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from dataclasses import dataclass, field

from bcastctl.adapters.kube import KubeClient, Manifest
from bcastctl.deploy.apply import (
    POLL_S,
    RolloutProgress,
    apply_all,
    no_progress,
    prune,
    wait_rollout,
)
from bcastctl.deploy.model import DrainPhase, ObjectChange, PodDrain
from bcastctl.deploy.plan import is_subset
from bcastctl.errors import BcastError, OperationFailed
from bcastctl.model import replace
from bcastctl.render.manifests import object_key

DEADLINE_GRACE_S = 3.0  # the node's own deadline, plus this, before sessions count as cut
CANCEL_BEFORE_S = 2.0  # a drain over budget is cancelled this long before the node's deadline
REVISION_LABEL = "controller-revision-hash"  # set on its pods by the StatefulSet controller
ANSWER_LIMIT = 256 * 1024  # bytes read from a node's drain or metrics answer
DRAIN_ASKS = 3  # a node the pod proxy cannot reach is asked this many times in all
ASK_AGAIN_S = 0.5  # ... waiting this long (at most the poll interval) times the attempts so far
UNREACHED_STATUS = frozenset({502, 503, 504})  # the pod proxy could not dial the pod


@dataclass
class DrainTally:
    """What the drains of one region did so far (kept when the rollout fails)."""

    pods: list[PodDrain] = field(default_factory=list)

    @property
    def drained(self) -> int:
        return sum(p.drained for p in self.pods)

    @property
    def cut(self) -> int:
        return sum(p.cut for p in self.pods)


@dataclass(frozen=True)
class DrainPlan:
    """The broadcaster StatefulSet to roll behind drains, and how many live pods it has."""

    statefulset: Manifest
    pods: int
    namespace: str
    admin_port: int


def plan_drains(
    region: str, manifests: list[Manifest], live: list[Manifest | None], admin_port: int
) -> DrainPlan | None:
    """The drained roll when the live broadcaster's pods would be replaced, else None."""
    name = f"{region}-broadcaster"
    for doc, current in zip(manifests, live, strict=True):
        if doc["kind"] != "StatefulSet" or doc["metadata"]["name"] != name or current is None:
            continue
        template = doc.get("spec", {}).get("template", {})
        held = (current.get("spec", {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
        same = is_subset(template, current.get("spec", {}).get("template", {}))
        if same and not held.get("partition"):
            return None  # same pod template, no pod held back on another: none is replaced
        running = min(
            int(current.get("spec", {}).get("replicas", 1)),
            int(doc.get("spec", {}).get("replicas", 1)),
        )
        namespace = str(doc["metadata"].get("namespace", ""))
        return DrainPlan(doc, running, namespace, admin_port) if running else None
    return None


def partitioned(statefulset: Manifest, partition: int) -> Manifest:
    """The StatefulSet with a RollingUpdate partition: pods below it keep the old template."""
    doc = copy.deepcopy(statefulset)
    doc["spec"]["updateStrategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": partition},
    }
    return doc


def staged(manifests: list[Manifest], plan: DrainPlan | None) -> list[Manifest]:
    """What to apply first: the broadcaster held at partition = its live pods."""
    if plan is None:
        return manifests
    held = partitioned(plan.statefulset, plan.pods)
    return [held if doc is plan.statefulset else doc for doc in manifests]


def _json(data: bytes) -> dict[str, object]:
    try:
        answer = json.loads(data[:ANSWER_LIMIT])
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _gauge(text: str, name: str) -> float | None:
    for line in text.splitlines():
        metric, _, value = line.partition(" ")
        if metric == name:
            try:
                return float(value.strip())
            except ValueError:
                return None
    return None


async def _sessions(client: KubeClient, plan: DrainPlan, pod: str) -> int | None:
    """Live sessions of the draining node; None once it stopped draining (it exited)."""
    try:
        status, data = await client.proxy("GET", plan.namespace, pod, plan.admin_port, "/metrics")
    except BcastError:
        return None
    text = data[:ANSWER_LIMIT].decode("utf-8", "replace") if status == 200 else ""
    sessions = _gauge(text, "bcast_node_sessions")
    if sessions is None or not _gauge(text, "bcast_node_draining"):
        return None
    return int(sessions)


class DrainCancelled(OperationFailed):
    """A drain backed off before it cut more sessions than `max_disrupted` allows."""

    def __init__(self, message: str, drain: PodDrain) -> None:
        super().__init__(message, hint="let sessions end first, or allow more with --max-disrupted")
        self.drain = drain


async def _cancel_drain(client: KubeClient, plan: DrainPlan, pod: str) -> bool:
    try:
        status, _ = await client.proxy("DELETE", plan.namespace, pod, plan.admin_port, "/api/drain")
    except BcastError:
        return False
    return status == 200


async def _ask_to_drain(
    client: KubeClient, plan: DrainPlan, pod: str, poll_s: float
) -> tuple[int, bytes] | str:
    """POST /api/drain, asked again (DRAIN_ASKS in all) while the node cannot be reached: the
    pod proxy answers a pod it cannot dial with 502/503/504 at once, and a pod replaced
    undrained cuts its viewers, so a blip of the network (a timeout, no route) is waited
    out; a refused connection (nothing listens) is not. The last answer, or why there was
    none."""
    problem = ""
    for attempt in range(1, DRAIN_ASKS + 1):
        if attempt > 1:
            await asyncio.sleep(min(ASK_AGAIN_S, poll_s) * (attempt - 1))
        try:
            status, data = await client.proxy(
                "POST", plan.namespace, pod, plan.admin_port, "/api/drain"
            )
        except BcastError as e:
            problem = e.message
            continue
        if status not in UNREACHED_STATUS or attempt == DRAIN_ASKS or _refused(data):
            return status, data
    return problem


def _refused(data: bytes) -> bool:
    """The API server reached the pod's address and nothing listened there ("error trying
    to reach service: dial tcp IP:PORT: connect: connection refused", apimachinery's proxy
    transport): no node to drain, not a blip; asking again would only wait."""
    return "connection refused" in str(_json(data).get("message", ""))


async def drain_pod(
    client: KubeClient,
    plan: DrainPlan,
    pod: str,
    budget: int | None = None,
    *,
    poll_s: float = POLL_S,
) -> PodDrain:
    """Drain one pod's node and wait until its sessions are gone or its deadline passed;
    with a `budget` (sessions it may cut), cancel the drain before cutting more."""
    started = time.monotonic()
    asked = await _ask_to_drain(client, plan, pod, poll_s)
    if isinstance(asked, str):
        return PodDrain(pod=pod, note=f"not drained: {asked}")
    status, data = asked
    answer = _json(data)
    sessions, left = answer.get("sessions"), answer.get("deadline_s")
    if status != 202 or not isinstance(sessions, int) or not isinstance(left, int | float):
        return PodDrain(pod=pod, note=f"not drained: the node answered {status} to /api/drain")
    node_deadline = started + float(left)
    deadline = node_deadline + DEADLINE_GRACE_S
    margin = min(CANCEL_BEFORE_S, float(left) / 4)  # a short drain deadline: a shorter margin
    back_off = node_deadline - margin
    last, interval = sessions, min(0.1, poll_s)
    while last > 0 and time.monotonic() < deadline:
        over = budget is not None and last > budget
        if over and time.monotonic() >= back_off and await _cancel_drain(client, plan, pod):
            kept = PodDrain(
                pod=pod,
                sessions=sessions,
                drained=sessions - last,
                waited_s=round(time.monotonic() - started, 3),
                note=f"drain cancelled: {last} session(s) still live, {budget} may be cut",
            )
            raise DrainCancelled(
                f"{pod}: {last} session(s) still live {margin:.1f} s before its drain "
                f"deadline, more than --max-disrupted leaves ({budget}); drain cancelled, "
                "no session cut; rollout stopped",
                kept,
            )
        wake = back_off if over and time.monotonic() < back_off else deadline
        await asyncio.sleep(min(interval, max(0.0, wake - time.monotonic())))
        interval = min(interval * 2, poll_s)
        now = await _sessions(client, plan, pod)
        if now is None:  # the node exited: before its deadline only once it was empty
            last = last if time.monotonic() >= node_deadline else 0
            break
        last = now
    return PodDrain(
        pod=pod,
        sessions=sessions,
        drained=max(0, sessions - last),
        cut=last,
        waited_s=round(time.monotonic() - started, 3),
    )


async def _pod_replaced(
    client: KubeClient, region: str, plan: DrainPlan, ordinal: int, timeout_s: float, poll_s: float
) -> None:
    """Until the StatefulSet reports the pods from `ordinal` up updated and all ready."""
    name = plan.statefulset["metadata"]["name"]
    want = plan.pods - ordinal
    loop = asyncio.get_running_loop()
    deadline, interval = loop.time() + timeout_s, min(0.05, poll_s)
    while True:
        sts = await client.get("apps/v1", "StatefulSet", name, plan.namespace) or {}
        status = sts.get("status", {})
        replicas = int(sts.get("spec", {}).get("replicas", 1))
        generation = sts.get("metadata", {}).get("generation", 0)
        ready, updated = int(status.get("readyReplicas", 0)), int(status.get("updatedReplicas", 0))
        if (
            status.get("observedGeneration", 0) >= generation
            and updated >= want
            and (ready >= replicas)
        ):
            return
        if loop.time() + interval > deadline:
            raise OperationFailed(
                f"{region}: rollout not done after {timeout_s:g} s: StatefulSet {name}: "
                f"{ready}/{replicas} ready, {updated}/{replicas} updated "
                f"(replacing {name}-{ordinal})",
                hint="look at the pods (kubectl describe statefulset); --timeout gives more time",
            )
        await asyncio.sleep(interval)
        interval = min(interval * 2, poll_s)


async def _update_revision(
    client: KubeClient, plan: DrainPlan, timeout_s: float, poll_s: float
) -> str:
    """The StatefulSet's update revision once its controller has seen the latest spec."""
    name = plan.statefulset["metadata"]["name"]
    deadline = time.monotonic() + timeout_s
    while True:
        sts = await client.get("apps/v1", "StatefulSet", name, plan.namespace) or {}
        status = sts.get("status", {})
        seen = status.get("observedGeneration", 0) >= sts.get("metadata", {}).get("generation", 0)
        if seen or time.monotonic() > deadline:
            return str(status.get("updateRevision", "")) if seen else ""
        await asyncio.sleep(min(0.05, poll_s))


async def _at_revision(client: KubeClient, plan: DrainPlan, pod: str, revision: str) -> bool:
    live = await client.get("v1", "Pod", pod, plan.namespace) if revision else None
    labels = (live or {}).get("metadata", {}).get("labels", {})
    return bool(revision) and labels.get(REVISION_LABEL) == revision


async def roll_pods(
    client: KubeClient,
    region: str,
    plan: DrainPlan,
    tally: DrainTally,
    *,
    max_disrupted: int | None,
    timeout_s: float,
    progress: RolloutProgress,
    poll_s: float = POLL_S,
    phase: DrainPhase = "rollout",
) -> None:
    """Drain and replace the pods one by one, highest ordinal first (see the module doc);
    each drain is recorded in `tally` under `phase`."""
    name = plan.statefulset["metadata"]["name"]
    revision = await _update_revision(client, plan, timeout_s, poll_s)
    partition = plan.pods
    for ordinal in reversed(range(plan.pods)):
        pod = f"{name}-{ordinal}"
        if await _at_revision(client, plan, pod, revision):
            continue  # it runs the target template already: nothing to drain or replace
        progress(region, f"draining {pod}", (plan.pods - ordinal - 1) / plan.pods)
        budget = None if max_disrupted is None else max(0, max_disrupted - tally.cut)
        try:
            drain = await drain_pod(client, plan, pod, budget, poll_s=poll_s)
            tally.pods.append(replace(drain, phase=phase))
        except DrainCancelled as e:
            tally.pods.append(replace(e.drain, phase=phase))
            raise OperationFailed(f"{region}: {e.message}", hint=e.hint) from None
        if max_disrupted is not None and tally.cut > max_disrupted:  # the node answered late
            raise OperationFailed(
                f"{region}: {tally.cut} session(s) cut at the drain deadline "
                f"({pod}: {tally.pods[-1].cut}), more than --max-disrupted {max_disrupted}; "
                "rollout stopped",
                hint="let sessions end first, or allow more with --max-disrupted",
            )
        progress(region, f"replacing {pod}", (plan.pods - ordinal - 0.5) / plan.pods)
        partition = ordinal
        await client.apply(partitioned(plan.statefulset, ordinal), force=True)
        await _pod_replaced(client, region, plan, ordinal, timeout_s, poll_s)
    if partition:  # the pods left below it run the target template already
        await client.apply(partitioned(plan.statefulset, 0), force=True)
        await _pod_replaced(client, region, plan, 0, timeout_s, poll_s)


async def restore(
    client: KubeClient,
    region: str,
    manifests: list[Manifest],
    replacing: list[Manifest],
    timeout_s: float,
    progress: RolloutProgress = no_progress,
    *,
    admin_port: int,
    max_disrupted: int | None = None,
    tally: DrainTally | None = None,
    poll_s: float = POLL_S,
) -> list[ObjectChange]:
    """Make `manifests` live again: apply them (taking fields over), prune the rest, roll
    the broadcaster's replaced pods back behind drains as a rollout would, wait."""
    keep = {object_key(doc) for doc in manifests}
    broadcaster = f"{region}-broadcaster"
    live = [
        await client.get("apps/v1", "StatefulSet", broadcaster, doc["metadata"].get("namespace"))
        if doc["kind"] == "StatefulSet" and doc["metadata"]["name"] == broadcaster
        else None
        for doc in manifests
    ]
    drains = plan_drains(region, manifests, live, admin_port)
    changes = await apply_all(
        client, region, staged(manifests, drains), force=True, progress=progress
    )
    changes += await prune(client, [d for d in replacing if object_key(d) not in keep])
    if drains is not None:
        await roll_pods(
            client,
            region,
            drains,
            tally if tally is not None else DrainTally(),
            max_disrupted=max_disrupted,
            timeout_s=timeout_s,
            progress=progress,
            poll_s=poll_s,
            phase="rollback",
        )
    await wait_rollout(client, region, manifests, timeout_s, progress, poll_s=poll_s)
    return changes
