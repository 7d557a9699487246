"""A region is one endpoint, on the lab: placement by load, resources reached from any node.

examples/lab.yaml's three regions, two nodes each, with node.max_sessions 3. The
clients are the project's WHIP/WHEP client, which follows 307 redirects as RFC 9725
section 4.5 says WHIP clients must ("the WHIP client MUST follow" a 307 Temporary
Redirect). The lab's public URL of a region is its first node (lab/substitutions.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from labkit import holder, http_json, running_lab, wait_for, write_fleet

from bcastctl.targets.lab_state import lab_whip_token, load_lab_state
from bcastctl.whip.client import ClientSession, publish, view
from bcastctl.whip.signalling import HttpSignalling, WhipError
from bcastctl.whip.synthetic import SyntheticVideo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    """The example lab with three sessions per node."""
    state = tmp_path_factory.mktemp("region-lab") / "state"
    fleet = write_fleet(tmp_path_factory.mktemp("fleet") / "lab.yaml", node={"max_sessions": 3})
    with running_lab(fleet, state) as result:
        yield result, state


def _nodes(lab: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        n["name"]: {**n, "region": r["name"]} for r in lab["state"]["regions"] for n in r["nodes"]
    }


def _metric(admin_url: str, name: str) -> float:
    import urllib.request

    with urllib.request.urlopen(f"{admin_url}/metrics", timeout=3) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f"bcast_node_{name} "):
                return float(line.split()[1])
    return 0.0


async def _publish(
    http: aiohttp.ClientSession, lab: dict[str, Any], state: Path, node: str, stream: str
) -> ClientSession:
    nodes = _nodes(lab)
    token = lab_whip_token(load_lab_state(state))
    publisher = await publish(
        HttpSignalling(http, nodes[node]["signalling_url"]), stream, token, SyntheticVideo(160, 96)
    )
    await asyncio.to_thread(
        wait_for,
        f"{stream} in every registry",
        lambda: all(
            stream in http_json(f"{n['admin_url']}/api/cluster")["registry"] for n in nodes.values()
        ),
    )
    return publisher


async def test_viewers_posted_to_one_node_fill_its_region_then_the_nearest_ones(
    small_lab: tuple[dict[str, Any], Path], http: aiohttp.ClientSession
) -> None:
    lab, state = small_lab
    nodes = _nodes(lab)
    entry = nodes["us-east5-broadcaster-0"]
    publisher = await _publish(http, lab, state, "us-east5-broadcaster-0", "placed")
    viewers: list[ClientSession] = []
    try:
        for _ in range(8):  # the publisher holds one of us-east5-broadcaster-0's three
            viewers.append(
                await view(HttpSignalling(http, entry["signalling_url"]), "placed", decode=False)
            )
            await asyncio.sleep(0.3)
        where = [holder(v) for v in viewers]
        regions = [nodes[w]["region"] for w in where]
        assert where[:2] == ["us-east5-broadcaster-0"] * 2, where
        assert where[2:5] == ["us-east5-broadcaster-1"] * 3, where
        # then the nearest region (europe-west9 is nearer us-east5 than asia-southeast1)
        assert regions[5:] == ["europe-west9"] * 3, where
        assert {v.signalling.url for v in viewers[5:]} == {
            nodes["europe-west9-broadcaster-0"]["signalling_url"]
        }
        # nobody is refused until the whole fleet is full: 18 places, the publisher holds one
        for _ in range(9):
            viewers.append(
                await view(HttpSignalling(http, entry["signalling_url"]), "placed", decode=False)
            )
            await asyncio.sleep(0.3)
        per_node = {name: [holder(v) for v in viewers].count(name) for name in nodes}
        per_node["us-east5-broadcaster-0"] += 1
        assert set(per_node.values()) == {3}, per_node
        await asyncio.sleep(1.0)  # two heartbeats: every node's view of the others is current
        with pytest.raises(WhipError) as full:
            await view(HttpSignalling(http, entry["signalling_url"]), "placed", decode=False)
        assert full.value.status == 503 and "the fleet is full" in full.value.reason
        admin = entry["admin_url"]
        assert _metric(admin, "placement_local_total") == 3  # the publisher and two viewers
        assert _metric(admin, "placement_neighbour_total") == 3
        assert _metric(admin, "placement_redirected_total") == 12
        assert _metric(admin, "placement_refused_total") == 1
    finally:
        for v in viewers:
            await v.close()
        await publisher.close(lab_whip_token(load_lab_state(state)))


async def test_a_delete_sent_to_any_other_node_ends_the_session_on_itsholder(
    small_lab: tuple[dict[str, Any], Path], http: aiohttp.ClientSession
) -> None:
    lab, state = small_lab
    nodes = _nodes(lab)
    # a stream held in each region: a viewer of it stays on the node it POSTs to (a viewer of
    # a stream from another region would rather go to a node already relaying it)
    holders = {
        "us-east5": "us-east5-broadcaster-0",
        "europe-west9": "europe-west9-broadcaster-1",
        "asia-southeast1": "asia-southeast1-broadcaster-0",
    }
    publishers = [
        await _publish(http, lab, state, node, f"routed-{region}")
        for region, node in holders.items()
    ]
    try:
        for home, node in nodes.items():
            for other, elsewhere in nodes.items():
                if other == home:
                    continue
                session = await view(
                    HttpSignalling(http, node["signalling_url"]),
                    f"routed-{node['region']}",
                    decode=False,
                )
                assert holder(session) == home
                before = _metric(node["admin_url"], "viewers")
                answer = await HttpSignalling(http, elsewhere["signalling_url"]).request(
                    "DELETE", session.resource
                )
                assert answer.status == 200, (home, other, answer.body)
                assert _metric(node["admin_url"], "viewers") == before - 1, (home, other)
                await session.pc.close()
    finally:
        for publisher in publishers:
            await publisher.close(lab_whip_token(load_lab_state(state)))
