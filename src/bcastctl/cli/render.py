"""`bcastctl render`: the fleet file -> a kustomize tree and resolved manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bcastctl.cli import context

HELP = """Render per-region Kubernetes manifests from the fleet file.

Writes DIR/base and DIR/overlays/<region> (build one with `kubectl kustomize`) and
DIR/resolved/<region>.yaml: exactly what `bcastctl deploy` applies. Secrets are
referenced by name, never written. Same fleet, same bytes.
"""


def render(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-d", help="Output directory.")] = Path("out"),
    region: Annotated[
        list[str] | None, typer.Option("--region", "-r", help="Only this region (repeatable).")
    ] = None,
) -> int:
    from bcastctl.render.tree import render_tree
    from bcastctl.report.envelope import emit
    from bcastctl.report.render_view import render_table

    cli = context.get(ctx)
    result = render_tree(cli.fleet(), out, region)
    emit(cli.out, cli.output.value, "RenderResult", result, render_table)
    return 0
