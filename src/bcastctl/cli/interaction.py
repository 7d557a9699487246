"""What commands that change clusters share: asking before a write, per-region progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from bcastctl.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console


def confirm(yes: bool, dry_run: bool, what: str) -> None:
    """Ask before a write unless --yes or a dry run; refuse when nobody can answer."""
    if yes or dry_run:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {what} without --yes (stdin is not a terminal)")
    click.confirm(f"{what}?", abort=True)


@contextmanager
def progress_bars(console: Console) -> Iterator[Callable[[str, str, float], None]]:
    """Per-region progress bars on stderr; the callback the core calls."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bars = Progress(
        TextColumn("{task.fields[region]:<18}"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, object] = {}

    def update(region: str, what: str, fraction: float) -> None:
        if region not in tasks:
            tasks[region] = bars.add_task(what, total=1.0, region=region)
        bars.update(tasks[region], description=what[:60], completed=fraction)  # type: ignore[arg-type]

    with bars:
        yield update
