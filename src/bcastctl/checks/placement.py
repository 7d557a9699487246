"""placement: every node can take sessions or says why not, and no region is over capacity.

Per node (scope: the node name), from its `/api/cluster` (`load`): sessions, max,
CPU and whether it drains. A node the other answering nodes of its region do not see
cannot be handed offers (placement goes through the membership): fail. A draining
node warns (it takes no new session) and fails once its drain deadline has passed
while it still runs (stuck draining). Per region: sessions against the capacity of
its nodes that take sessions; a region with no room left fails (its viewers are
redirected to other regions or refused), one at 90 % or more warns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bcastctl.checks.base import Check, CheckContext, CheckResult, Finding, fail, ok, skip, warn
from bcastctl.checks.views import NodeView, cluster_views
from bcastctl.targets.base import RegionEndpoints

NAME: Final = "placement"
BUSY_SHARE = 0.9


class NodeLoadFinding(Finding):
    """Scope a node that answered with its load."""

    check = NAME
    region: str
    sessions: int
    max_sessions: int
    cpu: float
    draining: bool
    unseen_by: list[str]  # answering nodes of its region that do not list it


class RegionCapacity(Finding):
    """Scope a region: its sessions against the capacity of nodes taking sessions."""

    check = NAME
    sessions: int
    capacity: int  # max_sessions summed over its answering nodes that are not draining
    draining: list[str]


def judge_node(view: NodeView, peers: Sequence[NodeView]) -> CheckResult:
    name, region = view.node.name, view.node.region
    load = view.view.get("load") if view.view is not None else None
    if view.view is None or load is None:
        why = view.error or "its /api/cluster has no load (an older node)"
        return skip(NAME, name, f"no load known: {why}", kind="node")
    unseen_by = sorted(
        p.node.name
        for p in peers
        if p.view is not None and p.node.name != name and name not in p.members
    )
    values = NodeLoadFinding(
        region=region,
        sessions=load["sessions"],
        max_sessions=load["max_sessions"],
        cpu=load["cpu"],
        draining=load["draining"],
        unseen_by=unseen_by,
    ).as_values()
    usage = f"{load['sessions']}/{load['max_sessions']} sessions, CPU {load['cpu']:.2f}"
    if unseen_by:
        return fail(
            NAME,
            name,
            f"not reachable for placement: {', '.join(unseen_by)} do not see it ({usage})",
            hint="offers are handed only to members: see membership and nats-gateways",
            kind="node",
            values=values,
        )
    if load["draining"] and load["drain_left_s"] <= 0:
        return fail(
            NAME,
            name,
            f"stuck draining: past its drain deadline and still running ({usage})",
            hint=f"{name} should have exited: look at its log; restart it",
            kind="node",
            values=values,
        )
    if load["draining"]:
        left = f"{load['drain_left_s']:.0f} s"
        message = f"draining: takes no new session, {left} to its deadline ({usage})"
        return warn(NAME, name, message, kind="node", values=values)
    return ok(NAME, name, usage, kind="node", values=values)


def judge_region(region: str, views: Sequence[NodeView]) -> CheckResult | None:
    loads = [(v.node.name, v.view["load"]) for v in views if v.view and "load" in v.view]
    if not loads:
        return None
    sessions = sum(load["sessions"] for _, load in loads)
    capacity = sum(load["max_sessions"] for _, load in loads if not load["draining"])
    taking = sum(load["sessions"] for _, load in loads if not load["draining"])
    draining = sorted(name for name, load in loads if load["draining"])
    values = RegionCapacity(sessions=sessions, capacity=capacity, draining=draining).as_values()
    text = f"{sessions} sessions; room for {capacity - taking} more on {capacity} capacity"
    if taking >= capacity:
        return fail(
            NAME,
            region,
            f"no room left: {text}",
            hint="new viewers are redirected to other regions or refused: add replicas "
            "or raise node.max_sessions",
            values=values,
        )
    if taking >= BUSY_SHARE * capacity:
        return warn(NAME, region, f"nearly full: {text}", values=values)
    return ok(NAME, region, text, values=values)


class PlacementCheck(Check):
    name = NAME
    title = "every node takes sessions or says why not; no region over capacity"
    layer = "membership"
    per_region = False

    async def run_fleet(
        self, ctx: CheckContext, regions: Sequence[RegionEndpoints]
    ) -> list[CheckResult]:
        views = await cluster_views(ctx, regions)
        results: list[CheckResult] = []
        for region in regions:
            mine = [v for v in views if v.node.region == region.name]
            results += [judge_node(view, mine) for view in mine]
            capacity = judge_region(region.name, mine)
            results += [capacity] if capacity is not None else []
        return results
