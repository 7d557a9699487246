"""registry: every node agrees on who holds each published stream.

Each node's `/api/cluster` registry (stream id -> holder) is compared with the
majority answer over all answering nodes (ties broken by holder name, so the
verdict is deterministic). A node that names another holder, or does not know a
stream at all, fails and the streams are named.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

from bcastctl.checks.base import Check, CheckContext, CheckResult, Finding, fail, ok
from bcastctl.checks.views import NodeView, cluster_views
from bcastctl.targets.base import RegionEndpoints

NAME: Final = "registry"


class RegistryAgreement(Finding):
    """Scope a node: how its stream registry compares with the majority's."""

    check = NAME
    region: str
    streams: int  # streams in its registry
    disagrees_on: list[str]  # streams it names another holder for, or does not know
    disagrees_with_regions: list[str]  # the majority holders' regions of those streams


def majority_holders(views: Sequence[NodeView]) -> dict[str, tuple[str, str]]:
    """stream -> (holder node, holder region) most nodes report."""
    votes: dict[str, Counter[tuple[str, str]]] = {}
    for view in views:
        if view.view is None:
            continue
        for stream, entry in view.view["registry"].items():
            votes.setdefault(stream, Counter())[(entry["node"], entry["region"])] += 1
    return {
        stream: min(counter.items(), key=lambda item: (-item[1], item[0]))[0]
        for stream, counter in sorted(votes.items())
    }


def judge_node(check: str, view: NodeView, majority: dict[str, tuple[str, str]]) -> CheckResult:
    name, region = view.node.name, view.node.region
    assert view.view is not None
    registry = view.view["registry"]
    wrong: list[str] = []
    far_regions: list[str] = []
    for stream, (holder, holder_region) in majority.items():
        entry = registry.get(stream)
        if entry is None:
            wrong.append(f"{stream} (unknown here; {holder} holds it)")
        elif entry["node"] != holder:
            wrong.append(f"{stream} (says {entry['node']}; most say {holder})")
        else:
            continue
        far_regions.append(holder_region)
    values = RegistryAgreement(
        region=region,
        streams=len(registry),
        disagrees_on=[item.split(" ", 1)[0] for item in wrong],
        disagrees_with_regions=sorted(set(far_regions)),
    ).as_values()
    if wrong:
        return fail(
            check,
            name,
            f"disagrees on {len(wrong)} stream(s): {', '.join(wrong)}",
            hint="a node that cannot see a holder's heartbeats loses its streams: see membership",
            kind="node",
            values=values,
        )
    return ok(check, name, f"agrees on all {len(majority)} stream(s)", kind="node", values=values)


class StreamRegistry(Check):
    name = NAME
    title = "every node agrees on who holds each stream"
    layer = "registry"
    per_region = False

    async def run_fleet(
        self, ctx: CheckContext, regions: Sequence[RegionEndpoints]
    ) -> list[CheckResult]:
        views = await cluster_views(ctx, regions)
        answering = [view for view in views if view.view is not None]
        majority = majority_holders(answering)
        results = [judge_node(self.name, view, majority) for view in answering]
        if not answering:
            results.append(
                fail(
                    self.name,
                    "fleet",
                    "no node answered /api/cluster",
                    hint="see membership for each node's state",
                    kind="fleet",
                )
            )
        return results
