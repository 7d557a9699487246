"""The kube Target finds each region's nodes, NATS, DNS names and TURN through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bcastctl.deploy.rollout import DeployOptions, deploy
from bcastctl.errors import UnreachableError
from bcastctl.fleet import Fleet, parse_fleet
from bcastctl.targets.base import get_json
from bcastctl.targets.kube import KubeTarget
from fakes.clusters import ClusterSet, cluster_set
from fakes.fleets import REGIONS, fleet_document, seed_secrets


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[ClusterSet, Fleet]]:
    with cluster_set(REGIONS) as clusters:
        for name in REGIONS:
            seed_secrets(clusters, name)
        fleet = parse_fleet(fleet_document(clusters.write_kubeconfig(tmp_path / "kc")))
        assert asyncio.run(deploy(fleet, DeployOptions(gate=False))).exit_code == 0
        yield clusters, fleet


async def test_region_endpoints_come_from_the_cluster(deployed):
    _, fleet = deployed
    target = KubeTarget.connect(fleet)
    try:
        region = await target.region("europe-west9", timeout_s=5)
    finally:
        await target.close()
    assert [n.name for n in region.nodes] == [
        "europe-west9-broadcaster-0",
        "europe-west9-broadcaster-1",
    ]
    admin = region.nodes[0].admin
    assert admin is not None and (admin.pod, admin.port) == ("europe-west9-broadcaster-0", 9090)
    assert len(region.nats_monitors) == fleet.nats.cluster_size
    assert region.nats_monitors[0].port == fleet.nats.monitor_port
    assert region.turn.host == "34.155.20.21" and region.turn.port == 3478
    names = {d.name for d in region.dns_expectations}
    assert "us-east5-nats-gateway.broadcaster.svc.clusterset.local" in names
    assert not any(d.of_region == "europe-west9" for d in region.dns_expectations)


async def test_a_missing_pod_is_an_expected_node_without_endpoints(deployed):
    clusters, fleet = deployed
    clusters.delete("us-east5", "v1", "pods", fleet.namespace, "us-east5-broadcaster-1")
    target = KubeTarget.connect(fleet)
    try:
        region = await target.region("us-east5", timeout_s=5)
    finally:
        await target.close()
    nodes = {n.name: n for n in region.nodes}
    assert nodes["us-east5-broadcaster-1"].admin is None
    assert nodes["us-east5-broadcaster-0"].admin is not None


async def test_requests_go_through_the_pod_proxy(deployed):
    clusters, fleet = deployed

    async def cluster_view(request: web.Request) -> web.Response:
        return web.json_response({"node": {"name": "us-east5-broadcaster-0"}, "members": []})

    app = web.Application()
    app.router.add_get("/api/cluster", cluster_view)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    target = KubeTarget.connect(fleet)
    try:
        port = runner.addresses[0][1]
        clusters.call(
            lambda: clusters.clusters["us-east5"].pod_backends.update(
                {(fleet.namespace, "us-east5-broadcaster-0", 9090): f"http://127.0.0.1:{port}"}
            )
        )
        region = await target.region("us-east5", timeout_s=5)
        admin = region.nodes[0].admin
        assert admin is not None
        view = await get_json(target, admin, "/api/cluster")
        assert view["node"]["name"] == "us-east5-broadcaster-0"
        with pytest.raises(UnreachableError, match="HTTP 503"):
            await get_json(target, region.nodes[1].admin, "/api/cluster")  # type: ignore[arg-type]
    finally:
        await target.close()
        await runner.cleanup()
