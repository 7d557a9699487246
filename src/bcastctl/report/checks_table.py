"""The human view of a verify run: one line per check and scope, hints under failures.

✔ ok, ✖ fail, ⚠ warn, ↷ skipped; then "N/M failed", then the root causes.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bcastctl.checks.base import CheckResult, Status
from bcastctl.checks.report import CheckReport

MARKS: dict[Status, tuple[str, str]] = {
    Status.ok: ("✔", "green"),
    Status.fail: ("✖", "bold red"),
    Status.warn: ("⚠", "yellow"),
    Status.skip: ("↷", "dim"),
}


def _row(table: Table, result: CheckResult) -> None:
    mark, style = MARKS[result.status]
    message = Text(result.message)
    if result.hint and result.status in (Status.fail, Status.warn):
        message.append(f"\nhint: {result.hint}", style="dim")
    table.add_row(Text(mark, style=style), result.check, result.scope, message)


def _summary(report: CheckReport) -> Text:
    s = report.summary
    failed = len(report.failed)
    line = Text()
    line.append(
        f"{failed}/{s.total} failed" if failed else f"all {s.total - s.skip} passed",
        style="bold red" if failed else "bold green",
    )
    line.append(
        f"  ({s.ok} ok, {s.fail} failed, {s.warn} warnings, {s.skip} skipped; "
        f"{report.duration_s:.2f} s"
        + (f", {report.attempts} attempts" if report.attempts > 1 else "")
        + ")"
    )
    return line


def _root_causes(report: CheckReport) -> RenderableType:
    lines = Text("Root causes:\n", style="bold")
    for index, cause in enumerate(report.root_causes, 1):
        lines.append(f"  {index}. {cause.cause}\n", style="red")
        lines.append(f"     explains: {', '.join(cause.explains)}\n", style="dim")
        if cause.hint:
            lines.append(f"     hint: {cause.hint}\n", style="dim")
    return lines


def checks_table(report: CheckReport, command: str = "verify mesh") -> RenderableType:
    table = Table(
        title=f"{command}: fleet {report.fleet} ({report.target}, "
        f"regions {', '.join(report.regions)})",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True, style="bold")
    table.add_column("scope", no_wrap=True)
    table.add_column("result", overflow="fold")
    for result in report.results:
        _row(table, result)
    parts: list[RenderableType] = [table, _summary(report)]
    if report.root_causes:
        parts.append(_root_causes(report))
    return Group(*parts)
