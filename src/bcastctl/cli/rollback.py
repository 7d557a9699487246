"""`bcastctl rollback`: make a region's previous revision live again."""

from __future__ import annotations

import click

from bcastctl.cli import context
from bcastctl.cli.base import Command
from bcastctl.cli.interaction import confirm, progress_bars
from bcastctl.cli.options import (
    duration_option,
    kube_context_option,
    kubeconfig_option,
    max_disrupted_option,
)

ROLLBACK_EPILOG = (
    "Exit codes: 0 rolled back, 1 the restored revision did not become ready, "
    "3 no previous revision, 4 the cluster is unreachable."
)


@click.command(cls=Command, epilog=ROLLBACK_EPILOG)
@click.option("--region", "-r", required=True, help="The region to roll back.")
@duration_option("--timeout", help="Rollout deadline.", positive=True)
@max_disrupted_option(
    "Never cut more than N sessions: a drain that would is cancelled before its "
    "deadline, and the rollback stops (exit 1) with the pods not yet replaced left as they are."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@kubeconfig_option
@kube_context_option
@click.pass_context
def rollback(
    ctx: click.Context,
    region: str,
    timeout: float | None,
    max_disrupted: int | None,
    yes: bool,
    kubeconfig: str | None,
    kube_context: str | None,
) -> int:
    """Make a region's previous revision live again (recorded as a new revision)."""
    import asyncio

    from bcastctl.deploy.ops import rollback as run_rollback
    from bcastctl.report.deploy_view import rollback_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    confirm(yes, False, f"roll {region} back")
    with progress_bars(cli.err) as progress:
        result = asyncio.run(
            run_rollback(
                cli.fleet(),
                region,
                kubeconfig=kubeconfig,
                context=kube_context,
                timeout_s=timeout,
                max_disrupted=max_disrupted,
                progress=progress,
            )
        )
    emit(cli.out, cli.output.value, "RollbackResult", result, rollback_table)
    return result.exit_code
