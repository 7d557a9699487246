"""`bcastctl bundle` (one archive of the whole fleet) and `bcastctl analyze BUNDLE` (offline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bcastctl.cli import context
from bcastctl.cli.base import Command
from bcastctl.cli.context import PathType
from bcastctl.cli.options import duration_option, open_target, state_dir_option, target_option

if TYPE_CHECKING:
    from pathlib import Path

BUNDLE_EPILOG = (
    "Exit codes: 0 written (unreachable regions and parts are recorded inside), 2 usage, "
    "3 config or the file cannot be written."
)
ANALYZE_EPILOG = (
    "Exit codes: 0 nothing failed when the bundle was made, 1 a check failed, 3 not a bundle."
)


@click.command(cls=Command, epilog=BUNDLE_EPILOG)
@target_option
@state_dir_option
@duration_option("--since", help="Logs and events since.", default="1h", positive=True)
@click.option(
    "--file", "-f", "out", type=PathType(),
    help="The archive [default: bcastctl-bundle-<time>.tar.gz].",
)  # fmt: skip
@duration_option("--timeout", help="Deadline of one request or check.", default="10s",
                 positive=True)  # fmt: skip
@click.pass_context
def bundle(
    ctx: click.Context,
    target: str,
    state_dir: Path | None,
    since: float,
    out: Path | None,
    timeout: float,
) -> int:
    """Collect the evidence of every region into one .tar.gz.

    Per region pods, events, logs, NATS monitoring, node views, live vs rendered; verify
    mesh and probe rtt results; one timeline. Secrets are redacted.
    """
    import asyncio
    import time
    from pathlib import Path

    from bcastctl.bundle.collect import BundleOptions, collect_bundle_on
    from bcastctl.bundle.model import REPORT_KIND
    from bcastctl.report.bundle_view import bundle_view
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    path = out or Path(time.strftime("bcastctl-bundle-%Y%m%dT%H%M%SZ.tar.gz", time.gmtime()))
    options = BundleOptions(path=path, since_s=since, timeout_s=timeout)
    options.validate()
    result = asyncio.run(collect_bundle_on(open_target(cli, target, state_dir), options))
    emit(cli.out, cli.output, REPORT_KIND, result, bundle_view)
    return 0


@click.command(cls=Command, epilog=ANALYZE_EPILOG)
@click.argument("path", type=PathType())
@click.pass_context
def analyze(ctx: click.Context, path: Path) -> int:
    """Re-run the root-cause analysis of a bundle (PATH, from `bcastctl bundle`) offline.

    Prints the same report as `verify mesh`.
    """
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
