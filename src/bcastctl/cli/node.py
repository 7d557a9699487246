"""`bcastctl node serve`: run one broadcaster media node (settings from env, flags override)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="The broadcaster media node (WHIP/WHEP, NATS membership, relay).", no_args_is_help=True
)

SECRETS_HELP = (
    "Secrets are read only from the environment, never from flags: BCAST_CLUSTER_SECRET "
    "(required: signs heartbeats), BCAST_WHIP_TOKEN (publishers' Bearer token; unset = "
    "publishing refused), BCAST_TURN_SECRET (TURN REST credentials for /api/pc-config). "
    "BCAST_EVENT_LOOP=asyncio runs on the standard event loop instead of uvloop."
)


def _opt(env: str, text: str) -> str:
    return f"{text} (env {env})"


@app.command(epilog=SECRETS_HELP)
def serve(
    name: Annotated[
        str | None,
        typer.Option(
            help=_opt("BCAST_NODE_NAME", "Node name, unique in the fleet (default: host name).")
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(help=_opt("BCAST_REGION", "Region of this node."))
    ] = None,
    fleet: Annotated[
        str | None,
        typer.Option(
            help=_opt("BCAST_FLEET", "Fleet name; prefixes NATS subjects (default bcast).")
        ),
    ] = None,
    lat: Annotated[float | None, typer.Option(help=_opt("BCAST_LAT", "Latitude."))] = None,
    lon: Annotated[float | None, typer.Option(help=_opt("BCAST_LON", "Longitude."))] = None,
    nats_url: Annotated[
        str | None,
        typer.Option(
            help=_opt(
                "BCAST_NATS_URL",
                "Comma-separated nats:// URLs of the region's NATS (default nats://127.0.0.1:4222).",
            )
        ),
    ] = None,
    bind: Annotated[
        str | None,
        typer.Option(help=_opt("BCAST_BIND_ADDRESS", "HTTP listen address (default 0.0.0.0).")),
    ] = None,
    advertise: Annotated[
        str | None,
        typer.Option(
            help=_opt(
                "BCAST_ADVERTISE_ADDRESS",
                "IP that peers and ICE use; a loopback address makes ICE offer it (lab).",
            )
        ),
    ] = None,
    signalling_port: Annotated[
        int | None,
        typer.Option(
            help=_opt(
                "BCAST_SIGNALLING_PORT", "Public port: WHIP/WHEP/pc-config (default 8080; 0 = any)."
            )
        ),
    ] = None,
    admin_port: Annotated[
        int | None,
        typer.Option(
            help=_opt(
                "BCAST_ADMIN_PORT",
                "Private port: health, metrics, cluster, diag (default 9090; 0 = any).",
            )
        ),
    ] = None,
    max_sessions: Annotated[
        int | None, typer.Option(help=_opt("BCAST_MAX_SESSIONS", "Session limit (default 200)."))
    ] = None,
    turn_urls: Annotated[
        str | None,
        typer.Option(
            help=_opt("BCAST_TURN_URLS", "Comma-separated turn:/stun: URIs for /api/pc-config.")
        ),
    ] = None,
    ice_policy: Annotated[
        str | None, typer.Option(help=_opt("BCAST_ICE_POLICY", "all | relay (default all)."))
    ] = None,
    dns_server: Annotated[
        str | None,
        typer.Option(
            help=_opt(
                "BCAST_DNS_SERVER", "IP:PORT for /api/diag/resolve (default: system resolver)."
            )
        ),
    ] = None,
    expected_nodes: Annotated[
        int | None,
        typer.Option(
            help=_opt("BCAST_EXPECTED_NODES", "Fleet size; /readyz waits until it sees them all.")
        ),
    ] = None,
    heartbeat_interval: Annotated[
        float | None,
        typer.Option(
            help=_opt("BCAST_HEARTBEAT_INTERVAL", "Seconds between heartbeats (default 0.5).")
        ),
    ] = None,
    peer_timeout: Annotated[
        float | None,
        typer.Option(
            help=_opt(
                "BCAST_PEER_TIMEOUT",
                "Seconds without a heartbeat before a peer is down (default 2).",
            )
        ),
    ] = None,
    media_path: Annotated[
        str | None,
        typer.Option(
            help=_opt(
                "BCAST_MEDIA_PATH",
                "passthrough (encoded, default) | relay (decode + re-encode, MediaRelay).",
            )
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            help=_opt("BCAST_LOG_LEVEL", "DEBUG | INFO | WARNING | ERROR (default INFO).")
        ),
    ] = None,
) -> None:
    """Run a node until SIGTERM. Bad settings: one line, exit 3."""
    import asyncio
    import logging
    import os

    from bcastctl.node.service import serve as serve_node
    from bcastctl.node.settings import load_settings
    from bcastctl.protocol import NodeEnv

    overrides = {
        "name": name,
        "region": region,
        "fleet": fleet,
        "lat": lat,
        "lon": lon,
        "nats_urls": nats_url,
        "bind_address": bind,
        "advertise_address": advertise,
        "signalling_port": signalling_port,
        "admin_port": admin_port,
        "max_sessions": max_sessions,
        "turn_urls": turn_urls,
        "ice_policy": ice_policy,
        "dns_server": dns_server,
        "expected_nodes": expected_nodes,
        "heartbeat_interval_s": heartbeat_interval,
        "peer_timeout_s": peer_timeout,
        "media_path": media_path,
        "log_level": log_level,
    }
    settings = load_settings(os.environ, overrides)
    logging.getLogger().setLevel(settings.log_level)
    logging.getLogger("bcastctl").setLevel(settings.log_level)
    for noisy in ("aioice", "aiortc", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with asyncio.Runner(loop_factory=_loop_factory(os.environ.get(NodeEnv.EVENT_LOOP))) as runner:
        runner.run(serve_node(settings))


def _loop_factory(choice: str | None) -> Callable[[], Any] | None:
    """uvloop when installed (its C datagram path makes per-viewer sending cheaper), unless
    BCAST_EVENT_LOOP=asyncio asks for the standard loop."""
    if (choice or "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
