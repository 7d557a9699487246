"""Root-cause summary over results built by the checks' own verdict functions.

Every result here comes from a check module (`judge_node`, `pair_result`, ...), never
from hand-written `values`, so renaming a finding field in a check breaks this fast
test (and mypy) instead of silently leaving rootcause reading nothing.
"""

from __future__ import annotations

import ast
import inspect

from verdict_kit import link_result, members_result, registry_result, silent_result, view

from bcastctl.checks import (
    gateway_reach,
    mcs_dns,
    media,
    membership,
    nats_gateways,
    rootcause,
    turn,
)
from bcastctl.checks.base import CheckResult, fail
from bcastctl.checks.rootcause import root_causes
from bcastctl.lab.gateway_tls import issue, new_ca
from bcastctl.targets.base import GatewayDial

EXPECTED = {"a-0": "a", "a-1": "a", "b-0": "b", "c-0": "c"}
EXPECTED_ABC = {"a-0": "a", "b-0": "b", "c-0": "c"}


def test_cut_link_explains_gateways_partition_membership_registry_and_media() -> None:
    expected = {"a-0": "a", "b-0": "b", "c-0": "c"}
    holders = [view("c-0", "c", {}, registry={"s1": ("b-0", "b")})] * 2
    results = [
        link_result("a", "b", up=False),
        link_result("b", "a", up=False),
        link_result("a", "c", up=True),
        members_result("a-0", "a", expected, sees=["c-0"]),
        members_result("b-0", "b", expected, sees=["c-0"]),
        membership.judge_fleet(membership.NAME, [("a", "b")], answering=3),
        registry_result("a-0", "a", {}, majority_of=holders),
        fail(media.NAME, "a->b", "no frame arrived"),
    ]
    causes = root_causes([r for r in results if r is not None], {})
    assert [c.cause for c in causes] == ["NATS gateway link a <-> b is down"]
    assert len(causes[0].explains) == 7


def test_dns_failure_is_the_deeper_cause_of_a_gateway_link() -> None:
    results = [
        fail(mcs_dns.NAME, "a->b", "b-nats-gateway...: NXDOMAIN"),
        link_result("a", "b", up=False),
        link_result("b", "a", up=False),
    ]
    causes = root_causes(results, {})
    assert len(causes) == 1
    assert causes[0].layer == "dns"
    assert causes[0].explains == ["mcs-dns/a->b", "nats-gateways/a->b", "nats-gateways/b->a"]


def _reach_result(region: str, peer: str, ca: str, issuer: tuple[str, str]) -> CheckResult:
    """gateway-reach's verdict for region->peer over MCS: peer's gateway presents a
    certificate by `issuer`, judged against the fleet's CA `ca`."""
    dial = GatewayDial(peer, "mcs", f"{peer}-nats-gateway.ns.svc.clusterset.local", 7222)
    certificate = issue(*issuer, peer, [dial.host], 30)[0]
    answer = {"addr": dial.addr, "connected": True, "ms": 1.0, "certificate": certificate}
    judged = [gateway_reach.tls_judgement(dial, answer, ca)]
    return gateway_reach.pair_verdict(
        gateway_reach.NAME, f"{region}->{peer}", [dial], [answer], judged
    )


def test_a_gateway_certificate_from_another_ca_explains_the_links_it_cuts() -> None:
    """b's certificate is not from the fleet's CA: its peers' gateway-reach fails naming
    TLS, NATS refuses every link of b, and the nodes across those links lose each other;
    one cause, the certificate, explains all of it (not "gateway link down")."""
    ca, ca_key = new_ca()
    other = new_ca("some other CA")
    results = [
        _reach_result("a", "b", ca, other),
        _reach_result("c", "b", ca, other),
        _reach_result("a", "c", ca, (ca, ca_key)),  # passes: not a failure to explain
        _reach_result("b", "a", ca, (ca, ca_key)),
        link_result("a", "b", up=False),
        link_result("b", "a", up=False),
        link_result("b", "c", up=False),
        link_result("c", "b", up=False),
        link_result("a", "c", up=True),
        members_result("a-0", "a", EXPECTED_ABC, sees=["c-0"]),
        members_result("b-0", "b", EXPECTED_ABC, sees=[]),
        membership.judge_fleet(membership.NAME, [("a", "b"), ("b", "c")], answering=3),
    ]
    causes = root_causes([r for r in results if r is not None], {})
    assert len(causes) == 1, [c.cause for c in causes]
    (cause,) = causes
    assert cause.layer == "tls"
    assert cause.cause.startswith(
        "the NATS gateway certificate of b fails its peers' TLS, so its gateway links cannot "
        "connect: TLS: b-nats-gateway.ns.svc.clusterset.local:7222 presents a certificate not "
        "issued by the fleet's gateway CA (issuer CN=some other CA)"
    )
    assert sorted(cause.explains) == sorted(
        r.id for r in results if r is not None and r.status == "fail"
    )
    assert "gateway-reach/a->b" in cause.explains
    assert "nats-gateways/b->c" in cause.explains


