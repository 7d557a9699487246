"""`lab status` judges gateways as `verify mesh` does, inbound links included.

The NATS monitors here are local HTTP servers at the network boundary answering
/varz and /gatewayz with payloads shaped as nats-server 2.15 prints them (see
tests/readers/test_nats_reader.py). Region a dials b, but b's connection into a is
missing: the one-direction problem an outbound-only reading called healthy.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bcastctl.checks.base import Status
from bcastctl.checks.nats_gateways import NatsGateways
from bcastctl.checks.runner import RunOptions, run_checks
from bcastctl.fleet import parse_fleet
from bcastctl.lab.status import lab_status
from bcastctl.targets.lab import LabTarget
from bcastctl.targets.lab_state import (
    DnsState,
    LabState,
    LinkdState,
    RegionState,
    TurnState,
    load_lab_state,
    save_lab_state,
)


def monitor_app(name: str, peer: str, inbound: bool) -> web.Application:
    connection = {"cid": 6, "kind": "Gateway", "ip": "127.0.0.1", "port": 7222, "rtt": "163µs"}
    varz = {"server_name": name, "gateway": {"name": name, "gateways": [{"name": peer}]}}
    gatewayz = {
        "name": name,
        "outbound_gateways": {peer: {"configured": True, "connection": connection}},
        "inbound_gateways": {peer: [{"configured": False, "connection": connection}]}
        if inbound
        else {},
    }

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(varz if request.path == "/varz" else gatewayz)

    app = web.Application()
    app.router.add_get("/varz", answer)
    app.router.add_get("/gatewayz", answer)
    return app


@pytest.fixture
async def one_direction_lab(tmp_path: Path) -> AsyncIterator[Path]:
    """Region a: dials b, no inbound from b. Region b: dials a, inbound from a."""
    servers = [
        TestServer(monitor_app("a", "b", inbound=False), host="127.0.0.1"),
        TestServer(monitor_app("b", "a", inbound=True), host="127.0.0.1"),
    ]
    for server in servers:
        await server.start_server()
    try:
        regions = [
            RegionState(name=name, index=index, nats_client_url="nats://127.0.0.1:1",
                        nats_monitor_url=str(server.make_url("")).rstrip("/"),
                        nats_gateway_listen="127.0.0.1:1", nats_pid=None, links=[], nodes=[])
            for index, (name, server) in enumerate(zip("ab", servers, strict=True))
        ]  # fmt: skip
        save_lab_state(
            LabState(
                fleet_name="status-test",
                namespace="broadcaster",
                fleet_path=str(tmp_path / "fleet.yaml"),
                state_dir=str(tmp_path),
                loopback_prefix="127.0",
                secrets_file=str(tmp_path / "secrets.json"),
                started_at=time.time(),
                ready_after_s=None,
                regions=regions,
                dns=DnsState(address="127.0.0.1:1", pid=None, domains=[]),
                turn=TurnState(address=None, urls=[], realm=None, pid=None, reason="none"),
                linkd=LinkdState(pid=None, control_socket=str(tmp_path / "none.sock")),
                processes=[],
                with_nodes=False,
            )
        )
        yield tmp_path
    finally:
        for server in servers:
            await server.close()


async def test_status_reports_a_one_direction_link_as_verify_mesh_does(
    one_direction_lab: Path,
) -> None:
    status = await lab_status(one_direction_lab)
    by_name = {region.name: region for region in status.regions}
    # every outbound link is up: an outbound-only reading saw nothing wrong here
    assert by_name["a"].gateways_missing == [] and by_name["b"].gateways_missing == []
    gateway_problems = [p for p in status.problems if p.startswith("gateway")]
    assert gateway_problems == ["gateway b=>a down (no inbound connection at a)"]
    assert not status.healthy
    assert [str(gap) for gap in by_name["a"].gateway_gaps] == ["b=>a (inbound at a)"]

    fleet_doc: dict[str, Any] = {
        "name": "status-test",
        "image": "bcast-node:test",
        "regions": [{"name": n, "geo": {"lat": 0, "lon": 0}, "replicas": 1} for n in "ab"],
    }
    target = LabTarget(load_lab_state(one_direction_lab), parse_fleet(fleet_doc))
    try:
        report = await run_checks(target, RunOptions(timeout_s=5), checks=[NatsGateways()])
    finally:
        await target.close()
    failed = {r.scope: r.message for r in report.results if r.status == Status.fail}
    assert failed == {"a->b": "configured but not connected: inbound from b"}
