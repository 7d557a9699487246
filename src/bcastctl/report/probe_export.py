"""`probe rtt --export FILE.svg|FILE.html`: the heatmap and tables as a file for a ticket.

Rendered by a recording rich Console (colours kept), then exported as SVG or
self-contained HTML, chosen by the file's suffix.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from bcastctl.errors import UsageError
from bcastctl.probes.model import RttReport
from bcastctl.report.probe_matrix import rtt_view

SUFFIXES = (".svg", ".html", ".htm")


def check_export_path(path: Path) -> None:
    """UsageError before probing when the file type is not one we write."""
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--export {path}: the file must end in .svg or .html")


def export_report(report: RttReport, path: Path) -> None:
    check_export_path(path)
    console = Console(record=True, width=140, file=io.StringIO(), force_terminal=True)
    console.print(rtt_view(report))
    title = f"bcastctl probe rtt: {report.fleet}"
    try:
        if path.suffix.lower() == ".svg":
            console.save_svg(str(path), title=title)
        else:
            console.save_html(str(path))
    except OSError as e:
        raise UsageError(f"--export {path}: cannot write: {e.strerror or e}") from e
