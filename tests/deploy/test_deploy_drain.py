"""deploy rolls the broadcaster pod by pod behind drains and counts what it cut.

Fake nodes (tests/fakes/node_admin.py) sit behind the fake clusters' pod proxies on the
admin port, with live sessions that either end during a drain or stay until the drain
deadline. A StatefulSet's RollingUpdate `partition` holds back pods with a lower
ordinal (Kubernetes docs, "StatefulSets: Partitioned rolling updates"): deploy lowers it
one pod at a time, after that pod's node drained.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.clusters import ClusterSet
from fakes.fleets import REGIONS
from fakes.node_admin import FakeNode

V1 = "ghcr.io/example/bcast-node:1.0.0"
V2 = "ghcr.io/example/bcast-node:2.0.0"
CANARY = REGIONS[0]
ADMIN_PORT = 9090
POLL = ("--poll-interval", "50ms")  # watch the drains closely: the fake nodes' deadlines are short


def pod_image(clusters: ClusterSet, pod: str) -> str:
    live = clusters.live(CANARY, "pods", "broadcaster", pod)
    return str(live["spec"]["containers"][0]["image"])


def statefulset_image(clusters: ClusterSet) -> str:
    sts = clusters.live(CANARY, "statefulsets", "broadcaster", f"{CANARY}-broadcaster")
    return str(sts["spec"]["template"]["spec"]["containers"][0]["image"])


def images_at_each_drain(
    clusters: ClusterSet, nodes: dict[str, FakeNode]
) -> dict[str, dict[str, str]]:
    """Filled as the nodes drain: per drained pod, the image every pod ran at that moment."""
    seen: dict[str, dict[str, str]] = {}

    def record(node: FakeNode) -> None:  # on the clusters' loop, inside the fake node
        live = clusters.clusters[CANARY].live
        seen[node.pod] = {
            name: str(live("pods", "broadcaster", name)["spec"]["containers"][0]["image"])
            for name in nodes
        }

    for node in nodes.values():
        node.on_drain = record
    return seen


@pytest.fixture
def nodes(clusters: ClusterSet) -> Iterator[dict[str, FakeNode]]:
    """The canary region's two nodes, behind its pod proxy."""
    made = {name: FakeNode(pod=name) for name in (f"{CANARY}-broadcaster-{i}" for i in (0, 1))}
    try:
        for node in made.values():
            clusters.run(node.start())
            backend = {("broadcaster", node.pod, ADMIN_PORT): node.url}
            clusters.call(lambda b=backend: clusters.clusters[CANARY].pod_backends.update(b))
        yield made
    finally:
        for node in made.values():
            clusters.run(node.stop())


def test_sessions_that_end_in_time_are_reported_drained_pod_by_pod(
    clusters, fleet_file, cli, nodes
):
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", "--no-gate")[0] == 0
    first, second = nodes[f"{CANARY}-broadcaster-0"], nodes[f"{CANARY}-broadcaster-1"]
    first.sessions, second.sessions = 3, 2
    seen = images_at_each_drain(clusters, nodes)

    code, result, err = cli(
        "-f",
        str(fleet_file(image=V2)),
        "deploy",
        "--yes",
        "--no-gate",
        "--max-disrupted",
        "0",
        *POLL,
    )
    assert code == 0, err
    canary = result["regions"][0]
    assert canary["state"] == "deployed"
    assert (canary["sessions_drained"], canary["sessions_cut"]) == (5, 0)
    assert [(d["pod"], d["sessions"], d["drained"], d["cut"]) for d in canary["drains"]] == [
        (second.pod, 2, 2, 0),
        (first.pod, 3, 3, 0),
    ]
    assert (first.drained, second.drained, first.cut, second.cut) == (3, 2, 0, 0)
    # highest ordinal first, and pod 0 still ran the old image until its own drain
    assert seen[second.pod] == {first.pod: V1, second.pod: V1}
    assert seen[first.pod] == {first.pod: V1, second.pod: V2}
    assert pod_image(clusters, first.pod) == pod_image(clusters, second.pod) == V2
    # regions without reachable nodes are rolled with the reason in the report
    other = result["regions"][1]
    assert other["state"] == "deployed" and other["sessions_cut"] == 0
    assert all("not drained" in d["note"] for d in other["drains"])


