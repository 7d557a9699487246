"""Tables for deploy, rollback, status, clusters discover and dns (rich renderables)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from bcastctl.deploy.discover import DiscoverResult
from bcastctl.deploy.dns import DnsResult
from bcastctl.deploy.model import (
    DeployResult,
    ObjectChange,
    RegionDeploy,
    RollbackResult,
    StatusResult,
)

_STATE_STYLE = {
    "deployed": "green",
    "unchanged": "dim",
    "dry-run": "cyan",
    "rolled-back": "red",
    "failed": "bold red",
    "not-started": "yellow",
}


def _changes(changes: list[ObjectChange]) -> str:
    if not changes:
        return "-"
    words = {"create": "created", "update": "updated", "delete": "deleted"}
    counts: dict[str, int] = {}
    for item in changes:
        counts[item.action] = counts.get(item.action, 0) + 1
    return ", ".join(f"{n} {words[action]}" for action, n in counts.items())


def _revision(row: RegionDeploy) -> str:
    if row.state == "deployed":
        return f"{row.previous_revision or '-'} -> {row.revision}"
    if row.state == "rolled-back":
        return f"back to {row.rolled_back_to}"
    return str(row.revision or row.previous_revision or "-")


def deploy_table(result: DeployResult) -> RenderableType:
    title = f"deploy {result.fleet}" + (" (dry run)" if result.dry_run else "")
    table = Table(title=title, title_justify="left")
    columns = ("region", "result", "revision", "image", "changes", "gate", "drained", "cut")
    for column in columns:
        table.add_column(column)
    for row in result.regions:
        table.add_row(
            row.region,
            Text(row.state, style=_STATE_STYLE.get(row.state, "")),
            _revision(row),
            row.image,
            _changes(row.changes),
            row.gate or "-",
            str(row.sessions_drained) if row.drains else "-",
            Text(str(row.sessions_cut), style="red" if row.sessions_cut else "")
            if row.drains
            else "-",
        )
    parts: list[RenderableType] = [table]
    for row in result.regions:
        for warning in row.warnings:
            parts.append(Text(f"⚠ {row.region}: {warning}", style="yellow"))
        for drain in row.drains:
            if drain.note:
                when = " (rollback)" if drain.phase == "rollback" else ""
                parts.append(Text(f"! {drain.pod}{when}: {drain.note}", style="yellow"))
        if row.failure:
            parts.append(Text(f"✖ {row.failure}", style="red"))
            if row.hint:
                parts.append(Text(f"  hint: {row.hint}", style="dim"))
        if row.diff:
            parts.append(Text(f"--- diff for {row.region} ---", style="bold"))
            parts.append(Syntax(row.diff, "diff", background_color="default"))
    return Group(*parts)


def rollback_table(result: RollbackResult) -> RenderableType:
    lines = [
        f"{result.region}: {result.state} from revision {result.from_revision} "
        f"(recorded as revision {result.to_revision}); {_changes(result.changes)}"
    ]
    lines += [f"  {c.action} {c.ref}" for c in result.changes]
    if result.drains:
        lines.append(
            f"pods drained first: {len(result.drains)}; sessions drained "
            f"{result.sessions_drained}, cut {result.sessions_cut}"
        )
        lines += [f"  ! {d.pod}: {d.note}" for d in result.drains if d.note]
    return Text("\n".join(lines))


def status_table(result: StatusResult) -> RenderableType:
    table = Table(title=f"status {result.fleet}", title_justify="left")
    for column in ("region", "revision", "image", "ready", "gate", "applied", "note"):
        table.add_column(column)
    for row in result.regions:
        if row.error:
            why = row.error if row.reachable else f"unreachable: {row.error}"
            table.add_row(row.region, "-", "-", "-", "-", "-", Text(why, style="red"))
            continue
        ready = (
            f"{row.ready_replicas}/{row.replicas}" if row.replicas is not None else "no StatefulSet"
        )
        table.add_row(
            row.region,
            str(row.revision or "-"),
            row.image or "-",
            ready,
            row.gate or "-",
            row.applied_at or "-",
            Text(row.last_attempt or "", style="yellow"),
        )
    return table


def discover_table(result: DiscoverResult) -> RenderableType:
    table = Table(title=f"GKE clusters in {result.project}", title_justify="left")
    for column in ("region", "cluster", "location", "status", "version", "nodes", "endpoint"):
        table.add_column(column)
    for c in result.clusters:
        table.add_row(c.region, c.name, c.location, c.status, c.version, str(c.nodes), c.endpoint)
    parts: list[RenderableType] = [table]
    parts += [Text(f"note: {note}", style="yellow") for note in result.notes]
    if result.fleet_file:
        parts.append(Text(f"wrote {result.fleet_file}"))
    return Group(*parts)


def dns_table(result: DnsResult) -> RenderableType:
    table = Table(
        title=f"dns {result.action} {result.record} (zone {result.zone}, ttl {result.ttl})",
        title_justify="left",
    )
    for column in ("location", "desired", "source", "live"):
        table.add_column(column)
    live = result.live or {}
    for location in sorted(set(result.desired) | set(result.sources) | set(live)):
        table.add_row(
            location,
            ", ".join(result.desired.get(location, [])) or "-",
            result.sources.get(location, "-"),
            ", ".join(live.get(location, [])) or "-",
        )
    parts: list[RenderableType] = [table]
    if result.live is None:
        parts.append(Text("the record does not exist yet"))
    parts += [
        Text(line, style={"+": "green", "-": "red"}.get(line[0], "yellow"))
        for line in result.changes
    ]
    if not result.changes:
        parts.append(Text("in sync: nothing to change", style="green"))
    elif result.change_id:
        parts.append(Text(f"applied (change {result.change_id})", style="green"))
    return Group(*parts)
