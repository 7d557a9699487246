"""`bcastctl probe rtt`: the region-to-region RTT matrix, gateway RTTs, client-side election."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bcastctl.cli import context
from bcastctl.cli.base import Group
from bcastctl.cli.context import PathType
from bcastctl.cli.options import duration_option, open_target, state_dir_option, target_option

if TYPE_CHECKING:
    from pathlib import Path

RTT_EPILOG = (
    "Exit codes: 0 ok, 1 a pair over --max-rtt (p50, or every sample lost), 2 usage, "
    "3 config, 4 no region reachable."
)


@click.group(cls=Group)
def probe() -> None:
    """Measure the fleet: RTT between regions and from here."""


@probe.command(epilog=RTT_EPILOG)
@target_option
@state_dir_option
@click.option("--samples", "-n", type=int, default=10, show_default=True,
              help="Requests per pair.")  # fmt: skip
@duration_option("--interval", help="Time between requests.", default="100ms", bare="ms")
@duration_option("--max-rtt", help="Exit 1 naming pairs whose p50 is over this.", bare="ms",
                 positive=True)  # fmt: skip
@click.option("--client/--no-client", default=True, show_default=True,
              help="Also probe each region from here and elect one.")  # fmt: skip
@click.option("--watch", is_flag=True, help="Refresh until Ctrl-C.")
@click.option(
    "--export", type=PathType(),
    help="Also write the heatmap and the region map to FILE.svg, or a page to FILE.html.",
)  # fmt: skip
@click.pass_context
def rtt(
    ctx: click.Context,
    target: str,
    state_dir: Path | None,
    samples: int,
    interval: float,
    max_rtt: float | None,
    client: bool,
    watch: bool,
    export: Path | None,
) -> int:
    """Node-to-node RTT for every region pair over NATS, and the region a client would elect."""
    import asyncio

    from bcastctl.probes.model import REPORT_KIND
    from bcastctl.probes.rtt import RttOptions, probe_rtt_on
    from bcastctl.report.envelope import emit
    from bcastctl.report.probe_export import check_export_path, export_report
    from bcastctl.report.probe_matrix import rtt_view
    from bcastctl.report.probe_watch import watch_rtt

    cli = context.get(ctx)
    options = RttOptions(
        samples=samples,
        interval_ms=round(interval * 1000, 6),
        max_rtt_ms=None if max_rtt is None else round(max_rtt * 1000, 6),
        client=client,
    )
    options.validate()
    if export is not None:
        check_export_path(export)
    if watch:
        return asyncio.run(watch_rtt(lambda: open_target(cli, target, state_dir), options, cli.out))
    opened = open_target(cli, target, state_dir)
    report = asyncio.run(probe_rtt_on(opened, options))
    if export is not None:
        export_report(report, export, {r.name: r.geo for r in opened.fleet.regions})
    emit(cli.out, cli.output, REPORT_KIND, report, rtt_view)
    return report.exit_code
