"""The node's settings, each declared once: environment first, `node serve` flags override.

Every attribute of `NodeSettings` is a `Setting` (node/setting.py): its environment
name, its flag, its parser and bounds, its default, its help, whether it is a secret.
From these derive the flags and --help of `bcastctl node serve` (cli/node.py), the
environment render writes (render/manifests.py) and the lab sets, validation, and
the error messages: a bad value is one line naming where it came from (the flag when
it came from a flag, the env var otherwise), raised as ConfigError (exit 3).
Secrets come only from the environment and never reach repr() or public_dict().
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bcastctl.errors import ConfigError
from bcastctl.node import setting as parse
from bcastctl.node.setting import Setting

Label = Callable[[Setting[Any]], str]


class NodeSettings:
    """One node's settings (frozen); read on the class, an attribute is its declaration."""

    name = Setting[str](
        "BCAST_NODE_NAME", "", parse.name, "Node name, unique in the fleet (default: host name)."
    )
    region = Setting[str]("BCAST_REGION", "default", parse.name, "Region of this node.")
    fleet = Setting[str]("BCAST_FLEET", "bcast", parse.name, "Fleet name; prefixes NATS subjects.")
    lat = Setting[float]("BCAST_LAT", 0.0, parse.number(-90, 90), "Latitude.", metavar="FLOAT")
    lon = Setting[float]("BCAST_LON", 0.0, parse.number(-180, 180), "Longitude.", metavar="FLOAT")
    nats_urls = Setting[tuple[str, ...]](
        "BCAST_NATS_URL",
        ("nats://127.0.0.1:4222",),
        parse.urls("nats://", "tls://"),
        "Comma-separated nats:// URLs of the region's NATS.",
        flag="--nats-url",
        metavar="URLS",
    )
    nats_user = Setting[str](
        "BCAST_NATS_USER", "", parse.name, "NATS user name (password: BCAST_NATS_PASSWORD)."
    )
    bind_address = Setting[str](
        "BCAST_BIND_ADDRESS", "0.0.0.0", parse.address, "HTTP listen address.", flag="--bind"
    )
    advertise_address = Setting[str](
        "BCAST_ADVERTISE_ADDRESS",
        "127.0.0.1",
        parse.address,
        "IP that peers and ICE use; a loopback address makes ICE offer it (lab). "
        "Unset: the bind address when that is a specific one.",
        flag="--advertise",
    )
    signalling_port = Setting[int](
        "BCAST_SIGNALLING_PORT",
        8080,
        parse.integer(0, 65535),
        "Public port: WHIP/WHEP/pc-config (0 = any).",
        metavar="PORT",
    )
    admin_port = Setting[int](
        "BCAST_ADMIN_PORT",
        9090,
        parse.integer(0, 65535),
        "Private port: health, metrics, cluster, diag (0 = any).",
        metavar="PORT",
    )
    rtc_port_min = Setting[int](
        "BCAST_RTC_PORT_MIN",
        0,
        parse.integer(0, 65535),
        "Lowest UDP port for ICE (0 with --rtc-port-max 0 = any port).",
        metavar="PORT",
    )
    rtc_port_max = Setting[int](
        "BCAST_RTC_PORT_MAX",
        0,
        parse.integer(0, 65535),
        "Highest UDP port for ICE.",
        metavar="PORT",
    )
    max_sessions = Setting[int](
        "BCAST_MAX_SESSIONS", 200, parse.integer(1, 100_000), "Session limit.", metavar="INTEGER"
    )
    max_connecting = Setting[int](
        "BCAST_MAX_CONNECTING",
        100,
        parse.integer(1, 100_000),
        "Sessions allowed to be connecting (ICE/DTLS) at once.",
        metavar="INTEGER",
    )
    connect_deadline_s = Setting[float](
        "BCAST_CONNECT_DEADLINE",
        10.0,
        parse.duration(0.5, 600),
        "How long a session may take to connect before it is closed.",
        flag="--connect-deadline",
        metavar="DURATION",
    )
    drain_deadline_s = Setting[float](
        "BCAST_DRAIN_DEADLINE",
        30.0,
        parse.duration(0, 3600),
        "How long a draining node waits for its sessions on SIGTERM.",
        flag="--drain-deadline",
        metavar="DURATION",
    )
    public_url = Setting[str](
        "BCAST_PUBLIC_URL",
        "",
        parse.origin,
        "The region's public signalling URL (http(s)://host[:port]): other regions "
        "redirect (307) viewers here when theirs is full. Unset: no redirects to this region.",
        metavar="URL",
    )
    max_body_bytes = Setting[int](
        "BCAST_MAX_BODY_BYTES",
        64 * 1024,
        parse.integer(1024, 16 * 1024 * 1024),
        "Largest HTTP request body (SDP offers).",
        metavar="BYTES",
    )
    header_deadline_s = Setting[float](
        "BCAST_HEADER_DEADLINE",
        10.0,
        parse.duration(0.5, 300),
        "How long a request's headers may take to arrive (from the connection opening or "
        "the request's first byte); the connection is then answered 408 and closed.",
        flag="--header-deadline",
        metavar="DURATION",
    )
    body_deadline_s = Setting[float](
        "BCAST_BODY_DEADLINE",
        5.0,
        parse.duration(0.5, 300),
        "How long a request's body may take to arrive once its headers are in (408 after).",
        flag="--body-deadline",
        metavar="DURATION",
    )
    max_connections = Setting[int](
        "BCAST_MAX_CONNECTIONS",
        500,
        parse.integer(2, 100_000),
        "Connections each HTTP server (signalling, admin) holds at once; at the limit a "
        "newcomer replaces an idle or slow one, else it is answered 503.",
        metavar="INTEGER",
    )
    trusted_proxies = Setting[tuple[str, ...]](
        "BCAST_TRUSTED_PROXIES",
        (),
        parse.networks,
        "Comma-separated CIDRs of proxies whose X-Forwarded-For names the client (per-client "
        "limits key on it); on GKE's Gateway: 35.191.0.0/16,130.211.0.0/22 with "
        "--proxy-appends 2. Unset: X-Forwarded-For is ignored.",
        metavar="CIDRS",
    )
    proxy_appends = Setting[int](
        "BCAST_PROXY_APPENDS",
        1,
        parse.integer(1, 4),
        "X-Forwarded-For entries each trusted proxy appends, the client's first: 1 for most "
        "proxies, 2 for Google's load balancer (<client-ip>,<load-balancer-ip>).",
        metavar="INTEGER",
    )
    turn_urls = Setting[tuple[str, ...]](
        "BCAST_TURN_URLS",
        (),
        parse.urls("turn:", "turns:", "stun:"),
        "Comma-separated turn:/stun: URIs for /api/pc-config.",
        metavar="URLS",
    )
    ice_policy = Setting[str](
        "BCAST_ICE_POLICY", "all", parse.choice("all", "relay"), "all | relay."
    )
    turn_user = Setting[str](
        "BCAST_TURN_USER", "bcast", parse.name, "The <user> part of TURN REST user names."
    )
    turn_ttl_s = Setting[int](
        "BCAST_TURN_TTL",
        3600,
        parse.whole_seconds(60, 7 * 86400),
        "How long TURN REST credentials stay valid.",
        flag="--turn-ttl",
        metavar="DURATION",
    )
    dns_server = Setting[tuple[str, int] | None](
        "BCAST_DNS_SERVER",
        None,
        parse.host_port,
        "IP:PORT for /api/diag/resolve and for cluster names in /api/diag/dial "
        "(default: system resolver).",
        metavar="IP:PORT",
    )
    cluster_domain = Setting[str](
        "BCAST_CLUSTER_DOMAIN", "svc.cluster.local", parse.domain, "Cluster DNS domain."
    )
    clusterset_domain = Setting[str](
        "BCAST_CLUSTERSET_DOMAIN",
        "svc.clusterset.local",
        parse.domain,
        "MCS clusterset DNS domain.",
    )
    expected_nodes = Setting[int | None](
        "BCAST_EXPECTED_NODES",
        None,
        parse.integer(1, 10_000),
        "Fleet size; /readyz waits until it sees them all.",
        metavar="INTEGER",
    )
    heartbeat_interval_s = Setting[float](
        "BCAST_HEARTBEAT_INTERVAL",
        0.5,
        parse.duration(0.05, 60),
        "Time between heartbeats.",
        flag="--heartbeat-interval",
        metavar="DURATION",
    )
    peer_timeout_s = Setting[float](
        "BCAST_PEER_TIMEOUT",
        2.0,
        parse.duration(0.2, 600),
        "Time without a heartbeat before a peer is down.",
        flag="--peer-timeout",
        metavar="DURATION",
    )
    media_path = Setting[str](
        "BCAST_MEDIA_PATH",
        "passthrough",
        parse.choice("passthrough", "relay"),
        "passthrough (encoded) | relay (decode + re-encode, MediaRelay).",
    )
    log_level = Setting[str](
        "BCAST_LOG_LEVEL",
        "INFO",
        parse.choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True),
        "DEBUG | INFO | WARNING | ERROR.",
    )
    event_loop = Setting[str](
        "BCAST_EVENT_LOOP",
        "uvloop",
        parse.choice("uvloop", "asyncio"),
        "uvloop (when installed: cheaper per-viewer sending) | asyncio (the standard loop).",
    )
    cluster_secret = Setting[str](
        "BCAST_CLUSTER_SECRET", "", parse.text, "Signs heartbeats (required).", secret=True
    )
    whip_token = Setting[str](
        "BCAST_WHIP_TOKEN",
        "",
        parse.text,
        "Publishers' Bearer token (unset: publishing refused).",
        secret=True,
    )
    turn_secret = Setting[str](
        "BCAST_TURN_SECRET",
        "",
        parse.text,
        "TURN REST shared secret for /api/pc-config credentials.",
        secret=True,
    )
    nats_password = Setting[str](
        "BCAST_NATS_PASSWORD", "", parse.text, "Password of BCAST_NATS_USER on NATS.", secret=True
    )

    def __init__(self, **values: Any) -> None:
        for setting in declared():
            self.__dict__[setting.key] = values.pop(setting.key, setting.default)
        if values:
            raise TypeError(f"not node settings: {', '.join(sorted(values))}")

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self.public_dict().items())
        return f"NodeSettings({shown})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NodeSettings) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to show: secrets reduced to whether they are set."""
        return {
            s.key: bool(self.__dict__[s.key]) if s.secret else self.__dict__[s.key]
            for s in declared()
        }


