"""`bcastctl lab up|status|down|fault ...`: the whole fleet on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bcastctl.cli import context
from bcastctl.cli.base import Group
from bcastctl.cli.context import PathType
from bcastctl.cli.options import duration_option, state_dir_option

if TYPE_CHECKING:
    from pathlib import Path


@click.group(cls=Group)
def lab() -> None:
    """The whole multi-region fleet on this machine (loopback only, no root), with emulated
    WAN latency between regions."""


@lab.group()
def fault() -> None:
    """Rehearse failures on a running lab (and heal them)."""


def region_a(f: Any) -> Any:
    return click.argument("a", metavar="REGION_A")(f)


def region_b(f: Any) -> Any:
    return click.argument("b", metavar="REGION_B")(f)


def _dir(state_dir: Path | None) -> Path:
    from bcastctl.targets.lab_state import default_state_dir

    return default_state_dir(state_dir)


@lab.command(
    epilog="The lab's fleet file is the global --fleet/-f (before or after `up`). "
    "Exit codes: 0 ready (or already running), 1 not ready in time, 2 usage, 3 config."
)
@state_dir_option
@click.option("--nodes/--no-nodes", default=True, show_default=True,
              help="Start the broadcaster nodes (--no-nodes: NATS, links, DNS, TURN).")  # fmt: skip
@duration_option("--timeout", help="How long to wait for ready.", default="60s", minimum=1.0)
@click.option("--monitor", is_flag=True,
              help="Also run `bcastctl monitor` on the lab (stopped by lab down).")  # fmt: skip
@click.option("--from", "rendered_dir", default=None, metavar="DIR",
              type=PathType(file_okay=False),
              help="Run a render output directory (DIR/resolved/<region>.yaml, e.g. patched by "
              "hand or kustomize) instead of rendering the fleet; the fleet still gives the "
              "regions and the lab's latencies.")  # fmt: skip
@click.pass_context
def up(
    ctx: click.Context,
    state_dir: Path | None,
    nodes: bool,
    timeout: float,
    monitor: bool,
    rendered_dir: Path | None,
) -> int:
    """Run what render ships for each region (NATS, nodes, TURN) with delay links and DNS.

    Only the lab's substitutions differ from the rendered objects (addresses, ports, delay
    links); `-v` lists them and what the lab cannot honour. Waits until ready.
    """
    import asyncio

    from bcastctl.lab.supervisor import lab_up
    from bcastctl.lab.view import lab_up_view
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)

    def progress(message: str) -> None:
        cli.err.print(f"[dim]lab:[/] {message}", highlight=False)

    result = asyncio.run(
        lab_up(
            cli.fleet(),
            cli.fleet_path,
            _dir(state_dir),
            with_nodes=nodes,
            with_monitor=monitor,
            timeout_s=timeout,
            progress=progress,
            rendered_dir=rendered_dir,
        )
    )
    verbose = cli.verbosity > 0
    emit(cli.out, cli.output.value, "LabUp", result, lambda r: lab_up_view(r, verbose=verbose))
    return 0


@lab.command(epilog="Exit codes: 0 healthy, 1 something down, 3 no lab in the state dir.")
@state_dir_option
@click.pass_context
def status(ctx: click.Context, state_dir: Path | None) -> int:
    """Show the lab and check it live: processes, gateways, links, node membership."""
    import asyncio

    from bcastctl.lab.status import lab_status
    from bcastctl.lab.view import lab_status_view
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    result = asyncio.run(lab_status(_dir(state_dir)))
    emit(cli.out, cli.output.value, "LabStatus", result, lab_status_view)
    return 0 if result.healthy else 1


@lab.command(epilog="Exit codes: 0 stopped (or nothing to stop), 1 something survived.")
@state_dir_option
@click.pass_context
def down(ctx: click.Context, state_dir: Path | None) -> int:
    """Stop every process the lab started, by pid, and verify no port stays bound."""
    from bcastctl.lab.teardown import lab_down
    from bcastctl.lab.view import lab_down_view
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    emit(cli.out, cli.output.value, "LabDown", lab_down(_dir(state_dir)), lab_down_view)
    return 0


def _emit_fault(ctx: click.Context, result: object) -> int:
    from bcastctl.lab.faults import FaultResult
    from bcastctl.lab.view import fault_view
    from bcastctl.report.envelope import emit

    assert isinstance(result, FaultResult)
    cli = context.get(ctx)
    emit(cli.out, cli.output.value, "LabFault", result, fault_view)
    return 0


@fault.command("cut-link")
@region_a
@region_b
@state_dir_option
@click.pass_context
def cut_link(ctx: click.Context, a: str, b: str, state_dir: Path | None) -> int:
    """Cut the WAN link between two regions, both ways (open connections dropped)."""
    import asyncio

    from bcastctl.lab.faults import link_fault

    return _emit_fault(ctx, asyncio.run(link_fault(_dir(state_dir), "cut", a, b)))


@fault.command("heal-link")
@region_a
@region_b
@state_dir_option
@click.pass_context
def heal_link(ctx: click.Context, a: str, b: str, state_dir: Path | None) -> int:
    """Restore the link between two regions at its configured latency."""
    import asyncio

    from bcastctl.lab.faults import link_fault

    return _emit_fault(ctx, asyncio.run(link_fault(_dir(state_dir), "heal", a, b)))


@fault.command("slow-link")
@region_a
@region_b
@duration_option("--ms", "delay", help="New one-way latency (both ways).", bare="ms", required=True)
@state_dir_option
@click.pass_context
def slow_link(ctx: click.Context, a: str, b: str, delay: float, state_dir: Path | None) -> int:
    """Change a link's one-way latency until healed."""
    import asyncio

    from bcastctl.lab.faults import link_fault

    return _emit_fault(
        ctx, asyncio.run(link_fault(_dir(state_dir), "slow", a, b, round(delay * 1000, 6)))
    )


