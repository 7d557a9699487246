"""The node's settings: environment (protocol.NodeEnv) first, CLI flags override.

Validation happens once at start; every problem is one line naming the setting
(its env var) and the value, raised as ConfigError (exit 3). Secrets come only
from the environment and are kept out of repr() so they never reach logs.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from bcastctl.errors import ConfigError
from bcastctl.protocol import NodeEnv

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
T = TypeVar("T")


@dataclass(frozen=True)
class NodeSettings:
    name: str
    region: str
    fleet: str = "bcast"
    lat: float = 0.0
    lon: float = 0.0
    nats_urls: tuple[str, ...] = ("nats://127.0.0.1:4222",)
    bind_address: str = "0.0.0.0"
    advertise_address: str = "127.0.0.1"
    signalling_port: int = 8080
    admin_port: int = 9090
    max_sessions: int = 200
    turn_urls: tuple[str, ...] = ()
    ice_policy: str = "all"
    turn_user: str = "bcast"
    turn_ttl_s: int = 3600
    dns_server: tuple[str, int] | None = None
    cluster_domain: str = "svc.cluster.local"
    clusterset_domain: str = "svc.clusterset.local"
    expected_nodes: int | None = None
    heartbeat_interval_s: float = 0.5
    peer_timeout_s: float = 2.0
    media_path: str = "passthrough"
    log_level: str = "INFO"
    max_body_bytes: int = 64 * 1024
    cluster_secret: str = field(default="", repr=False)
    whip_token: str = field(default="", repr=False)
    turn_secret: str = field(default="", repr=False)

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to show: secrets reduced to whether they are set."""
        shown: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            shown[f.name] = bool(value) if f.name.endswith(("secret", "token")) else value
        return shown


FLAGS = {
    "name": "--name",
    "region": "--region",
    "fleet": "--fleet",
    "lat": "--lat",
    "lon": "--lon",
    "nats_urls": "--nats-url",
    "bind_address": "--bind",
    "advertise_address": "--advertise",
    "signalling_port": "--signalling-port",
    "admin_port": "--admin-port",
    "max_sessions": "--max-sessions",
    "turn_urls": "--turn-urls",
    "ice_policy": "--ice-policy",
    "dns_server": "--dns-server",
    "expected_nodes": "--expected-nodes",
    "heartbeat_interval_s": "--heartbeat-interval",
    "peer_timeout_s": "--peer-timeout",
    "media_path": "--media-path",
    "log_level": "--log-level",
}


def _env_or(overrides: Mapping[str, Any], env: Mapping[str, str], key: str, var: str) -> Any:
    value = overrides.get(key)
    if value is not None:
        return value
    return env.get(var)


def _parse(var: str, raw: str, convert: Callable[[str], T], what: str) -> T:
    try:
        return convert(raw)
    except (ValueError, TypeError):
        raise ConfigError(f"{var}={raw!r}: expected {what}") from None


def _number(var: str, raw: Any, low: float, high: float, kind: type = float) -> Any:
    value = _parse(var, str(raw), kind, "an integer" if kind is int else "a number")
    if not low <= value <= high:
        raise ConfigError(f"{var}={raw!r}: must be between {low:g} and {high:g}")
    return value


def _address(var: str, raw: str) -> str:
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise ConfigError(f"{var}={raw!r}: expected an IP address") from None


def _urls(var: str, raw: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    for url in urls:
        if not url.startswith(schemes):
            raise ConfigError(f"{var}: {url!r} must start with {' or '.join(schemes)}")
    return urls


def _host_port(var: str, raw: str) -> tuple[str, int]:
    host, _, port = raw.rpartition(":")
    if not host:
        host, port = raw, "53"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"{var}={raw!r}: expected IP:PORT") from None
    return host, int(_number(var, port, 1, 65535, int))


def _name(var: str, raw: str) -> str:
    if not NAME_PATTERN.match(raw):
        raise ConfigError(
            f"{var}={raw!r}: use letters, digits, '-' or '_' (max 63), "
            "starting with a letter or digit"
        )
    return raw


