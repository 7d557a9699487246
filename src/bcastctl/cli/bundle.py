"""`bcastctl bundle` (one archive of the whole fleet) and `bcastctl analyze BUNDLE` (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bcastctl.cli import context
from bcastctl.cli.verify import (
    StateDirOption,
    TargetKind,
    TargetOption,
    open_target,
    parse_duration,
)

BUNDLE_HELP = (
    "Collect one archive for the whole fleet: per region pods, events, logs, NATS monitoring, "
    "node views, live vs rendered; verify mesh and probe rtt results; one timeline. "
    "Secrets are redacted."
)
BUNDLE_EPILOG = (
    "Exit codes: 0 written (unreachable regions and parts are recorded inside), 2 usage, "
    "3 config or the file cannot be written."
)
ANALYZE_HELP = "Re-run the root-cause analysis of a bundle offline; print it as verify mesh does."
ANALYZE_EPILOG = (
    "Exit codes: 0 nothing failed when the bundle was made, 1 a check failed, 3 not a bundle."
)


def bundle(
    ctx: typer.Context,
    target: TargetOption = TargetKind.auto,
    state_dir: StateDirOption = None,
    since: Annotated[str, typer.Option(help="Logs and events since, e.g. 1h, 30m.")] = "1h",
    out: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="The archive [default: bcastctl-bundle-<time>.tar.gz]."),
    ] = None,
    timeout: Annotated[str, typer.Option(help="Deadline of one request or check.")] = "10s",
) -> int:
    """Collect the evidence of every region into one .tar.gz."""
    import asyncio
    import time

    from bcastctl.bundle.collect import BundleOptions, collect_bundle_on
    from bcastctl.bundle.model import REPORT_KIND
    from bcastctl.report.bundle_view import bundle_view
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    path = out or Path(time.strftime("bcastctl-bundle-%Y%m%dT%H%M%SZ.tar.gz", time.gmtime()))
    options = BundleOptions(
        path=path,
        since_s=parse_duration("--since", since, positive=True),
        timeout_s=parse_duration("--timeout", timeout, positive=True),
    )
    options.validate()
    result = asyncio.run(collect_bundle_on(open_target(cli, target, state_dir), options))
    emit(cli.out, cli.output, REPORT_KIND, result, bundle_view)
    return 0


def analyze(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A bundle written by `bcastctl bundle`.")],
) -> int:
    """The same report as `verify mesh`, from a bundle, offline."""
    from bcastctl.bundle.analyze import analyze_bundle
    from bcastctl.checks.report import REPORT_KIND
    from bcastctl.report.bundle_view import bundle_header
    from bcastctl.report.checks_table import checks_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    manifest, report = analyze_bundle(path)
    cli.err.print(bundle_header(manifest), highlight=False)
    emit(cli.out, cli.output, REPORT_KIND, report, checks_table)
    return report.exit_code
