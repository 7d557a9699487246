"""The bcastctl command: global options, the command groups, and the one error boundary.

Command modules import their heavy libraries inside the command body, so that
`bcastctl --help` loads none of kubernetes, google.cloud, aiortc or nats.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from bcastctl import __version__
from bcastctl.cli import bundle as bundle_cmd
from bcastctl.cli import deploy as deploy_cmd
from bcastctl.cli import lab as lab_cmd
from bcastctl.cli import monitor as monitor_cmd
from bcastctl.cli import node as node_cmd
from bcastctl.cli import probe as probe_cmd
from bcastctl.cli import render as render_cmd
from bcastctl.cli import verify as verify_cmd
from bcastctl.cli.context import CliContext, OutputFormat
from bcastctl.errors import BcastError, ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 checks failed, 2 usage, 3 config (fleet file), "
    "4 cluster/API unreachable, 70 internal error."
)

app = typer.Typer(
    name="bcastctl",
    help="Deploy, verify and probe a multi-region WebRTC broadcaster "
    "(aiortc nodes, NATS super-cluster, STUNner TURN).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bcastctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    fleet: Annotated[
        Path,
        typer.Option(
            "--fleet", "-f", envvar="BCASTCTL_FLEET", help="Fleet file.", show_default=True
        ),
    ] = Path("fleet.yaml"),
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="Output format for data on stdout.")
    ] = OutputFormat.table,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logs.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="Plain output (also NO_COLOR).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    ctx.obj = CliContext(
        fleet_path=fleet, output=output, verbosity=-1 if quiet else verbose, no_color=no_color
    )
    _configure_logging(-1 if quiet else verbose)


def _configure_logging(verbosity: int) -> None:
    import logging

    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


app.command("render", help=render_cmd.HELP)(render_cmd.render)
app.add_typer(lab_cmd.app, name="lab")
app.add_typer(verify_cmd.app, name="verify")
app.add_typer(probe_cmd.app, name="probe")
deploy_cmd.register(app)  # deploy, rollback, status, clusters, dns
app.add_typer(node_cmd.app, name="node")
app.command("monitor", help=monitor_cmd.MONITOR_HELP, epilog=monitor_cmd.MONITOR_EPILOG)(
    monitor_cmd.monitor
)
app.command("bundle", help=bundle_cmd.BUNDLE_HELP, epilog=bundle_cmd.BUNDLE_EPILOG)(
    bundle_cmd.bundle
)
app.command("analyze", help=bundle_cmd.ANALYZE_HELP, epilog=bundle_cmd.ANALYZE_EPILOG)(
    bundle_cmd.analyze
)


def _fail(message: str, hint: str | None, code: int) -> int:
    from bcastctl.report.console import stderr_console

    console = stderr_console()
    console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    if hint:
        console.print(f"[dim]hint:[/] {hint}", highlight=False, soft_wrap=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Entry point: the one boundary that turns errors into a line and an exit code."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="bcastctl")
    except BcastError as e:
        code = _fail(_escape(e.message), _escape(e.hint) if e.hint else None, e.exit_code)
    except TyperException as e:  # click-style usage errors: bad option, missing argument
        e.show()  # type: ignore[attr-defined]
        code = int(getattr(e, "exit_code", ExitCode.USAGE))
    except typer.Abort:
        code = 130
    except KeyboardInterrupt:
        code = 130
    except Exception as e:  # a bug of ours: one line unless -vv asks for the traceback
        if "-vv" in (argv or sys.argv) or "-vvv" in (argv or sys.argv):
            raise
        code = _fail(
            _escape(f"internal error: {type(e).__name__}: {e}"),
            "re-run with -vv for the traceback, and please report it",
            ExitCode.INTERNAL,
        )
    else:
        code = result if isinstance(result, int) else ExitCode.OK
    if argv is None:
        sys.exit(int(code))
    return int(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