def load_settings(
    env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> NodeSettings:
    """Build and validate settings; `overrides` (from CLI flags) beat the environment."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return _load(env, given)
    except ConfigError as e:
        # a bad value that came from a flag is named by its flag, not its env var
        var, sep, rest = e.message.partition("=")
        key = next((k for k, v in vars(NodeEnv).items() if v == var), "").lower()
        flag = FLAGS.get(_KEYS.get(key, ""), "")
        if sep and flag and _KEYS.get(key) in given:
            raise ConfigError(f"{flag}={rest}", hint=e.hint) from None
        raise


_KEYS = {  # NodeEnv attribute (lower case) -> settings key, where they differ
    "name": "name",
    "region": "region",
    "fleet": "fleet",
    "lat": "lat",
    "lon": "lon",
    "nats_url": "nats_urls",
    "bind_address": "bind_address",
    "advertise_address": "advertise_address",
    "signalling_port": "signalling_port",
    "admin_port": "admin_port",
    "max_sessions": "max_sessions",
    "turn_urls": "turn_urls",
    "ice_policy": "ice_policy",
    "dns_server": "dns_server",
    "expected_nodes": "expected_nodes",
    "heartbeat_interval": "heartbeat_interval_s",
    "peer_timeout": "peer_timeout_s",
    "media_path": "media_path",
    "log_level": "log_level",
}


def _load(env: Mapping[str, str], given: dict[str, Any]) -> NodeSettings:

    def get(key: str, var: str) -> Any:
        return _env_or(given, env, key, var)

    name = get("name", NodeEnv.NAME) or socket.gethostname().split(".")[0]
    values: dict[str, Any] = {
        "name": _name(NodeEnv.NAME, str(name)),
        "region": _name(NodeEnv.REGION, str(get("region", NodeEnv.REGION) or "default")),
        "fleet": _name(NodeEnv.FLEET, str(get("fleet", NodeEnv.FLEET) or "bcast")),
    }
    _numbers(get, values)
    _network(get, values)
    _choices(get, values)
    values["cluster_secret"] = env.get(NodeEnv.CLUSTER_SECRET, "")
    values["whip_token"] = env.get(NodeEnv.WHIP_TOKEN, "")
    values["turn_secret"] = env.get(NodeEnv.TURN_SECRET, "")
    settings = NodeSettings(**values)
    _cross_check(settings)
    return settings


def _numbers(get: Callable[[str, str], Any], values: dict[str, Any]) -> None:
    numeric = (
        ("lat", NodeEnv.LAT, -90, 90, float),
        ("lon", NodeEnv.LON, -180, 180, float),
        ("signalling_port", NodeEnv.SIGNALLING_PORT, 0, 65535, int),
        ("admin_port", NodeEnv.ADMIN_PORT, 0, 65535, int),
        ("max_sessions", NodeEnv.MAX_SESSIONS, 1, 100_000, int),
        ("expected_nodes", NodeEnv.EXPECTED_NODES, 1, 10_000, int),
        ("heartbeat_interval_s", NodeEnv.HEARTBEAT_INTERVAL, 0.05, 60, float),
        ("peer_timeout_s", NodeEnv.PEER_TIMEOUT, 0.2, 600, float),
        ("turn_ttl_s", NodeEnv.TURN_TTL, 60, 7 * 86400, int),
    )
    for key, var, low, high, kind in numeric:
        raw = get(key, var)
        if raw is not None and str(raw).strip() != "":
            values[key] = _number(var, raw, low, high, kind)


def _network(get: Callable[[str, str], Any], values: dict[str, Any]) -> None:
    if raw := get("nats_urls", NodeEnv.NATS_URL):
        values["nats_urls"] = _urls(NodeEnv.NATS_URL, str(raw), ("nats://", "tls://"))
        if not values["nats_urls"]:
            raise ConfigError(f"{NodeEnv.NATS_URL}: no URL given")
    if raw := get("bind_address", NodeEnv.BIND_ADDRESS):
        values["bind_address"] = _address(NodeEnv.BIND_ADDRESS, str(raw))
    if raw := get("advertise_address", NodeEnv.ADVERTISE_ADDRESS):
        values["advertise_address"] = _address(NodeEnv.ADVERTISE_ADDRESS, str(raw))
    elif "bind_address" in values and values["bind_address"] not in ("0.0.0.0", "::"):
        values["advertise_address"] = values["bind_address"]
    if raw := get("turn_urls", NodeEnv.TURN_URLS):
        values["turn_urls"] = _urls(NodeEnv.TURN_URLS, str(raw), ("turn:", "turns:", "stun:"))
    if raw := get("dns_server", NodeEnv.DNS_SERVER):
        values["dns_server"] = _host_port(NodeEnv.DNS_SERVER, str(raw))
    for key, var in (
        ("cluster_domain", NodeEnv.CLUSTER_DOMAIN),
        ("clusterset_domain", NodeEnv.CLUSTERSET_DOMAIN),
    ):
        if raw := get(key, var):
            values[key] = str(raw).strip(".").lower()
    if raw := get("turn_user", NodeEnv.TURN_USER):
        values["turn_user"] = _name(NodeEnv.TURN_USER, str(raw))


def _choices(get: Callable[[str, str], Any], values: dict[str, Any]) -> None:
    choices = (
        ("ice_policy", NodeEnv.ICE_POLICY, ("all", "relay")),
        ("media_path", NodeEnv.MEDIA_PATH, ("passthrough", "relay")),
        ("log_level", NodeEnv.LOG_LEVEL, ("DEBUG", "INFO", "WARNING", "ERROR")),
    )
    for key, var, allowed in choices:
        raw = get(key, var)
        if raw is None or str(raw).strip() == "":
            continue
        value = str(raw).strip()
        value = value.upper() if key == "log_level" else value.lower()
        if value not in allowed:
            raise ConfigError(f"{var}={raw!r}: expected one of {', '.join(allowed)}")
        values[key] = value


def _cross_check(settings: NodeSettings) -> None:
    if not settings.cluster_secret:
        raise ConfigError(
            f"{NodeEnv.CLUSTER_SECRET} is not set: heartbeats must be signed",
            hint="set it in the environment (from the fleet's cluster Secret), "
            "never on the command line",
        )
    if settings.peer_timeout_s <= settings.heartbeat_interval_s:
        raise ConfigError(
            f"{NodeEnv.PEER_TIMEOUT}={settings.peer_timeout_s:g}: must be longer than "
            f"{NodeEnv.HEARTBEAT_INTERVAL}={settings.heartbeat_interval_s:g}"
        )
    if settings.turn_urls and not settings.turn_secret:
        raise ConfigError(f"{NodeEnv.TURN_URLS} is set but {NodeEnv.TURN_SECRET} is not")
    if settings.ice_policy == "relay" and not settings.turn_urls:
        raise ConfigError(f"{NodeEnv.ICE_POLICY}=relay needs {NodeEnv.TURN_URLS}")
    if settings.signalling_port and settings.signalling_port == settings.admin_port:
        raise ConfigError(
            f"{NodeEnv.SIGNALLING_PORT} and {NodeEnv.ADMIN_PORT} are both {settings.admin_port}"
        )