@fault.command("kill-node")
@click.argument("node", metavar="NODE")
@state_dir_option
@click.pass_context
def kill_node(ctx: click.Context, node: str, state_dir: Path | None) -> int:
    """SIGKILL one broadcaster node (a crash: no goodbye to its peers)."""
    from bcastctl.lab.faults import kill_node as kill

    return _emit_fault(ctx, kill(_dir(state_dir), node))


@fault.command("drain-node")
@click.argument("node", metavar="NODE")
@state_dir_option
@click.pass_context
def drain_node(ctx: click.Context, node: str, state_dir: Path | None) -> int:
    """Drain one node (as SIGTERM does in a pod): no new session lands there, live ones
    stay until they end or its drain deadline, then it exits."""
    import asyncio

    from bcastctl.lab.faults import drain_node as drain

    return _emit_fault(ctx, asyncio.run(drain(_dir(state_dir), node)))


@fault.command("kill-nats")
@click.argument("region", metavar="REGION")
@state_dir_option
@click.pass_context
def kill_nats(ctx: click.Context, region: str, state_dir: Path | None) -> int:
    """SIGKILL one region's NATS server."""
    from bcastctl.lab.faults import kill_nats as kill

    return _emit_fault(ctx, kill(_dir(state_dir), region))


@fault.command("restart-node")
@click.argument("node", metavar="NODE")
@state_dir_option
@click.pass_context
def restart_node(ctx: click.Context, node: str, state_dir: Path | None) -> int:
    """Start a killed node again, as `lab up` did; waits until it answers /healthz."""
    import asyncio

    from bcastctl.lab.faults import restart_node as restart

    return _emit_fault(ctx, asyncio.run(restart(_dir(state_dir), node)))


@fault.command("restart-nats")
@click.argument("region", metavar="REGION")
@state_dir_option
@click.pass_context
def restart_nats(ctx: click.Context, region: str, state_dir: Path | None) -> int:
    """Start a killed NATS server again; waits until it answers /healthz."""
    import asyncio

    from bcastctl.lab.faults import restart_nats as restart

    return _emit_fault(ctx, asyncio.run(restart(_dir(state_dir), region)))
