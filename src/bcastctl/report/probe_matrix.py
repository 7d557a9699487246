"""The human view of `probe rtt`: a p50 heatmap (rows: from, columns: to), the pair
statistics, the client's view and its elected region.

Cells are coloured by thresholds: green under 50 ms, yellow under 150 ms, red
above, bold red for loss; over `--max-rtt` is marked with "!".
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bcastctl.probes.model import PairRtt, RttReport

THRESHOLDS_MS = ((50.0, "green"), (150.0, "yellow"))


def _fmt(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:.1f}{unit}"


def cell_style(pair: PairRtt) -> str:
    if pair.stats.p50_ms is None or pair.stats.loss_pct >= 100:
        return "bold white on red"
    if pair.stats.loss_pct > 0:
        return "bold red"
    for limit, style in THRESHOLDS_MS:
        if pair.stats.p50_ms < limit:
            return style
    return "red"


def _cell(pair: PairRtt | None, report: RttReport) -> Text:
    if pair is None:
        return Text("·", style="dim")
    if pair.stats.p50_ms is None:
        return Text("100% loss" if not pair.error else "error", style=cell_style(pair))
    text = f"{pair.stats.p50_ms:.1f}"
    if pair.stats.loss_pct:
        text += f" ({pair.stats.loss_pct:g}% loss)"
    if pair.name in report.over_max:
        text += " !"
    return Text(text, style=cell_style(pair))


def heatmap(report: RttReport) -> Table:
    table = Table(
        title=f"RTT p50 ms, node to node over NATS ({report.samples} samples, "
        f"{report.interval_ms:g} ms apart); rows: from, columns: to",
        title_justify="left",
    )
    table.add_column("from \\ to", style="bold", no_wrap=True)
    for region in report.regions:
        table.add_column(region, justify="right", no_wrap=True)
    by_pair = {(p.from_region, p.to_region): p for p in report.pairs}
    for row in report.regions:
        table.add_row(row, *(_cell(by_pair.get((row, col)), report) for col in report.regions))
    return table


def pair_table(report: RttReport) -> Table:
    table = Table(title="Pairs", title_justify="left")
    for name in ("pair", "min", "p50", "p95", "p99", "max", "jitter", "loss", "gateway", "lab"):
        table.add_column(name, justify="left" if name == "pair" else "right", no_wrap=True)
    for pair in report.pairs:
        s = pair.stats
        table.add_row(
            pair.name,
            _fmt(s.min_ms), Text(_fmt(s.p50_ms), style=cell_style(pair)), _fmt(s.p95_ms),
            _fmt(s.p99_ms), _fmt(s.max_ms), _fmt(s.jitter_ms), f"{s.loss_pct:g}%",
            pair.gateway_rtt_note or _fmt(pair.gateway_rtt_ms), _fmt(pair.configured_rtt_ms),
        )  # fmt: skip
    return table


def client_table(report: RttReport) -> RenderableType:
    metric = report.election.metric.upper()
    table = Table(
        title=f"From here (client view; a client elects by mean {metric} RTT)",
        title_justify="left",
    )
    for name in ("region", "HTTP mean", "HTTP p50", "STUN mean", "answers", "election"):
        table.add_column(name, justify="left" if name in ("region", "election") else "right")
    election = report.election
    for client in report.client:
        verdict = (
            Text("elected", style="bold green")
            if client.region == election.winner
            else Text(election.why_not.get(client.region, ""), style="dim")
        )
        table.add_row(
            client.region,
            _fmt(client.http.mean_ms, " ms"),
            _fmt(client.http.p50_ms, " ms"),
            _fmt(client.stun.mean_ms if client.stun else None, " ms"),
            f"{client.http.received}/{client.http.sent}",
            verdict,
        )
    return table


def rtt_view(report: RttReport) -> RenderableType:
    parts: list[RenderableType] = [heatmap(report), pair_table(report)]
    if report.client:
        parts.append(client_table(report))
    if report.max_rtt_ms is not None:
        over = ", ".join(report.over_max)
        parts.append(
            Text(f"over --max-rtt {report.max_rtt_ms:g} ms: {over}", style="bold red")
            if over
            else Text(f"every pair under --max-rtt {report.max_rtt_ms:g} ms", style="green")
        )
    for region, why in report.unreachable_regions.items():
        parts.append(Text(f"region {region} unreachable: {why}", style="red"))
    return Group(*parts)
