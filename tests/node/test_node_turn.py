"""/api/pc-config: TURN REST credentials that coturn (use-auth-secret) accepts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from node_testkit import TURN_SECRET, NatsServer, NodeFactory, http_json

from bcastctl.adapters.turn import allocate

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab


def turn_env(host: str, port: int, secret: str) -> dict[str, str]:
    return {
        "BCAST_TURN_URLS": f"turn:{host}:{port}?transport=udp",
        "BCAST_TURN_SECRET": secret,
        "BCAST_ICE_POLICY": "relay",
    }


async def test_pc_config_credentials_allocate_on_coturn_and_a_wrong_secret_gets_401(
    super_cluster: list[NatsServer], start_node: NodeFactory, coturn: tuple[str, int]
) -> None:
    host, port = coturn
    good = start_node(
        "turn-good", super_cluster[0], "127.0.0.91", **turn_env(host, port, TURN_SECRET)
    )
    bad = start_node(
        "turn-bad", super_cluster[0], "127.0.0.92", **turn_env(host, port, "some-other-secret")
    )
    status, config = http_json(good.signalling + "/api/pc-config")
    assert status == 200 and config["iceTransportPolicy"] == "relay"
    (server,) = config["iceServers"]
    assert server["urls"] == [f"turn:{host}:{port}?transport=udp"]
    expiry, _, user = server["username"].partition(":")
    assert user == "bcast" and 3500 < int(expiry) - time.time() <= 3600
    expected = base64.b64encode(
        hmac.new(TURN_SECRET.encode(), server["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert server["credential"] == expected
    outcome = await allocate(host, port, server["username"], server["credential"])
    assert outcome.allocated, outcome.reason

    _, wrong = http_json(bad.signalling + "/api/pc-config")
    (server,) = wrong["iceServers"]
    outcome = await allocate(host, port, server["username"], server["credential"])
    assert not outcome.allocated and outcome.error_code == 401
    for node in (good, bad):
        assert TURN_SECRET not in node.log() and "some-other-secret" not in node.log()
