"""The human view of a render: one row per region."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bcastctl.render.result import RenderResult


def render_table(result: RenderResult) -> RenderableType:
    table = Table(title=f"Rendered fleet {result.fleet} into {result.out}", title_justify="left")
    table.add_column("region", style="bold", no_wrap=True)
    table.add_column("objects", justify="right")
    table.add_column("nodes", justify="right")
    table.add_column("NATS gateways to")
    table.add_column("resolved manifests", overflow="fold")
    for region in result.regions:
        table.add_row(
            region.region,
            str(region.objects),
            str(region.replicas),
            ", ".join(region.gateways) or "-",
            region.resolved,
        )
    parts: list[RenderableType] = [table]
    if result.pruned:
        parts.append(
            Text(f"removed overlays of regions no longer in the fleet: {', '.join(result.pruned)}")
        )
    return Group(*parts)
