"""Plain aligned columns, as `kubectl get` prints them: upper-case headers, two spaces
between columns, numbers right-aligned. For views a script may also read; no rich needed."""

from __future__ import annotations

from collections.abc import Sequence


def columns(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """The table as text lines; `right`: indexes of the columns aligned right."""
    table = [[header.upper() for header in headers], *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for row in table:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