def declared() -> tuple[Setting[Any], ...]:
    """Every node setting, in declaration order."""
    return tuple(v for v in vars(NodeSettings).values() if isinstance(v, Setting))


def load_settings(
    env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> NodeSettings:
    """Build and validate settings; `overrides` (flag values by key) beat the environment.

    A blank value counts as unset. Secrets are read from `env` only.
    """
    given = {k: str(v) for k, v in (overrides or {}).items() if v is not None}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}  # key -> how to name it in a message
    for setting in declared():
        from_flag = setting.key in given and setting.flag is not None
        raw = given[setting.key] if from_flag else env.get(setting.env)
        if raw is None or (not setting.secret and raw.strip() == ""):
            continue
        source = f"{setting.flag}={raw}" if from_flag else f"{setting.env}={raw!r}"
        sources[setting.key] = str(setting.flag) if from_flag else setting.env
        try:
            values[setting.key] = setting.parse(raw if setting.secret else raw.strip())
        except ValueError as e:
            raise ConfigError(f"{source}: {e}") from None
    _fill_defaults(values)
    settings = NodeSettings(**values)
    _cross_check(settings, lambda s: sources.get(s.key, s.env))
    return settings


def _fill_defaults(values: dict[str, Any]) -> None:
    """Defaults that depend on the machine or on another setting."""
    if "name" not in values:
        import socket  # here, not at module level: `bcastctl --help` lists `node serve`

        values["name"] = socket.gethostname().split(".")[0]
    bind = values.get("bind_address")
    if "advertise_address" not in values and bind not in (None, "0.0.0.0", "::"):
        values["advertise_address"] = bind


