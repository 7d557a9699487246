"""A node's membership view (GET /api/cluster on its admin port) and who it sees."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from bcastctl.errors import UnreachableError
from bcastctl.protocol import ClusterView
from bcastctl.readers.source import JsonSource

CLUSTER_PATH = "/api/cluster"


async def read_cluster_view(source: JsonSource) -> ClusterView:
    """The node's view; UnreachableError when it does not answer or answers something else."""
    data = await source.get_json(CLUSTER_PATH)
    if not isinstance(data, dict) or not isinstance(data.get("members"), list):
        raise UnreachableError(f"{source.url}{CLUSTER_PATH}: unexpected answer")
    return cast(ClusterView, data)


def member_names(view: ClusterView) -> set[str]:
    """The other live nodes this node sees (its `Node.list()`)."""
    return {member["name"] for member in view["members"]}


def unseen(view: ClusterView, expected: Iterable[str]) -> list[str]:
    """Expected nodes (other than the node itself) missing from its view, sorted."""
    return sorted(set(expected) - {view["node"]["name"]} - member_names(view))
