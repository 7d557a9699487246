"""Membership across two regions: join, kill, wrong secret, readiness, RTT echo."""

from __future__ import annotations

import pytest
from node_testkit import SECRET, NatsServer, NodeFactory, http_json, wait_for

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab


def test_nodes_in_two_regions_see_each_other_and_become_ready(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    r1, r2 = super_cluster
    a = start_node("a1", r1, "127.0.0.11", BCAST_EXPECTED_NODES="3")
    b = start_node("b1", r2, "127.0.0.12", BCAST_EXPECTED_NODES="3")
    wait_for("a1 to see b1", lambda: "b1" in a.member_names())
    status, body = http_json(a.admin + "/readyz")
    assert status == 503 and "2 of 3" in body["reason"]
    c = start_node("b2", r2, "127.0.0.13", BCAST_EXPECTED_NODES="3")
    for node in (a, b, c):
        wait_for(f"{node.name} ready", lambda n=node: http_json(n.admin + "/readyz")[0] == 200)
    view = a.cluster()
    assert view["node"]["name"] == "a1" and view["node"]["region"] == "r1"
    assert view["nats_connected"] is True
    assert {(m["name"], m["region"], m["address"]) for m in view["members"]} == {
        ("b1", "r2", "127.0.0.12"),
        ("b2", "r2", "127.0.0.13"),
    }
    assert view["rejected"] == [] and view["registry"] == {}
    assert a.metric("members") == 2


def test_killed_node_leaves_every_view_within_three_seconds(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    r1, r2 = super_cluster
    a = start_node("k-a", r1, "127.0.0.21")
    b = start_node("k-b", r2, "127.0.0.22")
    victim = start_node("k-victim", r2, "127.0.0.23")
    for node in (a, b):
        wait_for(f"{node.name} sees the victim", lambda n=node: "k-victim" in n.member_names())
    import time

    victim.kill()
    killed_at = time.monotonic()
    for node in (a, b):
        wait_for(
            f"{node.name} drops the victim",
            lambda n=node: "k-victim" not in n.member_names(),
            timeout=10,
            interval=0.05,
        )
    elapsed = time.monotonic() - killed_at
    # 2 s peer timeout + expiry tick; generous margin on a shared 2-core machine
    assert elapsed < 3.0 + 1.0, f"victim dropped after {elapsed:.2f} s"
    assert a.metric("node_down_total") >= 1
    assert "node down: k-victim" in a.log()


def test_wrong_cluster_secret_is_rejected_never_a_member(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    r1, r2 = super_cluster
    a = start_node("s-a", r1, "127.0.0.31")
    intruder = start_node(
        "s-intruder", r2, "127.0.0.32", BCAST_CLUSTER_SECRET="not-the-fleet-secret"
    )
    rejected = wait_for(
        "s-intruder rejected",
        lambda: [r for r in a.cluster()["rejected"] if r["name"] == "s-intruder"],
    )
    assert rejected[0]["region"] == "r2" and "secret" in rejected[0]["reason"]
    assert "s-intruder" not in a.member_names()
    assert "s-a" not in intruder.member_names()
    assert a.metric("rejected_heartbeats_total") >= 1
    for node in (a, intruder):
        assert SECRET not in node.log() and "not-the-fleet-secret" not in node.log()


def test_rtt_echo_across_the_gateway(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    r1, r2 = super_cluster
    a = start_node("t-a", r1, "127.0.0.41")
    start_node("t-b", r2, "127.0.0.42")
    wait_for("t-b visible", lambda: "t-b" in a.member_names())
    status, samples = http_json(a.admin + "/api/diag/rtt?peer=t-b&n=5")
    assert status == 200 and samples["peer"] == "t-b"
    assert len(samples["samples_ms"]) == 5 and samples["lost"] == 0
    assert all(0 < s < 1000 for s in samples["samples_ms"])
    status, samples = http_json(a.admin + "/api/diag/rtt?peer=nobody&n=2&timeout_ms=200")
    assert status == 200 and samples["samples_ms"] == [] and samples["lost"] == 2
    status, problem = http_json(a.admin + "/api/diag/rtt?peer=t-b&n=zero")
    assert status == 400 and "n=" in problem["error"]