def _cross_check(settings: NodeSettings, label: Label) -> None:
    """Rules between settings; `label(setting)` names a setting as the user gave it."""
    s, n = settings, NodeSettings
    if not s.cluster_secret:
        raise ConfigError(
            f"{n.cluster_secret.env} is not set: heartbeats must be signed",
            hint="set it in the environment (from the fleet's cluster Secret), "
            "never on the command line",
        )
    if s.peer_timeout_s <= s.heartbeat_interval_s:
        raise ConfigError(
            f"{label(n.peer_timeout_s)}={s.peer_timeout_s:g}: must be longer than "
            f"{label(n.heartbeat_interval_s)}={s.heartbeat_interval_s:g}"
        )
    if s.turn_urls and not s.turn_secret:
        raise ConfigError(f"{label(n.turn_urls)} is set but {n.turn_secret.env} is not")
    if s.ice_policy == "relay" and not s.turn_urls:
        raise ConfigError(f"{label(n.ice_policy)}=relay needs {label(n.turn_urls)}")
    if s.signalling_port and s.signalling_port == s.admin_port:
        raise ConfigError(
            f"{label(n.signalling_port)} and {label(n.admin_port)} are both {s.admin_port}"
        )
    _check_rtc_ports(s, label)


def _check_rtc_ports(s: NodeSettings, label: Label) -> None:
    n = NodeSettings
    low, high = s.rtc_port_min, s.rtc_port_max
    if low == high == 0:
        return
    if not 1024 <= low <= high <= 65535:
        raise ConfigError(
            f"{label(n.rtc_port_min)}={low}, {label(n.rtc_port_max)}={high}: "
            "need 1024 <= min <= max <= 65535 (or both 0: any port)"
        )
    for declared_port, port in (
        (n.signalling_port, s.signalling_port),
        (n.admin_port, s.admin_port),
    ):
        if low <= port <= high:
            raise ConfigError(
                f"{label(declared_port)}={port} is inside the ICE port range "
                f"{label(n.rtc_port_min)}..{label(n.rtc_port_max)} ({low}-{high})"
            )
