"""`bcastctl verify failover`: the failover drill (drills/failover.py); table, JSON, JUnit.

Opt-in and disruptive: it kills processes of the target. The lab is the default target;
clusters need --yes (and are not drilled yet: the command says so and exits 2).
"""

from __future__ import annotations

from pathlib import Path

import click

from bcastctl.cli import context
from bcastctl.cli.base import Command
from bcastctl.cli.options import duration_option, state_dir_option
from bcastctl.drills import STEPS
from bcastctl.errors import UsageError

COMMAND = "verify failover"
FAILOVER_EPILOG = (
    "Steps: kill-publisher-node, kill-viewer-node, kill-region-nats (each healed before the "
    "next). Exit codes: 0 every viewer decoded again within --max-recovery by itself, "
    "1 one did not, 2 usage, 3 config, 4 the lab does not answer."
)


@click.command(cls=Command, epilog=FAILOVER_EPILOG)
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
@click.option("--junit-file", type=click.Path(path_type=Path), help="Also write JUnit XML here.")
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
