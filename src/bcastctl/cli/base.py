"""The command classes every bcastctl command is built from: global options anywhere, lazy groups.

Global options (`--fleet/-f`, `-o/--output`, `-v`, `-q`, `--no-color`) are declared
once, in GLOBAL_OPTIONS, and accepted before or after the subcommand with the same
meaning, as kubectl's and cilium's persistent flags are: the root group takes them,
and every group and command below it takes a copy. A copy given on the command line
updates the one CliContext; `-v` counts add up. Where a command has an option of its
own with the same name (`node serve --fleet` is the fleet NAME), the command's own
wins and its help says the global one goes before the command.

`LazyGroup` imports a subcommand's module only when that subcommand is looked up
(hatch's LazyGroup), so running one command loads no other command's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from bcastctl.cli.context import CliContext, OutputFormat, get

if TYPE_CHECKING:
    pass


class GlobalOption:
    """One global option: its declaration and how a value given after the command applies."""

    def __init__(
        self,
        decls: tuple[str, ...],
        kwargs: dict[str, Any],
        apply: Callable[[CliContext, Any], None],
    ) -> None:
        self.decls = decls
        self.kwargs = kwargs
        self.apply = apply

    def option(self, *, after_command: bool, taken: frozenset[str] = frozenset()) -> click.Option:
        """The root's option, or a copy for a command whose own options hold `taken` names."""
        if not after_command:
            return click.Option(list(self.decls), **self.kwargs)
        # the same declaration and help; the root alone reads the environment and defaults
        decls = [d for d in self.decls if d not in taken]
        return _GlobalCopy(decls, expose_value=False, callback=self._given, **self.kwargs)

    @property
    def flags(self) -> list[str]:
        return [d for d in self.decls if d.startswith("-")]

    def _given(self, ctx: click.Context, param: click.Parameter, value: Any) -> None:
        """A copy after the command: only a value typed on the command line counts."""
        if (
            param.name
            and ctx.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE
        ):
            self.apply(get(ctx), value)


class _GlobalCopy(click.Option):
    """A global option's copy on a group or command below the root (listed apart in help)."""


def _set_fleet(cli: CliContext, value: str) -> None:
    cli.use_fleet(value)


def _set_output(cli: CliContext, value: str) -> None:
    cli.output = OutputFormat(value)


def _add_verbose(cli: CliContext, value: int) -> None:
    cli.set_verbosity(cli.verbosity + value if cli.verbosity >= 0 else cli.verbosity)


def _set_quiet(cli: CliContext, value: bool) -> None:
    if value:
        cli.set_verbosity(-1)


def _set_no_color(cli: CliContext, value: bool) -> None:
    cli.no_color = cli.no_color or value


GLOBAL_OPTIONS = (
    GlobalOption(
        ("--fleet", "-f", "fleet"),
        {
            # a str here; CliContext.fleet_path makes the Path. Not readable=True: an
            # unreadable fleet is a config error (exit 3) from load_fleet, not a usage error
            "type": click.Path(readable=False),
            "default": "fleet.yaml",
            "envvar": "BCASTCTL_FLEET",
            "show_envvar": True,
            "show_default": True,
            "help": "Fleet file.",
        },
        _set_fleet,
    ),
    GlobalOption(
        ("--output", "-o", "output"),
        {
            "type": click.Choice([f.value for f in OutputFormat]),
            "default": OutputFormat.table.value,
            "show_default": True,
            "help": "Output format for data on stdout.",
        },
        _set_output,
    ),
    GlobalOption(
        ("--verbose", "-v", "verbose"),
        {"count": True, "help": "More logs (-vv: debug)."},
        _add_verbose,
    ),
    GlobalOption(
        ("--quiet", "-q", "quiet"), {"is_flag": True, "help": "No progress on stderr."}, _set_quiet
    ),
    GlobalOption(
        ("--no-color", "no_color"),
        {"is_flag": True, "help": "Plain output (also NO_COLOR)."},
        _set_no_color,
    ),
)


def _global_copies(params: list[click.Parameter]) -> list[click.Parameter]:
    """A copy of each global option, less the names the command's own options use; none at
    all where the command has its own option of the global's long name."""
    taken = frozenset(opt for p in params for opt in p.opts + p.secondary_opts)
    return [
        g.option(after_command=True, taken=taken) for g in GLOBAL_OPTIONS if g.decls[0] not in taken
    ]


def _shadowed(params: Sequence[click.Parameter]) -> list[str]:
    """Global option names this command uses for options of its own."""
    own = {o for p in params if not isinstance(p, _GlobalCopy) for o in p.opts + p.secondary_opts}
    return [flag for g in GLOBAL_OPTIONS for flag in g.flags if flag in own]


def _format_options(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    own: list[tuple[str, str]] = []
    shared: list[tuple[str, str]] = []
    params = command.get_params(ctx)
    for param in params:
        record = param.get_help_record(ctx)
        if record is not None:
            (shared if isinstance(param, _GlobalCopy) else own).append(record)
    if own:
        with formatter.section("Options"):
            formatter.write_dl(own)
    if shared:
        with formatter.section("Global options (also accepted before the command)"):
            formatter.write_dl(shared)
    for flag in _shadowed(params):
        formatter.write_paragraph()
        formatter.write_text(
            f"Here {flag} is this command's own option (above), not the global {flag}: "
            "give the global one before the command name."
        )


class Command(click.Command):
    """A bcastctl command: its options plus copies of the global options, made when first
    needed (parsing or help of this command), not when its module is imported."""

    _globals: list[click.Parameter] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(*args, **kwargs)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if self._globals is None:
            self._globals = _global_copies(self.params)
        return [*super().get_params(ctx), *self._globals]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_options(self, ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        get(ctx).configure_logging()  # now that options before and after the command are read
        return super().invoke(ctx)


class Group(Command, click.Group):
    """A bcastctl command group: takes the global options too; its commands are `Command`s."""

    command_class = Command
    group_class = type  # subgroups are of this class

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)


class LazyGroup(click.Group):
    """A group whose subcommands are `module:attribute` paths, imported when looked up."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)
