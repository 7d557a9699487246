"""Issue 12, as it was found on the lab: heartbeats recorded from NATS and published again
after `lab fault kill-node` brought the dead node and its stream back everywhere.

On today's lab (the rendered, authenticated NATS): the read-only user records the
victim's beats; after the kill, the attacker logs in as the victim's own NATS user
(the region's node password leaked) and publishes them again. Nobody takes the node
or its stream back, and a viewer gets 404; the node restarted by `lab fault
restart-node` (a newer boot) is back at once.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from checks_testkit import cli, lab_fleet, running_lab

from bcastctl.adapters.nats_bus import BusMessage, NatsBus
from bcastctl.fleet import load_fleet
from bcastctl.protocol import NATS_MONITOR_USER, ClusterView, heartbeat_subject
from bcastctl.readers.cluster import member_names
from bcastctl.targets.lab_state import lab_whip_token, load_lab_secrets, load_lab_state
from bcastctl.whip.client import publish, rtc_configuration, view
from bcastctl.whip.signalling import HttpSignalling, WhipError
from bcastctl.whip.synthetic import SyntheticVideo
from nats_testkit import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("replay-lab")
    with running_lab(lab_fleet(directory / "lab.yaml"), directory / "state") as state_dir:
        yield state_dir


def cluster_view(admin_url: str) -> ClusterView:
    with urllib.request.urlopen(admin_url + "/api/cluster", timeout=3) as response:
        return cast(ClusterView, json.loads(response.read()))


def stale_beats(admin_url: str) -> float:
    with urllib.request.urlopen(admin_url + "/metrics", timeout=3) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("bcast_node_stale_heartbeats_total "):
                return float(line.split()[1])
    return 0.0


async def test_beats_replayed_after_kill_node_revive_nothing(lab: Path) -> None:
    import aiohttp

    state = load_lab_state(lab)
    fleet = load_fleet(state.fleet_path)
    secrets = load_lab_secrets(state)
    victim_region, watcher_region = state.regions[1], state.regions[0]
    victim, watcher = victim_region.nodes[1], watcher_region.nodes[0]
    subject = heartbeat_subject(fleet.name, victim.region, victim.name)
    recorded: list[BusMessage] = []

    async def record(message: BusMessage) -> None:
        recorded.append(message)

    reader = await NatsBus.connect(
        [victim_region.nats_client_url],
        "recorder",
        NATS_MONITOR_USER,
        secrets.get(f"{fleet.secrets.nats_monitor}/secret"),
    )
    attacker = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        try:
            await reader.subscribe(subject, record)
            publisher = await publish(
                HttpSignalling(http, victim.signalling_url),
                "replayed",
                lab_whip_token(state),
                SyntheticVideo(160, 96),
                config=rtc_configuration(None, loopback=True),
            )
            await asyncio.to_thread(
                wait_for,
                "beats claiming the stream, seen by the watcher",
                lambda: (
                    any(b"replayed" in m.data for m in recorded)
                    and "replayed" in str(cluster_view(watcher.admin_url)["registry"])
                ),
                15,
            )
            assert (
                cli("lab", "fault", "kill-node", victim.name, "--state-dir", str(lab)).returncode
                == 0
            )
            await publisher.pc.close()
            await asyncio.to_thread(
                wait_for,
                "the watcher drops the victim",
                lambda: victim.name not in member_names(cluster_view(watcher.admin_url)),
                10,
            )
            attacker = await NatsBus.connect(
                [victim_region.nats_client_url],
                "attacker",
                victim.name,  # the victim's own user: its subject is publishable
                secrets.get(f"{fleet.secrets.nats_node}/secret"),
            )
            stale_before = stale_beats(watcher.admin_url)
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                for message in recorded[-20:]:
                    await attacker.publish(message.subject, message.data)
                await attacker.flush()
                view_now = cluster_view(watcher.admin_url)
                assert victim.name not in member_names(view_now)
                assert "replayed" not in str(view_now["registry"])
                await asyncio.sleep(0.2)
            # the beats did arrive (the victim's user may publish them) and were refused
            assert stale_beats(watcher.admin_url) >= stale_before + 20
            with pytest.raises(WhipError) as unknown:
                await view(HttpSignalling(http, watcher.signalling_url), "replayed")
            assert unknown.value.status == 404
        finally:
            if attacker is not None:
                await attacker.close()
            await reader.close()
    assert cli("lab", "fault", "restart-node", victim.name, "--state-dir", str(lab)).returncode == 0
    await asyncio.to_thread(
        wait_for,
        "the restarted victim (a newer boot) back in the watcher's view",
        lambda: victim.name in member_names(cluster_view(watcher.admin_url)),
        15,
    )
