"""`deploy`, `rollback`, `status`, `clusters discover` and `dns plan|apply|verify`.

Thin commands: parse, await one core function (bcastctl.deploy), render, exit code.
Heavy imports stay inside the command bodies so `bcastctl --help` stays fast.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bcastctl.cli import context
from bcastctl.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

Regions = Annotated[
    list[str] | None, typer.Option("--region", "-r", help="Only this region (repeatable).")
]
Kubeconfig = Annotated[
    str | None, typer.Option("--kubeconfig", help="Kubeconfig file (overrides the fleet's).")
]
Context = Annotated[str | None, typer.Option("--context", help="Kube context (one region only).")]
Timeout = Annotated[
    str | None, typer.Option("--timeout", help="Rollout deadline per region: 90, 90s, 5m.")
]
FromFleet = Annotated[
    bool, typer.Option("--from-fleet", help="Use the fleet's turn_address, not live Gateways.")
]

clusters_app = typer.Typer(help="GKE clusters.", no_args_is_help=True)
dns_app = typer.Typer(help="The Cloud DNS geo record for TURN.", no_args_is_help=True)


def seconds(text: str | None, option: str = "--timeout") -> float | None:
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*", text)
    if not match or float(match[1]) <= 0:
        raise UsageError(f"{option} {text!r}: expected a positive duration like 90, 90s or 5m")
    return float(match[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match[2] or "s"]


@contextmanager
def progress_bars(console: Console) -> Iterator[Callable[[str, str, float], None]]:
    """Per-region progress bars on stderr; the callback the core calls."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bars = Progress(
        TextColumn("{task.fields[region]:<18}"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, object] = {}

    def update(region: str, what: str, fraction: float) -> None:
        if region not in tasks:
            tasks[region] = bars.add_task(what, total=1.0, region=region)
        bars.update(tasks[region], description=what[:60], completed=fraction)  # type: ignore[arg-type]

    with bars:
        yield update


def _confirm(yes: bool, dry_run: bool, what: str) -> None:
    if yes or dry_run:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {what} without --yes (stdin is not a terminal)")
    typer.confirm(f"{what}?", abort=True)


def deploy(
    ctx: typer.Context,
    region: Regions = None,
    parallel: Annotated[bool, typer.Option("--parallel", help="All regions at once.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Server-side dry run + diff.")] = False,
    timeout: Timeout = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    force_conflicts: Annotated[
        bool, typer.Option("--force-conflicts", help="Take over fields other managers own.")
    ] = False,
    gate_check: Annotated[
        list[str] | None, typer.Option("--gate-check", help="Gate checks (regex, !regex).")
    ] = None,
    no_gate: Annotated[bool, typer.Option("--no-gate", help="Skip the health gate.")] = False,
    gate_wait: Annotated[
        str | None,
        typer.Option("--gate-wait", help="Re-run failing gate checks until this deadline."),
    ] = None,
    kubeconfig: Kubeconfig = None,
    kube_context: Context = None,
) -> int:
    """Roll the fleet out region by region: preflight, apply, wait, gate, roll back on failure."""
    from bcastctl.deploy.rollout import DeployOptions
    from bcastctl.deploy.rollout import deploy as run_deploy
    from bcastctl.report.deploy_view import deploy_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    fleet = cli.fleet()
    _confirm(yes, dry_run, f"deploy {fleet.name} ({fleet.image})")
    options = DeployOptions(
        regions=region,
        parallel=parallel,
        dry_run=dry_run,
        timeout_s=seconds(timeout),
        force_conflicts=force_conflicts,
        kubeconfig=kubeconfig,
        context=kube_context,
        gate=not no_gate,
        gate_checks=gate_check or (),
        gate_wait_s=seconds(gate_wait, "--gate-wait") or 0.0,
    )
    with progress_bars(cli.err) as progress:
        result = asyncio.run(run_deploy(fleet, options, progress))
    emit(cli.out, cli.output.value, "DeployResult", result, deploy_table)
    return result.exit_code


