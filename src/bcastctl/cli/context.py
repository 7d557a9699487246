"""What every command gets from the global options: fleet path, output format, consoles."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from bcastctl.fleet import Fleet


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


class CliContext:
    """Mutable while the command line is read (a global option after the command updates it).

    A plain class, not a dataclass: `bcastctl --help` should not pay for importing dataclasses.
    """

    def __init__(
        self,
        fleet_file: str,
        output: OutputFormat = OutputFormat.table,
        verbosity: int = 0,
        no_color: bool = False,
    ) -> None:
        self.fleet_file = fleet_file  # as given: a str, so parsing needs no pathlib
        self.output = output
        self.verbosity = verbosity
        self.no_color = no_color
        self._fleet: Fleet | None = None

    def fleet(self) -> Fleet:
        """The fleet file, loaded once and validated (ConfigError on any problem)."""
        if self._fleet is None:
            from bcastctl.fleet import load_fleet

            self._fleet = load_fleet(self.fleet_path)
        return self._fleet

    @property
    def fleet_path(self) -> Path:
        from pathlib import Path

        return Path(self.fleet_file)

    def use_fleet(self, path: str) -> None:
        """A --fleet given after the command overrides one given before it."""
        self.fleet_file = path
        self._fleet = None

    def set_verbosity(self, verbosity: int) -> None:
        """-1 quiet, 0 warnings, 1 info, 2 and more debug (applied when the command runs)."""
        self.verbosity = verbosity

    def configure_logging(self) -> None:
        """Logs to stderr at the level the verbosity asks for."""
        import logging

        level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
            self.verbosity, logging.DEBUG
        )
        if not logging.getLogger().handlers:
            logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        logging.getLogger().setLevel(level)

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


def get(ctx: click.Context) -> CliContext:
    """The CliContext the root group made (or a default one, for a command run on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext(os.environ.get("BCASTCTL_FLEET", "fleet.yaml"))
    return root.obj


class PathType(click.Path):
    """click.Path whose value is a pathlib.Path, imported only when a path is given: pathlib
    (with urllib.parse and ipaddress) is a tenth of what `bcastctl <cmd> --help` costs."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from pathlib import Path

        return Path(os.fsdecode(super().convert(value, param, ctx)))