def test_dead_node_and_rogue_node_together() -> None:
    results = [
        silent_result("a-1", "a", EXPECTED),
        members_result("a-0", "a", EXPECTED, sees=["b-0", "c-0"], rejected=["rogue"]),
        members_result("b-0", "b", EXPECTED, sees=["a-0", "c-0"]),
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
    expected = {"a-0": "a", "ghost": "b"}
    refused = turn.FailedAllocation(server="t:3478/udp", elapsed_ms=3.0, error_code=401)
    results = [
        members_result("a-0", "a", expected, sees=[]),  # b is fine and ghost is not known down
        fail(turn.NAME, "a", "401 Unauthorized", hint="secret", values=refused.as_values()),
    ]
    causes = root_causes(results, {})
    assert [c.explains for c in causes] == [["membership/a-0"], ["turn/a"]]
    assert causes[1].hint == "secret"


def test_unreachable_region_explains_its_results() -> None:
    results = [
        fail(nats_gateways.NAME, "c", "region unreachable: refused"),
        link_result("a", "c", up=False),
    ]
    causes = root_causes(results, {"c": "refused"})
    assert causes[0].cause == "region c is unreachable: refused"
    assert causes[0].explains == ["nats-gateways/c", "nats-gateways/a->c"]


def test_dead_nats_of_a_region_explains_its_links_and_every_view() -> None:
    expected = {"a-0": "a", "b-0": "b"}
    results = [
        nats_gateways.monitors_result(nats_gateways.NAME, "b", ["refused"], monitors=1),
        link_result("a", "b", up=False),
        members_result("a-0", "a", expected, sees=[]),
        members_result("b-0", "b", expected, sees=[]),  # its own NATS is gone: it sees nobody
        membership.judge_fleet(membership.NAME, [("a", "b"), ("b", "b")], answering=2),
    ]
    causes = root_causes([r for r in results if r is not None], {})
    assert [c.cause for c in causes] == [
        "NATS of region b does not answer (its monitor is unreachable)"
    ]
    assert len(causes[0].explains) == 5


def test_nodes_off_nats_because_their_regions_nats_is_dead_are_that_one_cause() -> None:
    """What the lab shows after `lab fault kill-nats b`: b's nodes answer but are off NATS,
    a's nodes miss them. One cause, not one "not connected to NATS" per node of b (the
    extra causes a lab run once listed: tests/checks/test_verify_lab.py, dead NATS)."""
    expected = {"a-0": "a", "b-0": "b", "b-1": "b"}
    views = [
        view("a-0", "a", {}),
        view("b-0", "b", {}, nats_connected=False),
        view("b-1", "b", {}, nats_connected=False),
    ]
    results = [
        nats_gateways.monitors_result(nats_gateways.NAME, "b", ["refused"], monitors=1),
        link_result("a", "b", up=False),
        *(membership.judge_node(membership.NAME, v, expected, set()) for v in views),
    ]
    causes = root_causes(results, {})
    assert [c.cause for c in causes] == [
        "NATS of region b does not answer (its monitor is unreachable)"
    ]
    assert sorted(causes[0].explains) == [
        "membership/a-0", "membership/b-0", "membership/b-1", "nats-gateways/a->b",
        "nats-gateways/b",
    ]  # fmt: skip


def test_one_dead_server_of_several_is_not_a_dead_region() -> None:
    results = [nats_gateways.monitors_result(nats_gateways.NAME, "b", ["refused"], monitors=3)]
    assert [c.explains for c in root_causes(results, {})] == [["nats-gateways/b"]]


def test_a_node_off_nats_is_its_own_cause_not_a_membership_problem() -> None:
    """The node answers on its admin port but has no NATS connection (issue 12: a node
    dropped by the server after an -ERR was blamed on membership)."""
    expected = {"a-0": "a", "a-1": "a", "b-0": "b"}
    views = [
        view("a-0", "a", {"b-0": "b"}),
        view("a-1", "a", {}, nats_connected=False),  # off NATS: sees nobody
        view("b-0", "b", {"a-0": "a"}),
    ]
    assert membership.split_pairs(views, expected) == []  # not a partition
    results = [membership.judge_node(membership.NAME, v, expected, set()) for v in views]
    assert results[1].message.startswith("not connected to NATS")
    causes = root_causes(results, {})
    assert [(c.cause, c.explains) for c in causes] == [
        (
            "node a-1 is not connected to NATS",
            ["membership/a-0", "membership/a-1", "membership/b-0"],
        )
    ]


def test_rootcause_reads_results_only_through_typed_findings_and_names() -> None:
    """No string check name and no `values[...]` key in rootcause: a rename cannot slip by."""
    tree = ast.parse(inspect.getsource(rootcause))
    names = {membership.NAME, nats_gateways.NAME, mcs_dns.NAME, media.NAME, turn.NAME, "registry"}
    names.add(gateway_reach.NAME)
    literals = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not names & literals
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert "values" not in attributes
