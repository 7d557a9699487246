"""`bcastctl probe rtt`: the region-to-region RTT matrix, gateway RTTs, client-side election."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bcastctl.cli import context
from bcastctl.cli.verify import StateDirOption, TargetKind, TargetOption, open_target

app = typer.Typer(
    help="Measure the fleet: RTT between regions and from here.", no_args_is_help=True
)

RTT_EPILOG = (
    "Exit codes: 0 ok, 1 a pair over --max-rtt (p50, or every sample lost), 2 usage, "
    "3 config, 4 no region reachable."
)


@app.command(epilog=RTT_EPILOG)
def rtt(
    ctx: typer.Context,
    target: TargetOption = TargetKind.auto,
    state_dir: StateDirOption = None,
    samples: Annotated[int, typer.Option("--samples", "-n", help="Requests per pair.")] = 10,
    interval: Annotated[float, typer.Option(help="Milliseconds between requests.")] = 100.0,
    max_rtt: Annotated[
        float | None, typer.Option("--max-rtt", help="Exit 1 naming pairs whose p50 is over MS.")
    ] = None,
    client: Annotated[
        bool, typer.Option(help="Also probe each region from here and elect one.")
    ] = True,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Also write the heatmap and the region map to FILE.svg, or a page to FILE.html.",
        ),
    ] = None,
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
    options = RttOptions(samples=samples, interval_ms=interval, max_rtt_ms=max_rtt, client=client)
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
