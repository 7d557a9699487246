"""`bcastctl node serve`: run one broadcaster media node (settings from env, flags override).

The flags and their help come from the settings' declaration (node/settings.py): one
flag per setting that is not a secret, taken as text and validated by the same parser
as the environment, so a bad value names the flag it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from bcastctl.cli.base import Command, Group
from bcastctl.node.settings import NodeSettings, declared, load_settings


@click.group(cls=Group)
def node() -> None:
    """The broadcaster media node (WHIP/WHEP, NATS membership, relay)."""


def _secrets_help() -> str:
    secrets = "; ".join(f"{s.env}: {s.help.rstrip('.')}" for s in declared() if s.secret)
    return f"Secrets are read only from the environment, never from flags: {secrets}."


def _serve(**flags: str | None) -> None:
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


def _flag_options() -> list[click.Parameter]:
    """One `--flag TEXT` option per setting that has a flag, named by the setting's key."""
    return [
        click.Option([s.flag, s.key], default=None, help=s.describe(), metavar=s.metavar)
        for s in declared()
        if s.flag is not None
    ]


node.add_command(
    Command(
        "serve",
        callback=_serve,
        params=_flag_options(),
        help="Run a node until SIGTERM. Bad settings: one line, exit 3.",
        epilog=_secrets_help(),
    )
)


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


@node.command(
    cls=Command,
    epilog="Exit codes: 0 drained (or the node already gone), 4 the node did not answer.",
)
@click.option(
    "--admin",
    "admin_url",
    default=None,
    metavar="URL",
    help="The node's admin URL (default: http://127.0.0.1:$BCAST_ADMIN_PORT, 9090 unset).",
)
def drain(admin_url: str | None) -> int:
    """Drain the node and wait: it takes no new session, keeps live ones until they end
    or its drain deadline, then exits. The broadcaster pod's preStop hook runs this."""
    import os

    from bcastctl.node.drain_client import drain_and_wait

    port = os.environ.get(NodeSettings.admin_port.env, "").strip() or "9090"
    return drain_and_wait(admin_url or f"http://127.0.0.1:{port}")
