"""Options several commands share, and the one duration type every time option uses.

A duration (bcastctl.duration) is `500ms`, `10s`, `2m` or `1h`; a bare number is seconds,
or milliseconds for the options that always took milliseconds (`probe rtt --interval`
and `--max-rtt`, `lab fault slow-link --ms`), so existing scripts keep their meaning.
A bad value is one line naming the option, exit 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bcastctl import duration
from bcastctl.cli.context import PathType
from bcastctl.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from bcastctl.cli.context import CliContext
    from bcastctl.targets.base import Target

F = TypeVar("F", bound=Callable[..., Any])


def parse_duration(text: str, option: str, *, bare: str = "s", positive: bool = False) -> float:
    """Seconds from "30", "30s", "500ms", "2m", "1h"; UsageError naming the option."""
    try:
        seconds = duration.seconds(text, bare=bare)
    except ValueError as e:
        raise UsageError(f"{option} {text!r}: {e}") from None
    if positive and seconds <= 0:
        raise UsageError(f"{option} {text!r}: must be more than 0")
    return seconds


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic in newer click only
    """A time option's value, in seconds (float)."""

    name = "duration"

    def __init__(self, *, bare: str = "s", positive: bool = False, minimum: float = 0.0) -> None:
        self.bare = bare
        self.positive = positive
        self.minimum = minimum

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):  # a default, already in seconds
            return value
        option = param.opts[0] if param is not None and param.opts else "duration"
        seconds = parse_duration(str(value), option, bare=self.bare, positive=self.positive)
        if seconds < self.minimum:
            raise UsageError(f"{option} {value!r}: must be at least {self.minimum:g}s")
        return seconds


def duration_option(
    *decls: str,
    help: str,
    default: str | None = None,
    bare: str = "s",
    positive: bool = False,
    minimum: float = 0.0,
    required: bool = False,
) -> Callable[[F], F]:
    """A time option (value in seconds); its help says the accepted forms."""
    unit = "milliseconds" if bare == "ms" else "seconds"
    return click.option(
        *decls,
        type=Duration(bare=bare, positive=positive, minimum=minimum),
        default=default,
        show_default=default is not None,
        required=required,
        help=f"{help} A duration: 500ms, 10s, 2m (a bare number is {unit}).",
    )


def regions_option(help: str = "Only this region (repeatable).") -> Callable[[F], F]:
    return click.option("--region", "-r", "region", multiple=True, help=help)


def max_disrupted_option(help: str) -> Callable[[F], F]:
    """`--max-disrupted N`: the sessions a rollout or rollback may cut per region."""
    return click.option(
        "--max-disrupted", type=click.IntRange(min=0), default=None, metavar="N", help=help
    )


def kubeconfig_option(f: F) -> F:
    return click.option(
        "--kubeconfig", default=None, help="Kubeconfig file (overrides the fleet's)."
    )(f)


def kube_context_option(f: F) -> F:
    return click.option(
        "--context", "kube_context", default=None, help="Kube context (one region only)."
    )(f)


def state_dir_option(f: F) -> F:
    return click.option(
        "--state-dir",
        type=PathType(),
        envvar="BCASTCTL_LAB_DIR",
        show_envvar=True,
        default=None,
        help="The lab's state dir (its state, logs and secrets) [default: ./.bcastctl/lab].",
    )(f)


def target_option(f: F) -> F:
    return click.option(
        "--target",
        type=click.Choice(["auto", "lab", "kube"]),
        default="auto",
        show_default=True,
        help="lab, kube, or auto: the lab when --state-dir is given or a lab state exists "
        "in ./.bcastctl/lab, else the fleet's clusters.",
    )(f)


def open_target(cli: CliContext, kind: str, state_dir: Path | None) -> Target:
    """The lab (its state dir) or the clusters of the fleet file (kube contexts)."""
    from bcastctl.targets.lab_state import default_state_dir, state_file

    lab_dir = default_state_dir(state_dir)
    if kind == "auto":
        kind = "lab" if state_dir is not None or state_file(lab_dir).exists() else "kube"
    if kind == "lab":
        return _lab_target(cli, lab_dir)
    try:
        from bcastctl.targets import kube
    except ModuleNotFoundError as e:
        if e.name != "bcastctl.targets.kube":
            raise
        raise UsageError(
            "the kube target is not available in this build", hint="use --target lab"
        ) from e
    return kube.KubeTarget.connect(cli.fleet())


def _lab_target(cli: CliContext, lab_dir: Path) -> Target:
    """The lab in `lab_dir`, checked against --fleet when a fleet file is there to compare.

    The lab records the fleet it runs. A fleet file given as well is used for what the checks
    expect when it is the same fleet with the same regions (for example an edited copy); any
    other fleet is an error, never silently ignored.
    """
    from pathlib import Path

    from bcastctl.targets.lab import LabTarget
    from bcastctl.targets.lab_state import load_lab_state

    state = load_lab_state(lab_dir)
    given = cli.fleet_path
    if not given.is_file() or given.resolve() == Path(state.fleet_path).resolve():
        return LabTarget(state)
    fleet = cli.fleet()
    if fleet.name != state.fleet_name:
        raise UsageError(
            f"--fleet {given}: describes fleet {fleet.name!r}, but the lab in {lab_dir} "
            f"runs fleet {state.fleet_name!r} (from {state.fleet_path})",
            hint="drop --fleet, pass that lab's fleet file, or --state-dir of another lab",
        )
    running = [region.name for region in state.regions]
    if fleet.region_names != running:
        raise UsageError(
            f"--fleet {given}: names regions {', '.join(fleet.region_names)}, but the lab in "
            f"{lab_dir} runs {', '.join(running)}",
            hint="run `bcastctl lab down` and `lab up` with this fleet file, or drop --fleet",
        )
    return LabTarget(state, fleet)
