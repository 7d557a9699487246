"""`bcastctl verify mesh`: every mesh check on the lab or the clusters; table, JSON, JUnit.

`bcastctl verify failover`: the failover drill (drills/failover.py), opt-in and disruptive:
it kills processes of the target. The lab is the default target; clusters need --yes (and
are not drilled yet: the command says so and exits 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bcastctl.cli import context
from bcastctl.cli.base import Group
from bcastctl.cli.context import PathType
from bcastctl.cli.options import (
    duration_option,
    open_target,
    regions_option,
    state_dir_option,
    target_option,
)
from bcastctl.drills import STEPS
from bcastctl.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

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
@click.option("--junit-file", type=PathType(), help="Also write JUnit XML here.")
@click.option(
    "--report", "report_file", type=PathType(),
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


COMMAND = "verify failover"
FAILOVER_EPILOG = (
    "Steps: kill-publisher-node, kill-viewer-node, kill-region-nats (each healed before the "
    "next). Exit codes: 0 every viewer decoded again within --max-recovery by itself, "
    "1 one did not, 2 usage, 3 config, 4 the lab does not answer."
)


@verify.command(epilog=FAILOVER_EPILOG)
@click.option(
    "--target",
    type=click.Choice(["lab", "kube"]),
    default="lab",
    show_default=True,
    help="Where to break things: the lab, or the fleet's clusters (needs --yes).",
)
@state_dir_option
@duration_option(
    "--max-recovery",
    help="Every affected viewer decodes again within this long "
    "[default: the nodes' peer timeout + 3 s].",
    positive=True,
)
@click.option(
    "--step", "steps", multiple=True, type=click.Choice(STEPS),
    help="Only these steps, in the order given (repeatable) [default: all three].",
)  # fmt: skip
@click.option("--yes", is_flag=True, help="Yes, disrupt the clusters (with --target kube).")
@click.option("--junit-file", type=PathType(), help="Also write JUnit XML here.")
@click.pass_context
def failover(
    ctx: click.Context,
    target: str,
    state_dir: Path | None,
    max_recovery: float | None,
    steps: tuple[str, ...],
    yes: bool,
    junit_file: Path | None,
) -> int:
    """Kill the publisher's node, a viewer's node, a region's NATS; time the recovery."""
    import asyncio
    import functools

    from bcastctl.drills.failover import REPORT_KIND, FailoverOptions, run_failover_on
    from bcastctl.node.settings import NodeSettings
    from bcastctl.report.checks_junit import junit_on_setup_error, write_junit
    from bcastctl.report.checks_table import checks_table
    from bcastctl.report.envelope import emit
    from bcastctl.targets.lab import LabTarget
    from bcastctl.targets.lab_state import default_state_dir

    cli = context.get(ctx)
    if target == "kube":
        if not yes:
            raise UsageError("verify failover --target kube deletes pods: add --yes to go on")
        raise UsageError(
            "verify failover drills the lab only for now", hint="run it with --target lab"
        )
    options = FailoverOptions(
        max_recovery_s=max_recovery or NodeSettings.peer_timeout_s.default + 3.0,
        steps=steps or STEPS,
        on_step=lambda text: cli.err.print(f"failover: {text}"),
    )
    with junit_on_setup_error(junit_file):
        options.validate()
        lab = LabTarget.from_state_dir(default_state_dir(state_dir))
    report = asyncio.run(run_failover_on(lab, options))
    if junit_file is not None:
        write_junit(report, junit_file, COMMAND)
    emit(cli.out, cli.output, REPORT_KIND, report, functools.partial(checks_table, command=COMMAND))
    return report.exit_code
