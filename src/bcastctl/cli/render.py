"""`bcastctl render`: the fleet file -> a kustomize tree and resolved manifests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bcastctl.cli import context
from bcastctl.cli.base import Command
from bcastctl.cli.context import PathType
from bcastctl.cli.options import regions_option

if TYPE_CHECKING:
    from pathlib import Path


@click.command(cls=Command)
@click.option(
    "--out", "-d", type=PathType(), default="out", show_default=True,
    help="Output directory.",
)  # fmt: skip
@regions_option()
@click.pass_context
def render(ctx: click.Context, out: Path, region: tuple[str, ...]) -> int:
    """Render per-region Kubernetes manifests from the fleet file.

    Writes DIR/base and DIR/overlays/<region> (build one with `kubectl kustomize`) and
    DIR/resolved/<region>.yaml: exactly what `bcastctl deploy` applies. Secrets are
    referenced by name, never written. Same fleet, same bytes.

    Before writing anything, the NetworkPolicies are checked against the flows the system
    needs: a blocked flow is one line (flow, policy, ports) and exit 1; nothing is written
    through a symbolic link. Every value a CRD would refuse is refused when the fleet loads,
    naming its key (exit 3).
    """
    from bcastctl.render.tree import render_tree
    from bcastctl.report.envelope import emit_text
    from bcastctl.report.render_view import render_text

    cli = context.get(ctx)
    result = render_tree(cli.fleet(), out, list(region) or None)
    emit_text(cli.output.value, "RenderResult", result, render_text)
    return 0
