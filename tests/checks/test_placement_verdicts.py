"""placement's verdicts, table-driven, no lab: judge_node and judge_region."""

from __future__ import annotations

import pytest
from verdict_kit import silent, view

from bcastctl.checks import placement
from bcastctl.checks.base import Status
from bcastctl.checks.views import NodeView
from bcastctl.protocol import NodeLoad


def loaded(
    name: str,
    sees: dict[str, str],
    sessions: int = 1,
    *,
    max_sessions: int = 3,
    draining: bool = False,
    left_s: float = 0.0,
) -> NodeView:
    found = view(name, "a", sees)
    assert found.view is not None
    found.view["load"] = NodeLoad(
        sessions=sessions,
        max_sessions=max_sessions,
        cpu=0.25,
        draining=draining,
        drain_left_s=left_s,
    )
    return found


# (case, a-0 as it answers, status, message fragment)
NODES = [
    ("takes sessions", loaded("a-0", {"a-1": "a"}), Status.ok, "1/3 sessions, CPU 0.25"),
    ("draining", loaded("a-0", {"a-1": "a"}, draining=True, left_s=12), Status.warn,
     "draining: takes no new session, 12 s to its deadline"),
    ("stuck draining", loaded("a-0", {"a-1": "a"}, draining=True, left_s=0), Status.fail,
     "stuck draining"),
    ("unseen by its region", loaded("a-0", {"a-1": "a"}), Status.fail,
     "not reachable for placement: a-1 do not see it"),
    ("silent", silent("a-0", "a"), Status.skip, "no load known"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "node", "status", "says"), NODES)
def test_judge_node(case: str, node: NodeView, status: Status, says: str) -> None:
    sees_a0 = {} if case == "unseen by its region" else {"a-0": "a"}
    peer = loaded("a-1", sees_a0)
    result = placement.judge_node(node, [node, peer])
    assert result.status == status, case
    assert says in result.message, result.message
    finding = placement.NodeLoadFinding.of(result)
    if status != Status.skip:
        assert finding is not None and finding.max_sessions == 3


def test_a_region_without_room_fails_and_a_draining_node_adds_no_capacity() -> None:
    full = placement.judge_region(
        "a", [loaded("a-0", {}, sessions=3), loaded("a-1", {}, sessions=2, draining=True)]
    )
    assert full is not None and full.status == Status.fail and "no room left" in full.message
    capacity = placement.RegionCapacity.of(full)
    assert capacity == placement.RegionCapacity(sessions=5, capacity=3, draining=["a-1"])
    busy = placement.judge_region("a", [loaded("a-0", {}, sessions=9, max_sessions=10)])
    assert busy is not None and busy.status == Status.warn
    room = placement.judge_region("a", [loaded("a-0", {}, sessions=1), loaded("a-1", {})])
    assert room is not None and room.status == Status.ok and "room for 4 more" in room.message
    assert placement.judge_region("a", [silent("a-0", "a")]) is None
