"""`lab fault drain-node` while viewers watch: what a pod stopping in a rollout does.

A draining node is not ready, takes no new session (placement sends it to a neighbour),
keeps its live viewers decoding until its drain deadline (fleet node.drain_deadline_s),
then exits by itself; `verify mesh` and `lab status` show it draining meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from labkit import cli, holder, http_json, running_lab, wait_for, write_fleet

from bcastctl.lab import procs
from bcastctl.targets.lab_state import lab_whip_token, load_lab_state
from bcastctl.whip.client import ClientSession, publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

pytestmark = pytest.mark.slow

DEADLINE_S = 12
DRAINED = "east-broadcaster-0"
NEIGHBOUR = "east-broadcaster-1"


@pytest.fixture(scope="module")
def drain_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    regions = [
        {"name": "east", "geo": {"lat": 40.0, "lon": -80.0}, "replicas": 2},
        {"name": "west", "geo": {"lat": 45.0, "lon": -120.0}, "replicas": 1},
    ]
    fleet = write_fleet(
        tmp_path_factory.mktemp("fleet") / "lab.yaml",
        regions=regions,
        node={"drain_deadline_s": DEADLINE_S},
        lab={"latency": [{"between": ["east", "west"], "one_way_ms": 5}]},
    )
    state = tmp_path_factory.mktemp("drain-lab") / "state"
    with running_lab(fleet, state) as result:
        yield result, state


def _verify_placement(state: Path) -> dict[str, dict[str, Any]]:
    done = cli("-o", "json", "verify", "mesh", "--state-dir", str(state), "--check", "placement")
    report = json.loads(done.stdout)["result"]
    return {r["scope"]: r for r in report["results"] if r["check"] == "placement"}


async def test_drained_node_keeps_its_viewers_until_the_deadline_then_exits(
    drain_lab: tuple[dict[str, Any], Path], http: aiohttp.ClientSession
) -> None:
    lab, state = drain_lab
    nodes = {n["name"]: n for r in lab["state"]["regions"] for n in r["nodes"]}
    token = lab_whip_token(load_lab_state(state))
    publisher = await publish(
        HttpSignalling(http, nodes[NEIGHBOUR]["signalling_url"]),
        "kept",
        token,
        SyntheticVideo(160, 96),
    )
    drained = nodes[DRAINED]
    viewers: list[ClientSession] = []
    try:
        await asyncio.to_thread(
            wait_for,
            "the stream on the drained node",
            lambda: "kept" in http_json(f"{drained['admin_url']}/api/cluster")["registry"],
        )
        for _ in range(10):
            viewers.append(await view(HttpSignalling(http, drained["signalling_url"]), "kept"))
        assert {holder(v) for v in viewers} == {DRAINED}
        await _until("10 viewers decoding", lambda: all(len(v.frames) >= 5 for v in viewers))

        done = await asyncio.to_thread(
            cli, "lab", "fault", "drain-node", DRAINED, "--state-dir", str(state)
        )
        drain_started = time.monotonic()
        assert done.returncode == 0, done.stderr
        assert "draining: 10 sessions" in done.stdout

        # not ready; a new viewer POSTed to it is served by its neighbour
        ready = await http.get(f"{drained['admin_url']}/readyz")
        assert ready.status == 503 and "draining" in (await ready.json())["reason"]
        late = await view(HttpSignalling(http, drained["signalling_url"]), "kept", decode=False)
        assert holder(late) == NEIGHBOUR
        await late.close()

        placement = await asyncio.to_thread(_verify_placement, state)
        assert (
            placement[DRAINED]["status"] == "warn" and "draining" in placement[DRAINED]["message"]
        )
        assert placement[DRAINED]["values"]["draining"] is True
        assert placement[NEIGHBOUR]["status"] == "ok"
        status = json.loads(
            (
                await asyncio.to_thread(
                    cli, "-o", "json", "lab", "status", "--state-dir", str(state)
                )
            ).stdout
        )["result"]
        shown = {n["name"]: n for r in status["regions"] for n in r["nodes"]}
        assert shown[DRAINED]["draining"] is True and shown[DRAINED]["sessions"] == 10
        assert shown[NEIGHBOUR]["draining"] is False

        # the 10 keep decoding until shortly before the deadline
        await asyncio.sleep(max(0.0, DEADLINE_S - 1.5 - (time.monotonic() - drain_started)))
        now = time.monotonic()
        assert all(v.frames[-1][0] > now - 0.5 for v in viewers), [
            round(now - v.frames[-1][0], 2) for v in viewers
        ]
        # then it exits by itself, cleanly
        pid = load_lab_state(state).node(DRAINED).pid
        assert pid is not None
        await asyncio.to_thread(
            wait_for, "the drained node to exit", lambda: not procs.is_alive(pid), timeout=10
        )
        assert time.monotonic() - drain_started >= DEADLINE_S - 0.5
        log = (state / "logs" / f"{DRAINED}.log").read_text()
        assert "drained: 10 sessions cut at the deadline" in log and "Traceback" not in log
    finally:
        for v in viewers:
            await v.pc.close()
        await publisher.close(token)


async def _until(what: str, predicate: Any, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
