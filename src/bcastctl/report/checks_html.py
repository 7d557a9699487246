"""`verify mesh --report FILE.html`: the checks, their root causes, and the fleet as pictures.

The heatmap shows the RTT each region's NATS measures on its gateway link to every other
region (the nats-gateways results), a link that is not connected written "down", a connected
one whose RTT NATS has not measured yet "not measured yet"; the map
draws the links between the regions at their coordinates, coloured by state and RTT. Then
the root causes and every result with its hint. One self-contained page, opens offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bcastctl.checks import nats_gateways
from bcastctl.checks.base import CheckResult, Status
from bcastctl.checks.report import CheckReport
from bcastctl.fleet import Geo
from bcastctl.readers.nats import NOT_MEASURED
from bcastctl.report.html_page import Page
from bcastctl.report.probe_export import places
from bcastctl.report.svg import Cell, Link, fleet_map, heatmap

MARKS = {Status.ok: "✔ ok", Status.fail: "✖ fail", Status.warn: "⚠ warn", Status.skip: "↷ skip"}


def _gateway_pairs(report: CheckReport) -> list[CheckResult]:
    return [r for r in report.results if r.check == nats_gateways.NAME and r.scope_kind == "pair"]


def _rtt(result: CheckResult) -> float | None:
    link = nats_gateways.GatewayPair.of(result)
    return link.rtt_ms if link is not None and result.status != Status.fail else None


def gateway_cells(results: Sequence[CheckResult]) -> list[Cell]:
    cells = []
    for result in results:
        source, dest = result.regions
        no_answer = "down" if result.status == Status.fail else NOT_MEASURED
        cells.append(Cell(source, dest, _rtt(result), 0.0, no_answer=no_answer))
    return cells


def gateway_links(results: Sequence[CheckResult]) -> list[Link]:
    """One link per region pair: down when either direction failed, else its worse RTT."""
    by_pair: dict[frozenset[str], list[CheckResult]] = {}
    for result in results:
        by_pair.setdefault(frozenset(result.regions), []).append(result)
    links = []
    for directions in by_pair.values():
        a, b = directions[0].regions
        if any(d.status == Status.fail for d in directions):
            links.append(Link(a, b, "down", None))
            continue
        rtts = [rtt for d in directions if (rtt := _rtt(d)) is not None]
        links.append(Link(a, b, "up", max(rtts)) if rtts else Link(a, b, "unknown", None))
    return links


def _summary(report: CheckReport) -> str:
    s = report.summary
    failed = len(report.failed)
    head = f"{failed}/{s.total} failed" if failed else f"all {s.total - s.skip} passed"
    return (
        f"{head} ({s.ok} ok, {s.fail} failed, {s.warn} warnings, {s.skip} skipped; "
        f"target {report.target}, {report.duration_s:.2f} s)"
    )


def checks_page(report: CheckReport, geo: Mapping[str, Geo]) -> Page:
    page = Page(f"bcastctl verify mesh: fleet {report.fleet}")
    page.paragraph(_summary(report), "fail" if report.failed else "ok")
    gateways = _gateway_pairs(report)
    every = [*report.regions, *(r for r in report.unreachable_regions if r not in report.regions)]
    page.pictures(
        heatmap(report.regions, gateway_cells(gateways), "Gateway RTT ms (NATS), rows: from"),
        fleet_map(places(every, geo), gateway_links(gateways), "Regions and gateway links"),
    )
    page.heading("Root causes" if report.root_causes else "Root causes: none")
    for cause in report.root_causes:
        block = page.paragraph(cause.cause, "cause")
        block.set("data-layer", cause.layer)
        page.paragraph(f"explains: {', '.join(cause.explains) or '—'}", "hint")
        if cause.hint:
            page.paragraph(f"hint: {cause.hint}", "hint")
    page.heading("Checks")
    page.table(
        ["", "check", "scope", "result", "hint"],
        [
            [(MARKS[r.status], r.status.value), r.check, r.scope, r.message, r.hint or ""]
            for r in report.results
        ],
        css="checks",
    )
    for region, why in report.unreachable_regions.items():
        page.paragraph(f"region {region} unreachable: {why}", "fail")
    return page


def write_checks_page(report: CheckReport, path: Path, geo: Mapping[str, Geo]) -> None:
    checks_page(report, geo).write(path, "--report")
