"""`bcastctl node serve`: run one broadcaster media node (settings from env, flags override).

The flags and their help come from the settings' declaration (node/settings.py): one
flag per setting that is not a secret, taken as text and validated by the same parser
as the environment, so a bad value names the flag it came from.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from bcastctl.node.settings import NodeSettings, declared, load_settings

app = typer.Typer(
    help="The broadcaster media node (WHIP/WHEP, NATS membership, relay).", no_args_is_help=True
)


def _secrets_help() -> str:
    secrets = "; ".join(f"{s.env}: {s.help.rstrip('.')}" for s in declared() if s.secret)
    return f"Secrets are read only from the environment, never from flags: {secrets}."


def _serve(**flags: str | None) -> None:
    """Run a node until SIGTERM. Bad settings: one line, exit 3."""
    import asyncio
    import logging
    import os

    from bcastctl.node.service import serve as serve_node

    settings = load_settings(os.environ, flags)
    logging.getLogger().setLevel(settings.log_level)
    logging.getLogger("bcastctl").setLevel(settings.log_level)
    for noisy in ("aioice", "aiortc", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with asyncio.Runner(loop_factory=_loop_factory(settings)) as runner:
        runner.run(serve_node(settings))


def _flag_parameters() -> list[inspect.Parameter]:
    """One `--flag TEXT` option per setting that has a flag, named by the setting's key."""
    return [
        inspect.Parameter(
            s.key,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                str | None, typer.Option(s.flag, help=s.describe(), metavar=s.metavar)
            ],
        )
        for s in declared()
        if s.flag is not None
    ]


_serve.__signature__ = inspect.Signature(_flag_parameters())  # type: ignore[attr-defined]
app.command("serve", epilog=_secrets_help())(_serve)


def _loop_factory(settings: NodeSettings) -> Callable[[], Any] | None:
    """uvloop when installed (its C datagram path makes per-viewer sending cheaper), unless
    the settings ask for the standard loop."""
    if settings.event_loop == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
