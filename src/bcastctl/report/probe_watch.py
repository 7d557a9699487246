"""`probe rtt --watch`: re-probe and redraw the view until Ctrl-C.

On a terminal the view is redrawn in place (rich Live); otherwise (a pipe, a CI
log) every round is printed after the previous one and flushed at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from bcastctl.probes.rtt import RttOptions, probe_rtt_on
from bcastctl.report.probe_matrix import rtt_view
from bcastctl.targets.base import Target

PAUSE_S = 1.0


async def watch_rtt(
    open_target: Callable[[], Target], options: RttOptions, console: Console
) -> int:
    """Each round opens the target afresh (a lab fault shows up in the next round)."""
    live = Live(Text("probing…"), console=console, auto_refresh=False)
    if console.is_terminal:
        live.start()
    try:
        rounds = 0
        while True:
            report = await probe_rtt_on(open_target(), options)
            rounds += 1
            footer = Text(f"round {rounds}, {report.duration_s:.1f} s; Ctrl-C to stop", style="dim")
            view = Group(rtt_view(report), footer)
            if console.is_terminal:
                live.update(view, refresh=True)
            else:
                console.print(view)
                console.file.flush()  # a pipe is block-buffered: readers see each round now
            await asyncio.sleep(PAUSE_S)
    finally:
        if console.is_terminal:
            live.stop()