def test_a_node_the_api_server_briefly_cannot_reach_is_still_drained_not_cut(
    clusters, fleet_file, cli, nodes
):
    """Through the pod proxy, a pod the API server cannot dial is a 503 "error trying to reach
    service" (k8s.io/apimachinery pkg/util/proxy/transport.go), answered at once: deploy asks
    the node again before it would replace the pod undrained and cut its viewers."""
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", "--no-gate")[0] == 0
    first, second = nodes[f"{CANARY}-broadcaster-0"], nodes[f"{CANARY}-broadcaster-1"]
    first.sessions, second.sessions = 1, 2
    key = ("broadcaster", second.pod, ADMIN_PORT)
    clusters.call(lambda: clusters.clusters[CANARY].pod_blips.update({key: 2}))

    code, result, err = cli("-f", str(fleet_file(image=V2)), "deploy", "--yes", "--no-gate", *POLL)
    assert code == 0, err
    canary = result["regions"][0]
    assert [(d["pod"], d["drained"], d["cut"], d["note"]) for d in canary["drains"]] == [
        (second.pod, 2, 0, None),
        (first.pod, 1, 0, None),
    ]
    assert (second.drained, second.cut) == (2, 0)


def test_a_drain_that_would_cut_more_than_max_disrupted_is_cancelled_before_it_cuts(
    clusters, fleet_file, cli, nodes
):
    """--max-disrupted holds at every moment: the node is told to stop draining before its
    deadline (DELETE /api/drain), keeps its viewers, and the region is rolled back."""
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", "--no-gate")[0] == 0
    for node in nodes.values():
        node.sessions, node.sessions_leave, node.deadline_s = 2, False, 0.5

    code, result, _ = cli(
        "-f",
        str(fleet_file(image=V2)),
        "deploy",
        "--yes",
        "--no-gate",
        "--max-disrupted",
        "0",
        *POLL,
    )
    assert code == 1
    canary = result["regions"][0]
    assert canary["state"] == "rolled-back" and canary["rolled_back_to"] == 1
    assert (canary["sessions_drained"], canary["sessions_cut"]) == (0, 0)
    assert "more than --max-disrupted leaves (0)" in canary["failure"]
    assert "no session cut" in canary["failure"]
    assert [(d["pod"], d["cut"]) for d in canary["drains"]] == [(f"{CANARY}-broadcaster-1", 0)]
    assert "drain cancelled: 2 session(s) still live" in canary["drains"][0]["note"]
    kept = nodes[f"{CANARY}-broadcaster-1"]
    assert (kept.undrains, kept.cut, kept.sessions, kept.draining) == (1, 0, 2, False)
    assert nodes[f"{CANARY}-broadcaster-0"].drains == 0  # the rollout stopped before it
    assert statefulset_image(clusters) == V1
    assert pod_image(clusters, f"{CANARY}-broadcaster-1") == V1
    assert [r["state"] for r in result["regions"][1:]] == ["not-started"] * 2

    code, text, _ = cli(
        "-f",
        str(fleet_file(image=V2)),
        "deploy",
        "--yes",
        "--no-gate",
        "--max-disrupted",
        "5",
        *POLL,
        json_output=False,
    )
    assert code == 0
    assert "drained" in text and "cut" in text