def rollback(
    ctx: typer.Context,
    region: Annotated[str, typer.Option("--region", "-r", help="The region to roll back.")],
    timeout: Timeout = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    kubeconfig: Kubeconfig = None,
    kube_context: Context = None,
) -> int:
    """Make a region's previous revision live again (recorded as a new revision)."""
    from bcastctl.deploy.ops import rollback as run_rollback
    from bcastctl.report.deploy_view import rollback_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    _confirm(yes, False, f"roll {region} back")
    with progress_bars(cli.err) as progress:
        result = asyncio.run(
            run_rollback(
                cli.fleet(),
                region,
                kubeconfig=kubeconfig,
                context=kube_context,
                timeout_s=seconds(timeout),
                progress=progress,
            )
        )
    emit(cli.out, cli.output.value, "RollbackResult", result, rollback_table)
    return result.exit_code


def status(
    ctx: typer.Context,
    region: Regions = None,
    kubeconfig: Kubeconfig = None,
    kube_context: Context = None,
) -> int:
    """Per region: live revision, image, ready replicas, gate result."""
    from bcastctl.deploy.ops import status as run_status
    from bcastctl.report.deploy_view import status_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    result = asyncio.run(
        run_status(cli.fleet(), region, kubeconfig=kubeconfig, context=kube_context)
    )
    emit(cli.out, cli.output.value, "DeployStatus", result, status_table)
    return result.exit_code


@clusters_app.command("discover")
def discover(
    ctx: typer.Context,
    project: Annotated[str, typer.Option("--project", "-p", help="GCP project.")],
    write_fleet: Annotated[
        Path | None, typer.Option("--write-fleet", help="Write (or update) this fleet file.")
    ] = None,
) -> int:
    """List a project's GKE clusters (no gcloud needed); optionally write a fleet file."""
    from bcastctl.deploy.discover import discover as run_discover
    from bcastctl.report.deploy_view import discover_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    result = asyncio.run(run_discover(project, write_fleet))
    emit(cli.out, cli.output.value, "ClusterDiscovery", result, discover_table)
    return 0


def _dns(ctx: typer.Context, action: str, from_fleet: bool, kubeconfig: str | None) -> int:
    from bcastctl.deploy.dns import dns_run
    from bcastctl.report.deploy_view import dns_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    result = asyncio.run(dns_run(cli.fleet(), action, from_fleet=from_fleet, kubeconfig=kubeconfig))
    emit(cli.out, cli.output.value, "DnsRecord", result, dns_table)
    return result.exit_code


@dns_app.command("plan")
def dns_plan(
    ctx: typer.Context, from_fleet: FromFleet = False, kubeconfig: Kubeconfig = None
) -> int:
    """Show how the geo record would change."""
    return _dns(ctx, "plan", from_fleet, kubeconfig)


@dns_app.command("apply")
def dns_apply(
    ctx: typer.Context, from_fleet: FromFleet = False, kubeconfig: Kubeconfig = None
) -> int:
    """Make the geo record match the live STUNner addresses (one Cloud DNS change)."""
    return _dns(ctx, "apply", from_fleet, kubeconfig)


@dns_app.command("verify")
def dns_verify(
    ctx: typer.Context, from_fleet: FromFleet = False, kubeconfig: Kubeconfig = None
) -> int:
    """Exit 1 unless the geo record matches the live STUNner addresses."""
    return _dns(ctx, "verify", from_fleet, kubeconfig)


DEPLOY_EPILOG = (
    "Canary first (rollout.canary), then rollout.order; nothing is written until every "
    "selected region passed preflight. Exit codes: 0 deployed or unchanged, 1 a region failed "
    "(rolled back to its previous revision) and the rollout stopped, 2 usage, 3 preflight "
    "(missing CRD or Secret, fleet file), 4 a cluster unreachable."
)
ROLLBACK_EPILOG = (
    "Exit codes: 0 rolled back, 1 the restored revision did not become ready, "
    "3 no previous revision, 4 the cluster is unreachable."
)
STATUS_EPILOG = (
    "Exit codes: 0 every region answered, 3 a revision record is unreadable, "
    "4 a region is unreachable (the others are still listed)."
)


def register(app: typer.Typer) -> None:
    app.command("deploy", epilog=DEPLOY_EPILOG)(deploy)
    app.command("rollback", epilog=ROLLBACK_EPILOG)(rollback)
    app.command("status", epilog=STATUS_EPILOG)(status)
    app.add_typer(clusters_app, name="clusters")
    app.add_typer(dns_app, name="dns")
