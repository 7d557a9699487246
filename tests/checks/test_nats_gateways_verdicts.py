"""nats-gateways' results from the shared gateway verdict, table-driven, no nats-server.

The verdict itself (readers.nats.judge_pair) is tested against nats-server's payloads in
tests/readers/test_nats_reader.py; here: what the check reports for each verdict.
"""

from __future__ import annotations

import pytest
from verdict_kit import server

from bcastctl.checks import nats_gateways
from bcastctl.checks.base import Status
from bcastctl.readers.nats import judge_pair

# (case, servers of a as (outbound, inbound, configured), status, message fragment)
CASES = [
    ("connected", [({"b": 84.2}, ["b"], ["b"])], Status.ok,
     "outbound on 1 server(s) and inbound connected, rtt 84.2 ms"),
    ("not configured", [({"b": 84.2}, ["b"], [])], Status.fail, "gateway b not configured on m0"),
    ("outbound cut", [({}, ["b"], ["b"])], Status.fail,
     "configured but not connected: outbound on 1/1 server(s)"),
    ("inbound cut", [({"b": 84.2}, [], ["b"])], Status.fail,
     "configured but not connected: inbound from b"),
    ("both cut", [({}, [], ["b"])], Status.fail,
     "configured but not connected: outbound on 1/1 server(s) and inbound from b"),
    # nats-server says "0s" until its first PING on the link (tests/readers): connected,
    # and the RTT is written as not measured, never as 0 ms
    ("rtt not measured yet", [({"b": None}, ["b"], ["b"])], Status.ok,
     "outbound on 1 server(s) and inbound connected, rtt not measured yet"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "servers", "status", "says"), CASES, ids=[c[0] for c in CASES])
def test_pair_result(case: str, servers: list, status: Status, says: str) -> None:
    links = [server("a", *s, monitor=f"m{i}") for i, s in enumerate(servers)]
    result = nats_gateways.pair_result(nats_gateways.NAME, judge_pair("a", "b", links))
    assert (result.status, result.scope, result.scope_kind) == (status, "a->b", "pair")
    assert result.message.startswith(says), result.message
    finding = nats_gateways.GatewayPair.of(result)
    assert finding is not None and finding.servers == len(links)


@pytest.mark.parametrize(("errors", "monitors", "gone"), [(1, 1, True), (1, 3, False)])
def test_monitors_result(errors: int, monitors: int, gone: bool) -> None:
    result = nats_gateways.monitors_result(nats_gateways.NAME, "b", ["refused"] * errors, monitors)
    assert result.status == Status.fail and result.scope == "b"
    assert result.message.startswith(f"{errors}/{monitors} NATS monitor(s) unreachable")
    finding = nats_gateways.MonitorsUnreachable.of(result)
    assert finding == nats_gateways.MonitorsUnreachable(monitor_unreachable=gone)
