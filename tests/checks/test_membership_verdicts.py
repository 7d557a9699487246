"""membership's verdicts, table-driven, no lab: judge_node, split_pairs, judge_fleet."""

from __future__ import annotations

import pytest
from verdict_kit import members_result, silent, silent_result, view

from bcastctl.checks import membership
from bcastctl.checks.base import Status

FLEET = {"a-0": "a", "a-1": "a", "b-0": "b", "c-0": "c"}

# (case, node sees, rejected, status, message fragment, finding fields)
NODES = [
    ("sees everyone", None, [], Status.ok, "sees all 3 other node(s)", {"missing": []}),
    ("misses a remote node", ["a-1", "c-0"], [], Status.fail, "missing b-0",
     {"missing": ["b-0"], "missing_regions": ["b"]}),
    ("rejects a rogue", None, ["rogue"], Status.fail, "rejected rogue (bad signature",
     {"rejected": ["rogue"]}),
    ("sees a stranger", ["a-1", "b-0", "c-0", "stray-0"], [], Status.warn,
     "unexpected node(s) stray-0", {"extra": ["stray-0"]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "sees", "rejected", "status", "says", "fields"), NODES)
def test_judge_node(
    case: str,
    sees: list[str] | None,
    rejected: list[str],
    status: Status,
    says: str,
    fields: dict[str, object],
) -> None:
    result = members_result("a-0", "a", FLEET, sees, rejected)
    assert result.status == status, case
    assert says in result.message
    finding = membership.NodeMembership.of(result)
    assert finding is not None and finding.region == "a" and finding.expected == 3
    for name, want in fields.items():
        assert getattr(finding, name) == want, name


def test_a_silent_node_is_unreachable_not_missing_anyone() -> None:
    result = silent_result("a-1", "a", FLEET)
    assert result.status == Status.fail and "does not answer" in result.message
    assert membership.SilentNode.of(result) == membership.SilentNode(region="a", unreachable=True)
    assert membership.NodeMembership.of(result) is None


def test_a_member_of_a_region_the_run_could_not_ask_is_not_extra() -> None:
    node = view("a-0", "a", {"b-0": "b", "ghost-0": "unknown"})
    result = membership.judge_node(membership.NAME, node, {"a-0": "a", "b-0": "b"}, {"unknown"})
    assert result.status == Status.ok


SPLITS = [
    ("no partition", {"a-0": ["b-0", "c-0"], "b-0": ["a-0", "c-0"], "c-0": ["a-0", "b-0"]}, []),
    ("a and b split, both see c",
     {"a-0": ["c-0"], "b-0": ["c-0"], "c-0": ["a-0", "b-0"]}, [("a", "b")]),
    ("c isolated", {"a-0": ["b-0"], "b-0": ["a-0"], "c-0": []}, [("a", "c"), ("b", "c")]),
    ("a silent node is down, not split", {"a-0": ["b-0"], "b-0": ["a-0"], "c-0": None}, []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "sees", "pairs"), SPLITS, ids=[s[0] for s in SPLITS])
def test_split_pairs(case: str, sees: dict[str, list[str] | None], pairs: list[tuple]) -> None:
    expected = {"a-0": "a", "b-0": "b", "c-0": "c"}
    views = [
        silent(name, expected[name])
        if seen is None
        else view(name, expected[name], {n: expected[n] for n in seen})
        for name, seen in sees.items()
    ]
    assert membership.split_pairs(views, expected) == pairs


def test_judge_fleet() -> None:
    partition = membership.judge_fleet(membership.NAME, [("a", "b")], answering=3)
    assert partition is not None and partition.status == Status.fail
    assert partition.scope_kind == "fleet" and "a -x- b" in partition.message
    assert membership.Partition.of(partition) == membership.Partition(split_pairs=["a<->b"])
    whole = membership.judge_fleet(membership.NAME, [], answering=3)
    assert whole is not None and whole.status == Status.ok
    assert membership.judge_fleet(membership.NAME, [], answering=0) is None
