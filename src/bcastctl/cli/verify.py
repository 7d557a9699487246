"""`bcastctl verify mesh`: every mesh check on the lab or the clusters; table, JSON, JUnit."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bcastctl.cli import context
from bcastctl.errors import UsageError

if TYPE_CHECKING:
    from bcastctl.targets.base import Target

app = typer.Typer(help="Check a deployed fleet (or the lab) end to end.", no_args_is_help=True)

MESH_EPILOG = (
    "Exit codes: 0 nothing failed, 1 a check failed (or warned, with --strict), "
    "2 usage, 3 config, 4 no region reachable."
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(option: str, text: str, positive: bool = False) -> float:
    """Seconds from "30", "30s", "500ms", "2m", "1h"; UsageError naming the option."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{option} {text!r}: expected a duration such as 30s, 500ms or 2m")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if positive and seconds <= 0:
        raise UsageError(f"{option} {text!r}: must be more than 0")
    return seconds


def open_target(cli: context.CliContext, kind: str, state_dir: Path | None) -> Target:
    """The lab (its state dir) or the clusters of the fleet file (kube contexts)."""
    from bcastctl.targets.lab_state import default_state_dir, state_file

    lab_dir = default_state_dir(state_dir)
    if kind == "auto":
        kind = "lab" if state_dir is not None or state_file(lab_dir).exists() else "kube"
    if kind == "lab":
        from bcastctl.targets.lab import LabTarget

        return LabTarget.from_state_dir(lab_dir)
    try:
        from bcastctl.targets import kube
    except ModuleNotFoundError as e:
        if e.name != "bcastctl.targets.kube":
            raise
        raise UsageError(
            "the kube target is not available in this build", hint="use --target lab"
        ) from e
    return kube.KubeTarget.connect(cli.fleet())


class TargetKind(StrEnum):
    auto = "auto"
    lab = "lab"
    kube = "kube"


TargetOption = Annotated[
    TargetKind,
    typer.Option(
        "--target",
        help="lab, kube, or auto: the lab when --state-dir is given or a lab state exists "
        "in ./.bcastctl/lab, else the fleet's clusters.",
    ),
]
StateDirOption = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="BCASTCTL_LAB_DIR", help="The lab's state dir."),
]


@app.command(epilog=MESH_EPILOG)
def mesh(
    ctx: typer.Context,
    target: TargetOption = TargetKind.auto,
    state_dir: StateDirOption = None,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", help="Only checks matching REGEX; '!REGEX' excludes (repeatable)."),
    ] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="Only these regions (repeatable).")
    ] = None,
    timeout: Annotated[str, typer.Option(help="Deadline of one check in one region.")] = "10s",
    wait: Annotated[
        str, typer.Option(help="Re-run until healthy or this long, e.g. 2m; report what failed.")
    ] = "0s",
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
    media: Annotated[
        bool, typer.Option("--media", help="Also publish and view media between every pair.")
    ] = False,
    media_relay: Annotated[
        bool,
        typer.Option("--media-relay", help="Media only through each region's TURN (relay ICE)."),
    ] = False,
    junit_file: Annotated[
        Path | None, typer.Option("--junit-file", help="Also write JUnit XML here.")
    ] = None,
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Also write a page (FILE.html): checks, root causes, RTT, map."
        ),
    ] = None,
) -> int:
    """Check every region: NATS gateways, membership, registry, DNS, TURN (and media)."""
    import asyncio

    from bcastctl.checks.report import REPORT_KIND
    from bcastctl.checks.runner import RunOptions, run_checks_on
    from bcastctl.report.checks_junit import junit_on_setup_error, write_junit
    from bcastctl.report.checks_table import checks_table
    from bcastctl.report.envelope import emit

    cli = context.get(ctx)
    if report_file is not None and report_file.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--report {report_file}: the file must end in .html")
    options = RunOptions(
        regions=region or None,
        select=check or (),
        timeout_s=parse_duration("--timeout", timeout, positive=True),
        wait_s=parse_duration("--wait", wait),
        strict=strict,
        media=media or media_relay,
        media_relay=media_relay,
        on_retry=lambda attempt, failing, left: cli.err.print(
            f"verify: attempt {attempt}: {failing} failing; again until healthy ({left:.0f} s left)"
        ),
    )
    with junit_on_setup_error(junit_file):  # CI gets its JUnit file even when setup fails
        opened = open_target(cli, target, state_dir)
    report = asyncio.run(run_checks_on(opened, options))
    if junit_file is not None:
        write_junit(report, junit_file)
    if report_file is not None:
        from bcastctl.report.checks_html import write_checks_page

        write_checks_page(report, report_file, {r.name: r.geo for r in opened.fleet.regions})
    emit(cli.out, cli.output, REPORT_KIND, report, checks_table)
    return report.exit_code
