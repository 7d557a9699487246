"""`bcastctl monitor`: run the mesh checks and RTT probes on an interval, serve /metrics."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import click

from bcastctl.cli import context
from bcastctl.cli.base import Command
from bcastctl.cli.options import duration_option, open_target, state_dir_option, target_option
from bcastctl.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

MONITOR_EPILOG = "Exit codes: 0 stopped by a signal, 2 usage (e.g. the address is taken), 3 config."


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT with an IP address host; UsageError naming --listen."""
    host, sep, port = text.rpartition(":")
    try:
        ipaddress.ip_address(host.strip("[]"))
        number = int(port)
    except ValueError:
        number = -1
    if not sep or not 1 <= number <= 65535:
        raise UsageError(f"--listen {text!r}: expected IP:PORT, e.g. 127.0.0.1:9100")
    return host.strip("[]"), number


@click.command(cls=Command, epilog=MONITOR_EPILOG)
@target_option
@state_dir_option
@duration_option("--interval", help="Time between rounds.", default="30s", positive=True)
@duration_option("--timeout", help="Deadline of one check in one region [default: 10s, at most "
                 "--interval].", positive=True)  # fmt: skip
@click.option("--samples", "-n", type=int, default=5, show_default=True,
              help="RTT samples per pair.")  # fmt: skip
@click.option("--listen", default="127.0.0.1:9100", show_default=True,
              help="Serve /metrics on IP:PORT (loopback unless told otherwise).")  # fmt: skip
@click.pass_context
def monitor(
    ctx: click.Context,
    target: str,
    state_dir: Path | None,
    interval: float,
    timeout: float | None,
    samples: int,
    listen: str,
) -> int:
    """Serve the fleet's checks and RTTs as Prometheus metrics.

    Runs the mesh checks and the RTT probes every --interval and serves the results as
    Prometheus metrics on http://LISTEN/metrics until SIGINT or SIGTERM.
    """
    import asyncio

    from bcastctl.monitor.rounds import MonitorOptions
    from bcastctl.monitor.serve import Listen, run_monitor
    from bcastctl.report.monitor_log import round_line

    cli = context.get(ctx)
    host, port = parse_listen(listen)
    opened = open_target(cli, target, state_dir)
    options = MonitorOptions(
        interval_s=interval,
        timeout_s=timeout if timeout is not None else min(10.0, interval),
        samples=samples,
        failing_intervals=opened.fleet.monitor.failing_intervals,
    )
    return asyncio.run(
        run_monitor(
            opened,
            options,
            Listen(host, port),
            on_round=lambda done: cli.err.print(round_line(done), highlight=False),
            on_listening=lambda at: cli.err.print(
                f"monitor: serving http://{at.host}:{at.port}/metrics", highlight=False
            ),
        )
    )
