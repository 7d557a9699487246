"""`probe rtt --export FILE.svg|FILE.html`: the RTT heatmap and the fleet map as a file.

The heatmap's cells are coloured by p50 RTT and carry the value; the map places every
region at its fleet coordinates (`regions[].geo`) and draws each region pair's link
coloured by its RTT, or red and dashed when every sample was lost. The SVG holds the two
pictures; the HTML page adds the pair statistics and the client's view. Both open offline.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from bcastctl.errors import UsageError
from bcastctl.fleet import Geo
from bcastctl.probes.model import ClientRtt, Election, PairRtt, RttReport
from bcastctl.report.html_page import Page, Row, write_file
from bcastctl.report.svg import Cell, Link, Place, fleet_map, heatmap, stack, to_text

SUFFIXES = (".svg", ".html", ".htm")


def check_export_path(path: Path) -> None:
    """UsageError before probing when the file type is not one we write."""
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--export {path}: the file must end in .svg or .html")


def places(regions: Sequence[str], geo: Mapping[str, Geo]) -> list[Place]:
    """The regions with known coordinates, in the order given."""
    return [Place(name, geo[name].lat, geo[name].lon) for name in regions if name in geo]


def _cells(report: RttReport) -> list[Cell]:
    return [
        Cell(
            p.from_region, p.to_region, p.stats.p50_ms, p.stats.loss_pct, p.name in report.over_max
        )
        for p in report.pairs
    ]


def _links(report: RttReport) -> list[Link]:
    """One link per region pair: down when a direction lost everything, else its worse p50."""
    by_pair: dict[frozenset[str], list[PairRtt]] = {}
    for p in report.pairs:
        by_pair.setdefault(frozenset((p.from_region, p.to_region)), []).append(p)
    links: list[Link] = []
    for directions in by_pair.values():
        a, b = directions[0].from_region, directions[0].to_region
        if any(d.stats.p50_ms is None and d.stats.sent for d in directions):
            links.append(Link(a, b, "down", None))
            continue
        rtts = [d.stats.p50_ms for d in directions if d.stats.p50_ms is not None]
        links.append(Link(a, b, "up" if rtts else "unknown", max(rtts) if rtts else None))
    return links


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _pictures(report: RttReport, geo: Mapping[str, Geo]) -> list[ET.Element]:
    every = [*report.regions, *report.unreachable_regions]
    return [
        heatmap(report.regions, _cells(report), "RTT p50 ms, node to node over NATS"),
        fleet_map(places(every, geo), _links(report), "Regions and links (p50 RTT)"),
    ]


def _pair_row(pair: PairRtt) -> Row:
    s = pair.stats
    numbers = (s.min_ms, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms, s.jitter_ms)
    return [
        pair.name,
        *((_fmt(value), "num") for value in numbers),
        (f"{s.loss_pct:g}%", "num"),
        (pair.gateway_rtt_note or _fmt(pair.gateway_rtt_ms), "num"),
        pair.error or "",
    ]


def _client_row(client: ClientRtt, election: Election) -> Row:
    verdict = ("elected", "ok") if client.region == election.winner else None
    return [
        client.region,
        (_fmt(client.http.mean_ms), "num"),
        (_fmt(client.stun.mean_ms if client.stun else None), "num"),
        verdict or election.why_not.get(client.region, ""),
    ]


def _page(report: RttReport, geo: Mapping[str, Geo], title: str) -> Page:
    page = Page(title)
    page.paragraph(
        f"target {report.target}, {report.samples} samples per pair, "
        f"{report.interval_ms:g} ms apart, {report.duration_s:.1f} s"
    )
    page.pictures(*_pictures(report, geo))
    page.heading("Pairs")
    page.table(
        ["pair", "min", "p50", "p95", "p99", "max", "jitter", "loss", "gateway RTT", "error"],
        [_pair_row(pair) for pair in report.pairs],
    )
    if report.client:
        page.heading(f"From here (a client elects by mean {report.election.metric.upper()} RTT)")
        page.table(
            ["region", "HTTP mean ms", "STUN mean ms", "election"],
            [_client_row(client, report.election) for client in report.client],
        )
    if report.max_rtt_ms is not None:
        over = ", ".join(report.over_max)
        page.paragraph(
            f"over --max-rtt {report.max_rtt_ms:g} ms: {over}"
            if over
            else f"every pair under --max-rtt {report.max_rtt_ms:g} ms",
            "fail" if over else "ok",
        )
    for region, why in report.unreachable_regions.items():
        page.paragraph(f"region {region} unreachable: {why}", "fail")
    return page


def export_report(report: RttReport, path: Path, geo: Mapping[str, Geo]) -> None:
    """Write the pictures (.svg) or the whole page (.html) for `report`."""
    check_export_path(path)
    title = f"bcastctl probe rtt: {report.fleet}"
    if path.suffix.lower() == ".svg":
        write_file(path, to_text(stack(_pictures(report, geo), title)), "--export")
    else:
        _page(report, geo, title).write(path, "--export")
