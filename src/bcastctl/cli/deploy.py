"""`bcastctl deploy`: roll the fleet out region by region (bcastctl.deploy does the work)."""

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
    regions_option,
)

DEPLOY_EPILOG = (
    "Canary first (rollout.canary), then rollout.order; nothing is written until every "
    "selected region passed preflight. Exit codes: 0 deployed or unchanged, 1 a region failed "
    "(rolled back to its previous revision) and the rollout stopped, 2 usage, 3 preflight "
    "(missing CRD or Secret, fleet file), 4 a cluster unreachable. Broadcaster pods are replaced "
    "one at a time after their node drained (sessions drained vs cut are reported)."
)


@click.command(cls=Command, epilog=DEPLOY_EPILOG)
@regions_option()
@click.option("--parallel", is_flag=True, help="All regions at once.")
@click.option("--dry-run", is_flag=True, help="Server-side dry run + diff.")
@duration_option("--timeout", help="Rollout deadline per region.", positive=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@click.option("--force-conflicts", is_flag=True, help="Take over fields other managers own.")
@click.option("--gate-check", multiple=True, help="Gate checks (regex, !regex).")
@click.option("--no-gate", is_flag=True, help="Skip the health gate.")
@duration_option("--gate-wait", help="Re-run failing gate checks until this deadline.",
                 positive=True)  # fmt: skip
@duration_option(
    "--poll-interval",
    help="Longest gap between two looks at the clusters and nodes while waiting for the "
    "rollout, a drain, a pod's replacement or a --gate-wait re-run (waits start shorter "
    "and double up to this).",
    default="1s",
    minimum=0.05,
)
@max_disrupted_option(
    "Never cut more than N sessions per region: a drain that would is cancelled "
    "before its deadline, and the region rolled back."
)
@kubeconfig_option
@kube_context_option
@click.pass_context
def deploy(
    ctx: click.Context,
    region: tuple[str, ...],
    parallel: bool,
    dry_run: bool,
    timeout: float | None,
    yes: bool,
    force_conflicts: bool,
    gate_check: tuple[str, ...],
    no_gate: bool,
    gate_wait: float | None,
    poll_interval: float,
    max_disrupted: int | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> int:
    """Roll the fleet out region by region: preflight, apply, wait, gate, roll back on failure."""
    import asyncio

    from bcastctl.deploy.rollout import DeployOptions
    from bcastctl.deploy.rollout import deploy as run_deploy
    from bcastctl.report.deploy_view import deploy_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    fleet = cli.fleet()
    confirm(yes, dry_run, f"deploy {fleet.name} ({fleet.image})")
    options = DeployOptions(
        regions=list(region) or None,
        parallel=parallel,
        dry_run=dry_run,
        timeout_s=timeout,
        force_conflicts=force_conflicts,
        kubeconfig=kubeconfig,
        context=kube_context,
        gate=not no_gate,
        gate_checks=gate_check,
        gate_wait_s=gate_wait or 0.0,
        max_disrupted=max_disrupted,
        poll_s=poll_interval,
    )
    with progress_bars(cli.err) as progress:
        result = asyncio.run(run_deploy(fleet, options, progress))
    emit(cli.out, cli.output.value, "DeployResult", result, deploy_table)
    return result.exit_code
