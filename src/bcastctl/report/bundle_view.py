"""The human view of `bundle`: where the archive is, and what could not be collected."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bcastctl.bundle.model import BundleResult


def bundle_header(manifest: BundleResult) -> str:
    gaps = [r.name for r in manifest.regions if not r.reachable or r.unreachable_parts]
    line = f"bundle of fleet {manifest.fleet} ({manifest.target}) made {manifest.created_at}"
    return line + (f"; incomplete regions: {', '.join(gaps)}" if gaps else "")


def bundle_view(result: BundleResult) -> RenderableType:
    table = Table(title=f"bundle {result.path}", title_justify="left", show_edge=False)
    for name in ("region", "collected", "files", "not collected"):
        table.add_column(name, overflow="fold")
    for region in result.regions:
        state = Text("yes", style="green")
        if not region.reachable:
            state = Text("unreachable", style="bold red")
        elif region.unreachable_parts:
            state = Text("partly", style="yellow")
        gaps = "; ".join(f"{part}: {why}" for part, why in region.unreachable_parts.items())
        table.add_row(region.name, state, str(region.files), region.error or gaps or "—")
    summary = Text(
        f"{result.files} files, {result.size_bytes / 1024:.0f} KiB in {result.duration_s:.1f} s; "
        f"timeline {result.timeline_entries} entries; logs since {result.since_s:g} s"
    )
    parts: list[RenderableType] = [table, summary]
    for cause in result.root_causes:
        parts.append(Text(f"root cause at bundle time: {cause}", style="red"))
    return Group(*parts)
