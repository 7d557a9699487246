"""registry's verdicts, table-driven, no lab: majority_holders and judge_node."""

from __future__ import annotations

import pytest
from verdict_kit import view

from bcastctl.checks import stream_registry
from bcastctl.checks.base import Status
from bcastctl.checks.views import NodeView


def registries(*entries: dict[str, tuple[str, str]]) -> list[NodeView]:
    return [view(f"n-{i}", "a", {}, registry=entry) for i, entry in enumerate(entries)]


MAJORITIES = [
    ("everyone agrees", [{"s": ("x", "a")}] * 3, {"s": ("x", "a")}),
    ("two against one", [{"s": ("x", "a")}, {"s": ("x", "a")}, {"s": ("y", "b")}],
     {"s": ("x", "a")}),
    ("a tie goes to the first holder by name", [{"s": ("y", "b")}, {"s": ("x", "a")}],
     {"s": ("x", "a")}),
    ("a stream only some know", [{"s": ("x", "a")}, {}], {"s": ("x", "a")}),
    ("nothing published", [{}, {}], {}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "entries", "want"), MAJORITIES, ids=[m[0] for m in MAJORITIES])
def test_majority_holders(case: str, entries: list[dict], want: dict) -> None:
    assert stream_registry.majority_holders(registries(*entries)) == want


def test_majority_skips_silent_nodes() -> None:
    views = [*registries({"s": ("x", "a")}), NodeView(view("z", "a", {}).node, None, "down")]
    assert stream_registry.majority_holders(views) == {"s": ("x", "a")}


JUDGED = [
    ("agrees", {"s": ("x", "a")}, Status.ok, [], []),
    ("names another holder", {"s": ("y", "b")}, Status.fail, ["s"], ["a"]),
    ("does not know the stream", {}, Status.fail, ["s"], ["a"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "registry", "status", "on", "regions"), JUDGED)
def test_judge_node(
    case: str, registry: dict, status: Status, on: list[str], regions: list[str]
) -> None:
    majority = {"s": ("x", "a")}
    node = view("n-9", "b", {}, registry=registry)
    result = stream_registry.judge_node(stream_registry.NAME, node, majority)
    assert result.status == status, case
    finding = stream_registry.RegistryAgreement.of(result)
    assert finding is not None
    assert (finding.region, finding.disagrees_on, finding.disagrees_with_regions) == (
        "b", on, regions,
    )  # fmt: skip
