"""`bcastctl lab up|status|down|fault ...`: the whole fleet on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bcastctl.cli import context

app = typer.Typer(
    help="The whole multi-region fleet on this machine (loopback only, no root), "
    "with emulated WAN latency between regions.",
    no_args_is_help=True,
)
fault_app = typer.Typer(
    help="Rehearse failures on a running lab (and heal them).", no_args_is_help=True
)
app.add_typer(fault_app, name="fault")

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="BCASTCTL_LAB_DIR",
        help="Where the lab keeps its state, logs and secrets [default: ./.bcastctl/lab].",
        show_default=False,
    ),
]
RegionA = Annotated[str, typer.Argument(help="One region of the link.")]
RegionB = Annotated[str, typer.Argument(help="The other region.")]


def _dir(state_dir: Path | None) -> Path:
    from bcastctl.targets.lab_state import default_state_dir

    return default_state_dir(state_dir)


@app.command(
    epilog="Exit codes: 0 ready (or already running), 1 not ready in time, 2 usage, 3 config."
)
def up(
    ctx: typer.Context,
    state_dir: StateDir = None,
    fleet: Annotated[
        Path | None, typer.Option("--fleet", "-f", help="Lab fleet file (overrides the global).")
    ] = None,
    nodes: Annotated[
        bool, typer.Option(help="Start the broadcaster nodes (--no-nodes: NATS, links, DNS, TURN).")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for ready.", min=1)] = 60.0,
    monitor: Annotated[
        bool,
        typer.Option(
            "--monitor", help="Also run `bcastctl monitor` on the lab (stopped by lab down)."
        ),
    ] = False,
) -> int:
    """Start NATS per region, delay links, DNS, TURN and nodes; wait until ready."""
    import asyncio

    from bcastctl.lab.supervisor import lab_up
    from bcastctl.lab.view import lab_up_view
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    cli.use_fleet(fleet)

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
        )
    )
    emit(cli.out, cli.output.value, "LabUp", result, lab_up_view)
    return 0


@app.command(epilog="Exit codes: 0 healthy, 1 something down, 3 no lab in the state dir.")
def status(ctx: typer.Context, state_dir: StateDir = None) -> int:
    """Show the lab and check it live: processes, gateways, links, node membership."""
    import asyncio

    from bcastctl.lab.status import lab_status
    from bcastctl.lab.view import lab_status_view
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    result = asyncio.run(lab_status(_dir(state_dir)))
    emit(cli.out, cli.output.value, "LabStatus", result, lab_status_view)
    return 0 if result.healthy else 1


@app.command(epilog="Exit codes: 0 stopped (or nothing to stop), 1 something survived.")
def down(ctx: typer.Context, state_dir: StateDir = None) -> int:
    """Stop every process the lab started, by pid, and verify no port stays bound."""
    from bcastctl.lab.teardown import lab_down
    from bcastctl.lab.view import lab_down_view
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    emit(cli.out, cli.output.value, "LabDown", lab_down(_dir(state_dir)), lab_down_view)
    return 0


def _emit_fault(ctx: typer.Context, result: object) -> int:
    from bcastctl.lab.faults import FaultResult
    from bcastctl.lab.view import fault_view
    from bcastctl.report.envelope import emit

    assert isinstance(result, FaultResult)
    cli = context.get(ctx)
    emit(cli.out, cli.output.value, "LabFault", result, fault_view)
    return 0


@fault_app.command("cut-link")
def cut_link(ctx: typer.Context, a: RegionA, b: RegionB, state_dir: StateDir = None) -> int:
    """Cut the WAN link between two regions, both ways (open connections dropped)."""
    import asyncio

    from bcastctl.lab.faults import link_fault

    return _emit_fault(ctx, asyncio.run(link_fault(_dir(state_dir), "cut", a, b)))


@fault_app.command("heal-link")
def heal_link(ctx: typer.Context, a: RegionA, b: RegionB, state_dir: StateDir = None) -> int:
    """Restore the link between two regions at its configured latency."""
    import asyncio

    from bcastctl.lab.faults import link_fault

    return _emit_fault(ctx, asyncio.run(link_fault(_dir(state_dir), "heal", a, b)))


@fault_app.command("slow-link")
def slow_link(
    ctx: typer.Context,
    a: RegionA,
    b: RegionB,
    ms: Annotated[float, typer.Option("--ms", help="New one-way latency in ms (both ways).")],
    state_dir: StateDir = None,
) -> int:
    """Change a link's one-way latency until healed."""
    import asyncio

    from bcastctl.lab.faults import link_fault

    return _emit_fault(ctx, asyncio.run(link_fault(_dir(state_dir), "slow", a, b, ms)))


@fault_app.command("kill-node")
def kill_node(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="Node name, e.g. us-east5-0.")],
    state_dir: StateDir = None,
) -> int:
    """SIGKILL one broadcaster node (a crash: no goodbye to its peers)."""
    from bcastctl.lab.faults import kill_node as kill

    return _emit_fault(ctx, kill(_dir(state_dir), node))


@fault_app.command("kill-nats")
def kill_nats(
    ctx: typer.Context,
    region: Annotated[str, typer.Argument(help="Region whose NATS server dies.")],
    state_dir: StateDir = None,
) -> int:
    """SIGKILL one region's NATS server."""
    from bcastctl.lab.faults import kill_nats as kill

    return _emit_fault(ctx, kill(_dir(state_dir), region))


@fault_app.command("restart-node")
def restart_node(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="Node name, e.g. us-east5-0.")],
    state_dir: StateDir = None,
) -> int:
    """Start a killed node again, as `lab up` did; waits until it answers /healthz."""
    import asyncio

    from bcastctl.lab.faults import restart_node as restart

    return _emit_fault(ctx, asyncio.run(restart(_dir(state_dir), node)))


@fault_app.command("restart-nats")
def restart_nats(
    ctx: typer.Context,
    region: Annotated[str, typer.Argument(help="Region whose NATS server comes back.")],
    state_dir: StateDir = None,
) -> int:
    """Start a killed NATS server again; waits until it answers /healthz."""
    import asyncio

    from bcastctl.lab.faults import restart_nats as restart

    return _emit_fault(ctx, asyncio.run(restart(_dir(state_dir), region)))
