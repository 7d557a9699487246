"""The rendered NATS config, run by a real nats-server: who may connect and publish what.

Each region's server runs the text render puts in its ConfigMap, with only its addresses
moved to loopback (nats_testkit.on_loopback) and its `$VAR`s set from the environment,
as Kubernetes sets them from the Secrets named in fleet.secrets.

nats-server facts relied on (nats-io/nats-server, server/):
- opts.go parseGateway: `authorization` and `reject_unknown_cluster` in `gateway {}`;
  gateway.go sendGatewayConnect: a server dials other gateways with its own gateway
  user and password when the URL has none; processGatewayConnect refuses an unknown
  gateway name when reject_unknown is set.
- opts.go parseUserPermissions: `allow_responses` lets a user answer requests it got.
- A config `$VAR` not defined in the config is read from the environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcastctl.adapters.nats_bus import BusMessage, NatsBus
from bcastctl.errors import UnreachableError
from bcastctl.render.nats_config import MONITOR_USER, nats_config, nats_secret_env, node_user
from nats_testkit import (
    RENDERED_PASSWORDS,
    RenderedServer,
    gateways_connected,
    rendered_fleet,
    rendered_text,
    start_rendered,
    start_rendered_fabric,
    wait_for,
)

pytestmark = pytest.mark.slow  # starts NATS servers

PASSWORDS = RENDERED_PASSWORDS
FLEET = rendered_fleet()


def rendered(region: str) -> str:
    return rendered_text(FLEET, region)


@pytest.fixture(scope="module")
def fabric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RenderedServer]]:
    """Regions r1 and r2 from the rendered configs, their gateways connected (r3 is down)."""
    directory = tmp_path_factory.mktemp("rendered-nats")
    servers = start_rendered_fabric(directory, FLEET, ["r1", "r2"])
    try:
        yield {server.region: server for server in servers}
    finally:
        for server in servers:
            server.stop()


def test_every_variable_in_the_config_comes_from_a_named_secret() -> None:
    text = nats_config(FLEET, FLEET.region("r1"))
    variables = {env.env for env in nats_secret_env(FLEET)}
    assert variables == set(PASSWORDS)
    for name in variables:
        assert f"${name}" in text
    secrets = {env.secret for env in nats_secret_env(FLEET)}
    assert secrets <= set(FLEET.secrets.names())
    assert "no_auth_user" not in text and not any(v in text for v in PASSWORDS.values())


async def test_no_client_connects_without_credentials(fabric: dict[str, RenderedServer]) -> None:
    url = fabric["r1"].url
    for user, password in (("", ""), (node_user("r1", 0), "wrong"), ("app", "")):
        with pytest.raises(UnreachableError):
            await NatsBus.connect([url], "anonymous", user, password, timeout_s=2)
    bus = await NatsBus.connect([url], "node", node_user("r1", 0), PASSWORDS["NATS_NODE_PASSWORD"])
    assert bus.connected
    await bus.close()


class Inbox:
    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def __call__(self, message: BusMessage) -> None:
        self.subjects.append(message.subject)


async def test_a_node_publishes_only_its_own_heartbeat_and_media(
    fabric: dict[str, RenderedServer],
) -> None:
    node_pw, monitor_pw = PASSWORDS["NATS_NODE_PASSWORD"], PASSWORDS["NATS_MONITOR_PASSWORD"]
    me, other = node_user("r1", 0), node_user("r1", 1)
    # the reader sits in the other region: what it gets crossed the gateway
    reader = await NatsBus.connect([fabric["r2"].url], "reader", MONITOR_USER, monitor_pw)
    node = await NatsBus.connect([fabric["r1"].url], "node", me, node_pw)
    inbox = Inbox()
    try:
        await reader.subscribe("bcast.authfleet.>", inbox)
        await reader.flush()
        await asyncio.sleep(0.5)  # the subscription's interest reaches r1 over the gateway
        allowed = [
            f"bcast.authfleet.hb.r1.{me}",
            f"bcast.authfleet.media.{me}.cam.video",
            f"bcast.authfleet.want.{other}.cam",
        ]
        refused = [
            f"bcast.authfleet.hb.r1.{other}",  # another node's heartbeat
            f"bcast.authfleet.hb.r2.{node_user('r2', 0)}",  # another region's node
            f"bcast.authfleet.media.{other}.cam.video",  # a stream another node holds
            "bcast.authfleet.media.cam.video",  # the old, holder-less media subject
        ]
        for subject in refused + allowed:
            await node.publish(subject, b"x")
        await node.flush()
        await asyncio.to_thread(
            wait_for, "the allowed subjects at the reader", lambda: len(inbox.subjects) >= 3, 5
        )
        await asyncio.sleep(0.3)
        assert sorted(inbox.subjects) == sorted(allowed)
        assert node.connected  # a refused publish is refused, the connection stays
    finally:
        await node.close()
        await reader.close()


async def test_the_read_only_user_publishes_nothing(fabric: dict[str, RenderedServer]) -> None:
    monitor_pw = PASSWORDS["NATS_MONITOR_PASSWORD"]
    tool = await NatsBus.connect([fabric["r1"].url], "tool", MONITOR_USER, monitor_pw)
    reader = await NatsBus.connect([fabric["r1"].url], "reader", MONITOR_USER, monitor_pw)
    inbox = Inbox()
    try:
        await reader.subscribe("bcast.authfleet.>", inbox)
        await reader.flush()
        for subject in ("bcast.authfleet.hb.r1.r1-broadcaster-0", "bcast.authfleet.want.a.b"):
            await tool.publish(subject, b"x")
        await tool.flush()
        await asyncio.sleep(0.5)
        assert inbox.subjects == []
    finally:
        await tool.close()
        await reader.close()


def test_a_gateway_without_the_credentials_or_not_in_the_fleet_is_refused(
    fabric: dict[str, RenderedServer], tmp_path: Path
) -> None:
    """A rogue server dials r1's gateway: as region r3 without the gateway password, and as
    an unknown region `rogue` with the (leaked) password. Neither joins; a legitimate r3
    with the password joins, so the refusals are the credentials' and names' doing."""
    legit = {**PASSWORDS}
    no_password = {**PASSWORDS, "NATS_GATEWAY_PASSWORD": "guessed"}
    impostor = start_rendered(tmp_path, FLEET, "r3", rendered("r3"), no_password, "-impostor")
    try:
        wait_for(  # the impostor's own dial into r1 is refused
            "r1 to refuse r3 without credentials",
            lambda: "Gateway Error 'Authorization Violation'" in impostor.log.read_text(),
            10,
        )
        assert "r3" not in (fabric["r1"].gatewayz().get("inbound_gateways") or {})
    finally:
        impostor.stop()
    rogue_text = rendered("r3").replace("name: r3", "name: rogue")
    rogue = start_rendered(tmp_path, FLEET, "r3", rogue_text, legit, "-rogue")
    try:
        wait_for(
            "r1 to refuse the unknown gateway",
            lambda: 'Rejecting connection from gateway "rogue"' in fabric["r1"].log.read_text(),
            10,
        )
        assert "rogue" not in (fabric["r1"].gatewayz().get("inbound_gateways") or {})
    finally:
        rogue.stop()
    joined = start_rendered(tmp_path, FLEET, "r3", rendered("r3"), legit)
    try:
        wait_for(
            "r1 and r3 connected with the gateway credentials",
            lambda: gateways_connected(fabric["r1"].gatewayz(), ["r3"]),
            15,
        )
    finally:
        joined.stop()
