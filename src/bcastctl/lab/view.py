"""Tables for `lab up`, `lab status`, `lab down` and `lab fault` (rich renderables, no printing)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bcastctl.lab.faults import FaultResult
from bcastctl.lab.status import LabRegionStatus, LabStatus
from bcastctl.lab.supervisor import LabUpResult
from bcastctl.lab.teardown import LabDownResult
from bcastctl.targets.lab_state import LabDifference, LabState, RegionState


def _shared_lines(state: LabState) -> list[str]:
    turn = (
        f"TURN   {state.turn.address}  ({', '.join(state.turn.urls)})"
        if state.turn.address
        else f"TURN   off: {state.turn.reason}"
    )
    return [f"DNS    {state.dns.address}  ({', '.join(state.dns.domains)})", turn]


def _region_table(region: RegionState) -> Table:
    table = Table(title=f"region {region.name}", title_justify="left", expand=False)
    for column in ("part", "name", "address", "detail"):
        table.add_column(column, overflow="fold")
    table.add_row("NATS", f"nats-{region.name}", region.nats_client_url, region.nats_monitor_url)
    for link in region.links:
        detail = f"{link.current_one_way_ms:g} ms one way -> {link.target}"
        table.add_row("link", link.name, link.listen, detail)
    for node in region.nodes:
        table.add_row("node", node.name, node.signalling_url, f"admin {node.admin_url}")
    return table


def differences_table(differences: list[LabDifference]) -> Table:
    """Every way the lab departs from the rendered objects (`lab up -v`)."""
    table = Table(
        title="what the lab runs differently from the rendered objects", title_justify="left"
    )
    for column in ("kind", "region", "where", "rendered", "lab", "why"):
        table.add_column(column, overflow="fold")
    for d in differences:
        table.add_row(d.kind, d.region or "*", d.where, d.rendered, d.lab, d.why)
    return table


def _difference_summary(state: LabState) -> str:
    substituted = sum(d.kind == "substituted" for d in state.differences)
    not_honoured = len(state.differences) - substituted
    source = "render" if state.rendered_from == "fleet" else state.rendered_from
    return (
        f"runs the objects from {source}: {substituted} substitutions, "
        f"{not_honoured} fields not honoured (-v lists them)"
    )


def lab_up_view(result: LabUpResult, *, verbose: bool = False) -> RenderableType:
    state = result.state
    if result.already_running:
        head = Text(f"lab already running in {state.state_dir}; nothing changed", style="yellow")
    else:
        head = Text(
            f"lab {state.fleet_name} ready in {state.ready_after_s:.2f} s "
            f"on {state.loopback_prefix}.0.0/16 (state: {state.state_dir})",
            style="green",
        )
    parts: list[RenderableType] = [head, *map(Text, _shared_lines(state))]
    parts.append(Text(_difference_summary(state)))
    if verbose:
        parts.append(differences_table(state.differences))
    parts += [_region_table(region) for region in state.regions]
    parts.append(Text("stop it with: bcastctl lab down" + _state_dir_flag(state.state_dir)))
    return Group(*parts)


def _state_dir_flag(state_dir: str) -> str:
    import os
    from pathlib import Path

    default = Path.cwd() / ".bcastctl" / "lab"
    if Path(state_dir) == default and "BCASTCTL_LAB_DIR" not in os.environ:
        return ""
    return f" --state-dir {state_dir}"


def _mark(ok: bool) -> str:
    return "[green]✔[/]" if ok else "[red]✖[/]"


def _status_region(region: LabRegionStatus) -> Table:
    table = Table(title=f"region {region.name}", title_justify="left")
    for column in ("", "part", "name", "address", "detail"):
        table.add_column(column, overflow="fold")
    gateways = f"gateways to {', '.join(region.gateways_connected) or 'none'}"
    if region.gateway_gaps:
        gateways += f"; [red]missing {', '.join(str(gap) for gap in region.gateway_gaps)}[/]"
    table.add_row(
        _mark(region.nats_running and not region.gateway_gaps),
        "NATS",
        f"pid {region.nats_pid}",
        region.nats_client_url,
        gateways,
    )
    for link in region.links:
        state = "cut" if link.cut else f"{link.one_way_ms:g} ms" if link.one_way_ms else "?"
        table.add_row(_mark(link.cut is False), "link", link.name, link.listen, state)
    for node in region.nodes:
        detail = f"sees {node.sees} peers" if node.sees is not None else "not answering"
        if node.sessions is not None:
            detail += f", {node.sessions}/{node.max_sessions} sessions, CPU {node.cpu:.2f}"
            detail += ", [yellow]draining[/]" if node.draining else ""
        table.add_row(
            _mark(node.running and node.ready), "node", node.name, node.signalling_url, detail
        )
    return table


def lab_status_view(status: LabStatus) -> RenderableType:
    turn = (
        f"{_mark(status.turn_running)} TURN {status.turn_address}"
        if status.turn_address
        else f"- TURN off: {status.turn_note}"
    )
    parts: list[RenderableType] = [
        Text(f"lab {status.fleet_name} in {status.state_dir} ({status.loopback_prefix}.0.0/16)"),
        Text.from_markup(f"{_mark(status.dns_running)} DNS {status.dns_address}"),
        Text.from_markup(turn),
        Text.from_markup(f"{_mark(status.linkd_running)} link daemon"),
    ]
    parts += [_status_region(region) for region in status.regions]
    if status.problems:
        parts.append(Text("problems: " + "; ".join(status.problems), style="red"))
    else:
        parts.append(Text("all lab processes running, full mesh", style="green"))
    return Group(*parts)


def lab_down_view(result: LabDownResult) -> RenderableType:
    if not result.was_running and not result.stopped:
        return Text(f"no lab in {result.state_dir}; nothing to stop")
    if not result.was_running:
        return Text(
            f"lab in {result.state_dir} was not running ({len(result.stopped)} recorded "
            f"processes already gone); its state is cleared, "
            f"{result.endpoints_checked} addresses verified free"
        )
    return Text(
        f"lab in {result.state_dir} stopped: {len(result.stopped)} processes ended, "
        f"{result.endpoints_checked} addresses verified free"
    )


def fault_view(result: FaultResult) -> RenderableType:
    return Text(f"{result.fault} {result.target}: {result.detail}")
