"""A gateway link NATS has not timed yet is shown as "not measured yet", never as 0 ms.

nats-server prints a link's RTT as "0s" until the first PONG on it (see
tests/readers/test_nats_reader.py for where in its source); the reader turns that into
None. Here: what `probe rtt` (table, JSON, export) and verify mesh's HTML report show
for such a link. No server is started: fast lane.
"""

from __future__ import annotations

from rich.console import Console

from bcastctl.checks import nats_gateways
from bcastctl.checks.base import CheckResult, Status
from bcastctl.model import to_data
from bcastctl.probes.model import Election, PairRtt, RttReport
from bcastctl.probes.rtt import gateway_rtt
from bcastctl.probes.stats import summarize
from bcastctl.readers.nats import NOT_MEASURED, ServerLinks, judge_pair
from bcastctl.report.checks_html import gateway_cells
from bcastctl.report.probe_export import _pair_row
from bcastctl.report.probe_matrix import pair_table


def links(outbound: dict[str, float | None]) -> ServerLinks:
    """Region a's server: connected both ways to `outbound`'s peers, b and c configured."""
    return ServerLinks("a", outbound, frozenset(outbound), "http://nats.test:8222", frozenset("bc"))


def verdict(peer: str, outbound: dict[str, float | None]) -> CheckResult:
    return nats_gateways.pair_result(nats_gateways.NAME, judge_pair("a", peer, [links(outbound)]))


def test_probe_says_why_a_gateway_rtt_is_missing() -> None:
    timed = links({"b": 84.2, "c": None})
    assert gateway_rtt(timed, "b") == (84.2, None)
    assert gateway_rtt(timed, "c") == (None, NOT_MEASURED)
    assert gateway_rtt(links({}), "b") == (None, "not connected")
    assert gateway_rtt(None, "b") == (None, "NATS monitor not answering")


def pair(rtt_ms: float | None, note: str | None) -> PairRtt:
    return PairRtt(from_region="a", to_region="b", from_node="a-0", to_node="b-0",
                   stats=summarize([84.0, 85.0], 0), gateway_rtt_ms=rtt_ms,
                   gateway_rtt_note=note, configured_rtt_ms=None)  # fmt: skip


def test_probe_table_json_and_export_write_not_measured_yet() -> None:
    unmeasured = pair(*gateway_rtt(links({"b": None}), "b"))
    console = Console(record=True, width=200, no_color=True)
    console.print(pair_table_of(unmeasured))
    row = console.export_text().splitlines()[-2]
    assert NOT_MEASURED in row and "0.0" not in row.split("%")[-1]
    assert to_data(unmeasured)["gateway_rtt_ms"] is None
    assert to_data(unmeasured)["gateway_rtt_note"] == NOT_MEASURED
    assert (NOT_MEASURED, "num") in _pair_row(unmeasured)
    assert ("84.2", "num") in _pair_row(pair(84.2, None))


def pair_table_of(one: PairRtt) -> object:
    report = RttReport(
        target="lab", fleet="f", regions=["a", "b"], samples=2, interval_ms=100, pairs=[one],
        client=[], election=Election(winner=None, metric="http", mean_ms={}, why_not={}),
        max_rtt_ms=None, over_max=[], unreachable_regions={}, duration_s=1.0, exit_code=0,
    )  # fmt: skip
    return pair_table(report)


def test_verify_report_cell_of_an_unmeasured_link_is_not_down_and_not_zero() -> None:
    unmeasured, cut = verdict("b", {"b": None}), verdict("c", {})
    assert unmeasured.status == Status.ok and cut.status == Status.fail
    by_dest = {cell.dest: cell for cell in gateway_cells([unmeasured, cut])}
    assert by_dest["b"].rtt_ms is None and by_dest["b"].no_answer == NOT_MEASURED
    assert by_dest["c"].no_answer == "down"