def test_max_disrupted_is_a_budget_for_the_whole_region(clusters, fleet_file, cli, nodes):
    """--max-disrupted 2 with two pods holding 2 viewers each that stay: the first pod's
    drain may cut its 2, the second's is cancelled (the budget is spent). The rollback then
    drains and replaces only the pod the rollout had replaced; pod 0 never restarts."""
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", "--no-gate")[0] == 0
    for node in nodes.values():
        node.sessions, node.sessions_leave, node.deadline_s = 2, False, 0.5
    code, result, _ = cli(
        "-f", str(fleet_file(image=V2)), "deploy", "--yes", "--no-gate", "--max-disrupted", "2",
        *POLL,
    )  # fmt: skip
    assert code == 1
    canary = result["regions"][0]
    first, second = f"{CANARY}-broadcaster-0", f"{CANARY}-broadcaster-1"
    assert canary["state"] == "rolled-back" and canary["sessions_cut"] == 2
    # pod 1 cut its 2; pod 0 backed off; the rollback drained pod 1 again (empty by then)
    drains = [(d["pod"], d["phase"], d["cut"]) for d in canary["drains"]]
    assert drains == [(second, "rollout", 2), (first, "rollout", 0), (second, "rollback", 0)]
    assert "drain cancelled" in canary["drains"][1]["note"]
    assert (nodes[first].drains, nodes[first].undrains, nodes[first].cut) == (1, 1, 0)
    assert nodes[first].sessions == 2  # its viewers never left
    assert nodes[second].drains == 2
    assert pod_image(clusters, first) == pod_image(clusters, second) == V1


def test_rollback_drains_the_pods_it_replaces_as_a_rollout_does(clusters, fleet_file, cli, nodes):
    """`bcastctl rollback` replaces the pods highest ordinal first, each after its node
    drained: a rollback cuts no more viewers than a rollout."""
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", "--no-gate")[0] == 0
    assert cli("-f", str(fleet_file(image=V2)), "deploy", "--yes", "--no-gate", *POLL)[0] == 0
    first, second = nodes[f"{CANARY}-broadcaster-0"], nodes[f"{CANARY}-broadcaster-1"]
    first.sessions, second.sessions = 3, 2
    seen = images_at_each_drain(clusters, nodes)
    code, result, err = cli("-f", str(fleet_file(image=V2)), "rollback", "-r", CANARY, "--yes")
    assert code == 0, err
    assert (result["sessions_drained"], result["sessions_cut"]) == (5, 0)
    assert [(d["pod"], d["phase"], d["drained"]) for d in result["drains"]] == [
        (second.pod, "rollback", 2),
        (first.pod, "rollback", 3),
    ]
    assert seen[second.pod] == {first.pod: V2, second.pod: V2}
    assert seen[first.pod] == {first.pod: V2, second.pod: V1}
    assert pod_image(clusters, first.pod) == pod_image(clusters, second.pod) == V1


def test_rollback_with_max_disrupted_stops_before_cutting_and_a_rerun_finishes(
    clusters, fleet_file, cli, nodes
):
    """rollback --max-disrupted 0 with viewers that stay: the first drain is cancelled, the
    pods keep running the rolled-out image with their viewers (exit 1, one line). Once the
    viewers can leave, a plain rollback finishes the job behind drains."""
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", "--no-gate")[0] == 0
    assert cli("-f", str(fleet_file(image=V2)), "deploy", "--yes", "--no-gate", *POLL)[0] == 0
    for node in nodes.values():
        node.sessions, node.sessions_leave, node.deadline_s = 2, False, 0.5
    first, second = nodes[f"{CANARY}-broadcaster-0"], nodes[f"{CANARY}-broadcaster-1"]
    drained_by_deploy = first.drains
    rollback = ("-f", str(fleet_file(image=V2)), "rollback", "-r", CANARY, "--yes")
    code, _, err = cli(*rollback, "--max-disrupted", "0", json_output=False)
    assert code == 1 and "drain cancelled, no session cut" in err and "Traceback" not in err
    assert (second.undrains, second.cut, second.sessions) == (1, 0, 2)
    assert first.drains == drained_by_deploy  # the rollback stopped before pod 0
    assert pod_image(clusters, first.pod) == pod_image(clusters, second.pod) == V2

    for node in nodes.values():
        node.sessions_leave = True
    code, result, err = cli(*rollback)
    assert code == 0, err
    assert [(d["pod"], d["drained"], d["cut"]) for d in result["drains"]] == [
        (second.pod, 2, 0),
        (first.pod, 2, 0),
    ]
    assert pod_image(clusters, first.pod) == pod_image(clusters, second.pod) == V1
