"""Root-cause summary over result sets shaped as the real checks produce them."""

from __future__ import annotations

from bcastctl.checks.base import CheckResult, fail, ok
from bcastctl.checks.rootcause import root_causes


def member(
    node: str, region: str, missing: dict[str, str] | None = None, **more: object
) -> CheckResult:
    missing = missing or {}
    return fail(
        "membership",
        node,
        "problem",
        kind="node",
        region=region,
        missing=list(missing),
        missing_regions=list(missing.values()),
        rejected=list(more.get("rejected", [])),  # type: ignore[call-overload]
        unreachable=bool(more.get("unreachable", False)),
    )


def test_cut_link_explains_gateways_partition_membership_registry_and_media() -> None:
    results = [
        fail("nats-gateways", "a->b", "down"),
        fail("nats-gateways", "b->a", "down"),
        ok("nats-gateways", "a->c", "up"),
        member("a-0", "a", {"b-0": "b"}),
        member("b-0", "b", {"a-0": "a"}),
        fail("membership", "fleet", "partition", kind="fleet", split_pairs=["a<->b"]),
        fail("registry", "a-0", "x", kind="node", region="a", disagrees_with_regions=["b"]),
        fail("media", "a->b", "no frames"),
    ]
    causes = root_causes(results, {})
    assert len(causes) == 1
    assert causes[0].cause == "NATS gateway link a <-> b is down"
    assert len(causes[0].explains) == 7


def test_dns_failure_is_the_deeper_cause_of_a_gateway_link() -> None:
    results = [
        fail("mcs-dns", "a->b", "b-nats-gateway...: NXDOMAIN"),
        fail("nats-gateways", "a->b", "down"),
        fail("nats-gateways", "b->a", "down"),
    ]
    causes = root_causes(results, {})
    assert len(causes) == 1
    assert causes[0].layer == "dns"
    assert causes[0].explains == ["mcs-dns/a->b", "nats-gateways/a->b", "nats-gateways/b->a"]


def test_dead_node_and_rogue_node_together() -> None:
    results = [
        member("a-1", "a", unreachable=True),
        member("a-0", "a", {"a-1": "a"}, rejected=["rogue"]),
        member("b-0", "b", {"a-1": "a"}),
    ]
    causes = {c.cause: c.explains for c in root_causes(results, {})}
    assert causes == {
        "node a-1 is down (its admin endpoint does not answer)": [
            "membership/a-1",
            "membership/a-0",
            "membership/b-0",
        ],
        "node rogue signs heartbeats with a different cluster secret": ["membership/a-0"],
    }


def test_unexplained_failures_are_their_own_causes() -> None:
    results = [
        member("a-0", "a", {"ghost": "b"}),  # b is fine and ghost is not known down
        fail("turn", "a", "401 Unauthorized", hint="secret", error_code=401),
    ]
    causes = root_causes(results, {})
    assert [c.explains for c in causes] == [["membership/a-0"], ["turn/a"]]
    assert causes[1].hint == "secret"


def test_unreachable_region_explains_its_results() -> None:
    results = [
        fail("nats-gateways", "c", "region unreachable: refused"),
        fail("nats-gateways", "a->c", "down"),
    ]
    causes = root_causes(results, {"c": "refused"})
    assert causes[0].cause == "region c is unreachable: refused"
    assert causes[0].explains == ["nats-gateways/c", "nats-gateways/a->c"]


def test_dead_nats_of_a_region_explains_its_links_and_every_view() -> None:
    results = [
        fail("nats-gateways", "b", "1/1 NATS monitor(s) unreachable", monitor_unreachable=True),
        fail("nats-gateways", "a->b", "down"),
        member("a-0", "a", {"b-0": "b"}),
        member("b-0", "b", {"a-0": "a"}),  # its own NATS is gone: it sees nobody
        fail("membership", "fleet", "partition", kind="fleet", split_pairs=["a<->b", "b<->b"]),
    ]
    causes = root_causes(results, {})
    assert [c.cause for c in causes] == [
        "NATS of region b does not answer (its monitor is unreachable)"
    ]
    assert len(causes[0].explains) == 5


def test_one_dead_server_of_several_is_not_a_dead_region() -> None:
    results = [
        fail("nats-gateways", "b", "1/3 NATS monitor(s) unreachable", monitor_unreachable=False)
    ]
    assert [c.explains for c in root_causes(results, {})] == [["nats-gateways/b"]]


def test_a_node_off_nats_is_its_own_cause_not_a_membership_problem() -> None:
    """The node answers on its admin port but has no NATS connection (issue 12: a node
    dropped by the server after an -ERR was blamed on membership)."""
    from bcastctl.checks.membership import judge_node, split_pairs
    from bcastctl.checks.views import NodeView
    from bcastctl.protocol import ClusterView, NodeIdentity
    from bcastctl.targets.base import NodeEndpoints

    def view(name: str, region: str, members: list[str], connected: bool) -> NodeView:
        identity = NodeIdentity(name=name, region=region, address="", lat=0, lon=0, version="")
        cluster = ClusterView(
            node=identity,
            nats_connected=connected,
            members=[
                {
                    "name": m,
                    "region": m[0],
                    "address": "",
                    "sessions": 0,
                    "max_sessions": 1,
                    "cpu": 0.0,
                    "last_seen_ms": 0.0,
                }
                for m in members
            ],
            rejected=[],
            registry={},
        )
        return NodeView(
            NodeEndpoints(name=name, region=region, admin=None, signalling=None), cluster
        )

    expected = {"a-0": "a", "a-1": "a", "b-0": "b"}
    views = [
        view("a-0", "a", ["b-0"], True),
        view("a-1", "a", [], False),  # off NATS: sees nobody
        view("b-0", "b", ["a-0"], True),
    ]
    assert split_pairs(views, expected) == []  # not a partition
    results = [judge_node("membership", v, expected, set()) for v in views]
    assert results[1].message.startswith("not connected to NATS")
    causes = root_causes(results, {})
    assert [(c.cause, c.explains) for c in causes] == [
        (
            "node a-1 is not connected to NATS",
            ["membership/a-0", "membership/a-1", "membership/b-0"],
        )
    ]
