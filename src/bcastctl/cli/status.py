"""`bcastctl status`: per region, the live revision, image, ready replicas and gate result."""

from __future__ import annotations

import click

from bcastctl.cli import context
from bcastctl.cli.base import Command
from bcastctl.cli.options import kube_context_option, kubeconfig_option, regions_option

STATUS_EPILOG = (
    "Exit codes: 0 every region answered, 3 a revision record is unreadable, "
    "4 a region is unreachable (the others are still listed)."
)


@click.command(cls=Command, epilog=STATUS_EPILOG)
@regions_option()
@kubeconfig_option
@kube_context_option
@click.pass_context
def status(
    ctx: click.Context, region: tuple[str, ...], kubeconfig: str | None, kube_context: str | None
) -> int:
    """Per region: live revision, image, ready replicas, gate result."""
    import asyncio

    from bcastctl.deploy.ops import status as run_status
    from bcastctl.report.deploy_view import status_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    result = asyncio.run(
        run_status(cli.fleet(), list(region) or None, kubeconfig=kubeconfig, context=kube_context)
    )
    emit(cli.out, cli.output.value, "DeployStatus", result, status_table)
    return result.exit_code
