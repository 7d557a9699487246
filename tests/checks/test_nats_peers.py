"""nats-peers verdicts on payloads shaped as nats-server's /gatewayz and /connz?auth=true."""

from __future__ import annotations

from bcastctl.checks.nats_peers import foreign_gateways, unknown_clients
from bcastctl.readers.nats import Connz, ServerLinks


def test_a_gateway_that_is_not_a_fleet_region_is_named_either_direction() -> None:
    server = ServerLinks(
        name="a",
        outbound_rtt_ms={"b": 1.0, "evil": None},
        inbound=frozenset({"b", "rogue"}),
        monitor="http://a",
        configured=frozenset({"b"}),
    )
    assert foreign_gateways([server], {"a", "b"}) == ["evil", "rogue"]


def test_clients_known_by_their_user_or_by_name_where_the_server_has_no_users() -> None:
    connz: Connz = {
        "connections": [
            {"authorized_user": "a-broadcaster-0", "name": "a-broadcaster-0"},  # rendered
            {"authorized_user": "bcastctl", "name": "nats-cli"},  # the read-only tool user
            {"authorized_user": "app", "name": "a-1"},  # no_auth_user server: by name
            {"authorized_user": "app", "name": "intruder"},
            {"authorized_user": "app", "ip": "10.0.0.9"},
        ]
    }
    known = {"a-broadcaster-0", "a-1"}
    assert unknown_clients([connz], known) == ["app from 10.0.0.9", "intruder"]
