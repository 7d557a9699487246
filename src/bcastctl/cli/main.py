"""The bcastctl command: global options, the command groups, and the one error boundary.

Command modules import their heavy libraries inside the command body, so that
`bcastctl --help` loads none of kubernetes, google.cloud, aiortc or nats.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from bcastctl import __version__
from bcastctl.cli.base import GLOBAL_OPTIONS, LazyGroup
from bcastctl.cli.context import CliContext, OutputFormat
from bcastctl.errors import BcastError, ExitCode

if TYPE_CHECKING:
    pass

EXIT_CODES_HELP = (
    "Global options are accepted before or after the command. "
    "Exit codes: 0 ok, 1 checks failed, 2 usage, 3 config (fleet file), "
    "4 cluster/API unreachable, 70 internal error."
)

# Every command, imported only when it runs or its help is shown (cli/base.LazyGroup).
COMMANDS = {
    "analyze": "bcastctl.cli.bundle:analyze",
    "bundle": "bcastctl.cli.bundle:bundle",
    "clusters": "bcastctl.cli.clusters:clusters",
    "deploy": "bcastctl.cli.deploy:deploy",
    "dns": "bcastctl.cli.dns:dns",
    "lab": "bcastctl.cli.lab:lab",
    "monitor": "bcastctl.cli.monitor:monitor",
    "node": "bcastctl.cli.node:node",
    "probe": "bcastctl.cli.probe:probe",
    "render": "bcastctl.cli.render:render",
    "rollback": "bcastctl.cli.rollback:rollback",
    "status": "bcastctl.cli.status:status",
    "verify": "bcastctl.cli.verify:verify",
}


def _version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        click.echo(f"bcastctl {__version__}")
        ctx.exit()


def _main(fleet: str, output: str, verbose: int, quiet: bool, no_color: bool) -> None:
    cli = CliContext(fleet, output=OutputFormat(output), no_color=no_color)
    cli.set_verbosity(-1 if quiet else verbose)
    click.get_current_context().obj = cli


app = LazyGroup(
    name="bcastctl",
    lazy=COMMANDS,
    callback=_main,
    params=[
        *(option.option(after_command=False) for option in GLOBAL_OPTIONS),
        click.Option(
            ["--version"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_version,
            help="Show the version.",
        ),
    ],
    help="Deploy, verify and probe a multi-region WebRTC broadcaster "
    "(aiortc nodes, NATS super-cluster, STUNner TURN).",
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
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
        result = app.main(
            args=argv, standalone_mode=False, prog_name="bcastctl", terminal_width=_help_width()
        )
    except BcastError as e:
        code = _fail(_escape(e.message), _escape(e.hint) if e.hint else None, e.exit_code)
    except click.ClickException as e:  # usage errors: bad option, missing argument
        e.show()
        code = e.exit_code
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.Abort:
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
        # The process ends here: let the OS take back its memory rather than the collector
        # walk every object of every module once more (a tenth of a short command's CPU).
        import gc

        gc.freeze()
        sys.exit(int(code))
    return int(code)


def _help_width() -> int:
    """The width click gives help text (terminal columns, at most 80), found without
    click's shutil.get_terminal_size: shutil loads bz2, lzma and zlib, a tenth of --help."""
    import os

    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, 80) - 2, 50)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
