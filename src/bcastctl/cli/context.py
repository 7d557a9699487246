"""What every command gets from the global options: fleet path, output format, consoles."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from bcastctl.fleet import Fleet


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


@dataclass
class CliContext:
    fleet_path: Path
    output: OutputFormat = OutputFormat.table
    verbosity: int = 0
    no_color: bool = False
    _fleet: Fleet | None = field(default=None, repr=False)

    def fleet(self) -> Fleet:
        """The fleet file, loaded once and validated (ConfigError on any problem)."""
        if self._fleet is None:
            from bcastctl.fleet import load_fleet

            self._fleet = load_fleet(self.fleet_path)
        return self._fleet

    def use_fleet(self, path: Path | None) -> None:
        """A command-level --fleet overrides the global one."""
        if path is not None:
            self.fleet_path = path
            self._fleet = None

    @property
    def out(self) -> Console:
        """Data goes to stdout."""
        from bcastctl.report.console import stdout_console

        return stdout_console(self.no_color)

    @property
    def err(self) -> Console:
        """Progress, logs and errors go to stderr."""
        from bcastctl.report.console import stderr_console

        return stderr_console(self.no_color, quiet=self.verbosity < 0)


def get(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):  # a command invoked without the root callback (tests)
        obj = CliContext(fleet_path=Path(os.environ.get("BCASTCTL_FLEET", "fleet.yaml")))
        ctx.find_root().obj = obj
    return obj
