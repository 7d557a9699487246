"""`bcastctl clusters discover`: a project's GKE clusters, optionally written to a fleet file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bcastctl.cli import context
from bcastctl.cli.base import Group
from bcastctl.cli.context import PathType

if TYPE_CHECKING:
    from pathlib import Path


@click.group(cls=Group)
def clusters() -> None:
    """GKE clusters."""


@clusters.command()
@click.option("--project", "-p", required=True, help="GCP project.")
@click.option("--write-fleet", type=PathType(), help="Write (or update) this fleet file.")
@click.pass_context
def discover(ctx: click.Context, project: str, write_fleet: Path | None) -> int:
    """List a project's GKE clusters (no gcloud needed); optionally write a fleet file."""
    import asyncio

    from bcastctl.deploy.discover import discover as run_discover
    from bcastctl.report.deploy_view import discover_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    result = asyncio.run(run_discover(project, write_fleet))
    emit(cli.out, cli.output.value, "ClusterDiscovery", result, discover_table)
    return 0
