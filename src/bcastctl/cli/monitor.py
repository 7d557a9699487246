"""`bcastctl monitor`: run the mesh checks and RTT probes on an interval, serve /metrics."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from bcastctl.cli import context
from bcastctl.cli.verify import (
    StateDirOption,
    TargetKind,
    TargetOption,
    open_target,
    parse_duration,
)
from bcastctl.errors import UsageError

MONITOR_HELP = (
    "Run the mesh checks and the RTT probes every --interval and serve the results as "
    "Prometheus metrics on http://LISTEN/metrics until SIGINT or SIGTERM."
)
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


def monitor(
    ctx: typer.Context,
    target: TargetOption = TargetKind.auto,
    state_dir: StateDirOption = None,
    interval: Annotated[str, typer.Option(help="Time between rounds, e.g. 30s or 1m.")] = "30s",
    timeout: Annotated[
        str | None,
        typer.Option(
            help="Deadline of one check in one region [default: 10s, at most --interval]."
        ),
    ] = None,
    samples: Annotated[int, typer.Option("--samples", "-n", help="RTT samples per pair.")] = 5,
    listen: Annotated[
        str, typer.Option(help="Serve /metrics on IP:PORT (loopback unless told otherwise).")
    ] = "127.0.0.1:9100",
) -> int:
    """Serve the fleet's checks and RTTs as Prometheus metrics."""
    import asyncio

    from bcastctl.monitor.rounds import MonitorOptions
    from bcastctl.monitor.serve import Listen, run_monitor
    from bcastctl.report.monitor_log import round_line

    cli = context.get(ctx)
    host, port = parse_listen(listen)
    interval_s = parse_duration("--interval", interval, positive=True)
    timeout_s = (
        parse_duration("--timeout", timeout, positive=True) if timeout else min(10.0, interval_s)
    )
    opened = open_target(cli, target, state_dir)
    options = MonitorOptions(
        interval_s=interval_s,
        timeout_s=timeout_s,
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
