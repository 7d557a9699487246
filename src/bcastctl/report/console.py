"""The two rich Consoles: data to stdout, progress/logs/errors to stderr.

Both honour NO_COLOR, --no-color and a stdout that is not a terminal. When stdout is not
a terminal (CI logs, pipes) and COLUMNS is unset, tables get 120 columns instead of rich's
80, so that they read without wrapping in a CI log.
"""

from __future__ import annotations

import os
import sys
from functools import cache

from rich.console import Console

PIPE_WIDTH = 120


def _width(stream_is_tty: bool) -> int | None:
    if stream_is_tty or "COLUMNS" in os.environ:
        return None
    return PIPE_WIDTH


@cache
def stdout_console(no_color: bool = False) -> Console:
    return Console(
        no_color=no_color or "NO_COLOR" in os.environ,
        soft_wrap=True,
        width=_width(sys.stdout.isatty()),
    )


@cache
def stderr_console(no_color: bool = False, quiet: bool = False) -> Console:
    return Console(
        stderr=True,
        no_color=no_color or "NO_COLOR" in os.environ,
        quiet=quiet,
        width=_width(sys.stderr.isatty()),
    )
