"""Every node's /api/cluster view, fetched once per run and shared by membership and registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bcastctl.checks.base import CheckContext
from bcastctl.errors import BcastError
from bcastctl.protocol import ClusterView
from bcastctl.readers.cluster import member_names, read_cluster_view
from bcastctl.targets.base import EndpointSource, NodeEndpoints, RegionEndpoints


@dataclass(frozen=True)
class NodeView:
    node: NodeEndpoints
    view: ClusterView | None  # None: the node did not answer (see `error`)
    error: str | None = None

    @property
    def members(self) -> set[str]:
        return member_names(self.view) if self.view else set()


async def _one(ctx: CheckContext, node: NodeEndpoints) -> NodeView:
    if node.admin is None:
        return NodeView(node, None, "not running (no admin endpoint)")
    try:
        view = await read_cluster_view(EndpointSource(ctx.target, node.admin, ctx.timeout_s))
    except BcastError as e:
        return NodeView(node, None, e.message)
    return NodeView(node, view)


async def cluster_views(ctx: CheckContext, regions: Sequence[RegionEndpoints]) -> list[NodeView]:
    """The view of every expected node of `regions`, in region then node order."""

    async def fetch() -> list[NodeView]:
        nodes = [node for region in regions for node in region.nodes]
        answers = await ctx.gather([_one(ctx, node) for node in nodes])
        return [
            answer if isinstance(answer, NodeView) else NodeView(node, None, str(answer))
            for node, answer in zip(nodes, answers, strict=True)
        ]

    key = "cluster-views:" + ",".join(region.name for region in regions)
    return await ctx.shared(key, fetch)


async def expected_nodes(ctx: CheckContext) -> tuple[dict[str, str], set[str]]:
    """Every expected node of the whole fleet -> its region; and the regions we could not ask."""
    expected: dict[str, str] = {}
    unknown: set[str] = set()
    for name, region in (await ctx.all_regions()).items():
        if isinstance(region, RegionEndpoints):
            expected.update({node.name: region.name for node in region.nodes})
        else:
            unknown.add(name)
    return expected, unknown
