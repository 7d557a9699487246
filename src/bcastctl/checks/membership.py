"""membership: every node sees exactly the expected nodes, and nobody is rejected.

Per node (scope: the node name): its `/api/cluster` members against the expected
set from the target (every node of every region but itself). Missing nodes fail,
unexpected live members warn, rejected peers (heartbeats with a bad signature:
a wrong cluster secret) fail and are named. A node that answers but is not
connected to NATS fails as such (`off_nats`): it sees nobody and nobody sees it,
and the root cause says so rather than blaming membership. Fleet-wide (scope "fleet"): the
answering nodes are grouped by who sees whom; more than one group is a
partition, named group by group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bcastctl.checks.base import Check, CheckContext, CheckResult, Finding, fail, ok, warn
from bcastctl.checks.views import NodeView, cluster_views, expected_nodes
from bcastctl.targets.base import RegionEndpoints

NAME: Final = "membership"


class NodeMembership(Finding):
    """Scope a node that answered: who it sees against who it should."""

    check = NAME
    region: str
    members: int  # other nodes it sees
    expected: int  # other nodes it should see
    missing: list[str]  # expected nodes it does not see
    missing_regions: list[str]  # the region of each missing node, in the same order
    extra: list[str]  # live nodes outside the expected set
    rejected: list[str]  # peers whose heartbeats fail the signature (cluster secret)


class SilentNode(Finding):
    """Scope a node whose admin endpoint does not answer."""

    check = NAME
    region: str
    unreachable: bool


class OffNats(Finding):
    """Scope a node that answers but is not connected to NATS (it sees nobody)."""

    check = NAME
    region: str
    off_nats: bool


class Partition(Finding):
    """Scope "fleet": region pairs whose answering nodes do not see each other."""

    check = NAME
    split_pairs: list[str]  # "A<->B"


def split_pairs(views: Sequence[NodeView], expected: dict[str, str]) -> list[tuple[str, str]]:
    """Region pairs whose answering nodes do not see each other (a partition).

    Nodes that do not answer are down, and nodes off NATS are off NATS, not
    partitioned; gateways do not route
    through a third region, so A and B can be split while both still see C.
    """
    on_nats = [v for v in views if v.view is not None and v.view["nats_connected"]]
    answering = {v.node.name: v.node.region for v in on_nats}
    pairs: set[tuple[str, str]] = set()
    for view in on_nats:
        for missing in set(expected) - view.members - {view.node.name}:
            if missing in answering:
                a, b = sorted((view.node.region, expected[missing]))
                pairs.add((a, b))
    return sorted(pairs)


def _silent(check: str, view: NodeView) -> CheckResult:
    name = view.node.name
    return fail(
        check,
        name,
        f"node does not answer: {view.error}",
        hint=f"is {name} running? look at its logs",
        kind="node",
        values=SilentNode(region=view.node.region, unreachable=True).as_values(),
    )


def _off_nats(check: str, view: NodeView) -> CheckResult:
    name = view.node.name
    return fail(
        check,
        name,
        "not connected to NATS: it sees no other node and no other node sees it",
        hint=f"look at {name}'s log for NATS errors (credentials, -ERR) and at its region's NATS",
        kind="node",
        values=OffNats(region=view.node.region, off_nats=True).as_values(),
    )


def judge_node(
    check: str, view: NodeView, expected: dict[str, str], unknown_regions: set[str]
) -> CheckResult:
    name, region = view.node.name, view.node.region
    if view.view is None:
        return _silent(check, view)
    if not view.view["nats_connected"]:
        return _off_nats(check, view)
    members = view.members
    want = set(expected) - {name}
    missing = sorted(want - members)
    extra = sorted(m for m in members - want if m != name)
    extra = [m for m in extra if not _in_unknown_region(view, m, unknown_regions)]
    rejected = sorted({peer["name"] for peer in view.view["rejected"]})
    values = NodeMembership(
        region=region,
        members=len(members),
        expected=len(want),
        missing=missing,
        missing_regions=[expected[m] for m in missing],
        extra=extra,
        rejected=rejected,
    ).as_values()
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if rejected:
        reasons = sorted({peer["reason"] for peer in view.view["rejected"]})
        problems.append(f"rejected {', '.join(rejected)} ({'; '.join(reasons)})")
    if problems:
        hint = (
            "rejected peers sign heartbeats with another cluster secret"
            if rejected
            else "a missing node is down or cut off: see nats-gateways"
        )
        return fail(check, name, "; ".join(problems), hint=hint, kind="node", values=values)
    if extra:
        return warn(
            check,
            name,
            f"sees unexpected node(s) {', '.join(extra)}",
            hint="a node outside the expected set joined with the fleet's secret",
            kind="node",
            values=values,
        )
    return ok(check, name, f"sees all {len(want)} other node(s)", kind="node", values=values)


def judge_fleet(check: str, pairs: Sequence[tuple[str, str]], answering: int) -> CheckResult | None:
    """The fleet-wide result: a partition fails; none among answering nodes is ok."""
    if pairs:
        named = ", ".join(f"{a} -x- {b}" for a, b in pairs)
        return fail(
            check,
            "fleet",
            f"partition: nodes cannot see each other across {named}",
            hint="heartbeats between these regions do not arrive: see nats-gateways",
            kind="fleet",
            values=Partition(split_pairs=[f"{a}<->{b}" for a, b in pairs]).as_values(),
        )
    if answering:
        message = f"no partition among {answering} answering node(s)"
        return ok(check, "fleet", message, kind="fleet")
    return None


def _in_unknown_region(view: NodeView, member: str, unknown_regions: set[str]) -> bool:
    assert view.view is not None
    regions = {m["name"]: m["region"] for m in view.view["members"]}
    return regions.get(member) in unknown_regions


class MembershipCheck(Check):
    name = NAME
    title = "every node sees every expected node, nobody rejected"
    layer = "membership"
    per_region = False

    async def run_fleet(
        self, ctx: CheckContext, regions: Sequence[RegionEndpoints]
    ) -> list[CheckResult]:
        expected, unknown_regions = await expected_nodes(ctx)
        views = await cluster_views(ctx, regions)
        results = [judge_node(self.name, view, expected, unknown_regions) for view in views]
        answering = sum(1 for view in views if view.view is not None)
        fleet = judge_fleet(self.name, split_pairs(views, expected), answering)
        return results + ([fleet] if fleet is not None else [])
