"""`bcastctl verify mesh`: every mesh check on the lab or the clusters; table, JSON, JUnit."""

from __future__ import annotations

from pathlib import Path

import click

from bcastctl.cli import context
from bcastctl.cli.base import Group
from bcastctl.cli.failover import failover
from bcastctl.cli.options import (
    duration_option,
    open_target,
    regions_option,
    state_dir_option,
    target_option,
)
from bcastctl.errors import UsageError

MESH_EPILOG = (
    "Exit codes: 0 nothing failed, 1 a check failed (or warned, with --strict), "
    "2 usage, 3 config, 4 no region reachable."
)


@click.group(cls=Group)
def verify() -> None:
    """Check a deployed fleet (or the lab) end to end."""


@verify.command(epilog=MESH_EPILOG)
@target_option
@state_dir_option
@click.option(
    "--check", multiple=True, help="Only checks matching REGEX; '!REGEX' excludes (repeatable)."
)
@regions_option("Only these regions (repeatable).")
@duration_option("--timeout", help="Deadline of one check in one region.", default="10s",
                 positive=True)  # fmt: skip
@duration_option("--wait", help="Re-run until healthy or this long; report what failed.",
                 default="0s")  # fmt: skip
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option("--media", is_flag=True, help="Also publish and view media between every pair.")
@click.option(
    "--media-relay", is_flag=True, help="Media only through each region's TURN (relay ICE)."
)
@click.option("--junit-file", type=click.Path(path_type=Path), help="Also write JUnit XML here.")
@click.option(
    "--report", "report_file", type=click.Path(path_type=Path),
    help="Also write a page (FILE.html): checks, root causes, RTT, map.",
)  # fmt: skip
@click.pass_context
def mesh(
    ctx: click.Context,
    target: str,
    state_dir: Path | None,
    check: tuple[str, ...],
    region: tuple[str, ...],
    timeout: float,
    wait: float,
    strict: bool,
    media: bool,
    media_relay: bool,
    junit_file: Path | None,
    report_file: Path | None,
) -> int:
    """Check every region: NATS gateways, membership, registry, DNS, TURN (and media)."""
    import asyncio

    from bcastctl.checks.report import REPORT_KIND
    from bcastctl.checks.runner import RunOptions, run_checks_on
    from bcastctl.report.checks_junit import junit_on_setup_error, write_junit
    from bcastctl.report.checks_table import checks_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    if report_file is not None and report_file.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--report {report_file}: the file must end in .html")
    options = RunOptions(
        regions=list(region) or None,
        select=check,
        timeout_s=timeout,
        wait_s=wait,
        strict=strict,
        media=media or media_relay,
        media_relay=media_relay,
        on_retry=lambda attempt, failing, left: cli.err.print(
            f"verify: attempt {attempt}: {failing} failing; again until healthy ({left:.0f} s left)"
        ),
    )
    with junit_on_setup_error(junit_file):  # CI gets its JUnit file even when setup fails
        opened = open_target(cli, target, state_dir)
    report = asyncio.run(run_checks_on(opened, options))
    if junit_file is not None:
        write_junit(report, junit_file)
    if report_file is not None:
        from bcastctl.report.checks_html import write_checks_page

        write_checks_page(report, report_file, {r.name: r.geo for r in opened.fleet.regions})
    emit(cli.out, cli.output, REPORT_KIND, report, checks_table)
    return report.exit_code


verify.add_command(failover)  # its own module: cli/failover.py
