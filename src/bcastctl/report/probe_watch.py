"""`probe rtt --watch`: re-probe and redraw the view in place until Ctrl-C."""

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
    rounds = 0
    with Live(Text("probing…"), console=console, auto_refresh=False) as live:
        while True:
            report = await probe_rtt_on(open_target(), options)
            rounds += 1
            footer = Text(f"round {rounds}, {report.duration_s:.1f} s; Ctrl-C to stop", style="dim")
            live.update(Group(rtt_view(report), footer), refresh=True)
            await asyncio.sleep(PAUSE_S)
