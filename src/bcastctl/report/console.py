"""The two rich Consoles: data to stdout, progress/logs/errors to stderr.

Both honour NO_COLOR, --no-color and a stdout that is not a terminal.
"""

from __future__ import annotations

import os
from functools import cache

from rich.console import Console


@cache
def stdout_console(no_color: bool = False) -> Console:
    return Console(no_color=no_color or "NO_COLOR" in os.environ, soft_wrap=True)


@cache
def stderr_console(no_color: bool = False, quiet: bool = False) -> Console:
    return Console(stderr=True, no_color=no_color or "NO_COLOR" in os.environ, quiet=quiet)
