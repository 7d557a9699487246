"""The human view of a render: one row per region."""

from __future__ import annotations

from bcastctl.render.result import RenderResult
from bcastctl.report.columns import columns


def render_text(result: RenderResult) -> str:
    rows = [
        [
            region.region,
            str(region.objects),
            str(region.replicas),
            ", ".join(region.gateways) or "-",
            region.resolved,
        ]
        for region in result.regions
    ]
    headers = ["region", "objects", "nodes", "NATS gateways to", "resolved manifests"]
    text = f"Rendered fleet {result.fleet} into {result.out}\n" + columns(headers, rows, {1, 2})
    if result.pruned:
        text += f"removed overlays of regions no longer in the fleet: {', '.join(result.pruned)}\n"
    return text
