"""The Fleet model: one validated, frozen description of the whole deployment.

Everything downstream (render, deploy, the lab, checks, probes, the node) reads a
Fleet. `load_fleet` turns any problem with the file into a ConfigError whose one
line names the file and the key path (`regions[2].geo.lat: ...`).
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import stat
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta

from bcastctl.errors import ConfigError
from bcastctl.exposure import GatewayExposure, McsGateway, Provider, exposure_problem
from bcastctl.model import FieldError, InvalidData, StrictModel, parse

API_VERSION: Final = "bcastctl.io/v1alpha1"
CLUSTERSET_DOMAIN: Final = "svc.clusterset.local"  # multi-cluster services (MCS) DNS zone

# Patterns end with \Z, not $: Python's `$` also matches before a trailing newline.
# RFC 1123 label, as Kubernetes names and our region names must be.
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z"
Dns1123Label = Annotated[str, Meta(pattern=DNS1123_LABEL, min_length=1, max_length=40)]
# RFC 1123 subdomain: STUNner's GatewayConfig CRD refuses any other realm
# (stunner-gateway-operator config/crd/bases/stunner.l7mp.io_gatewayconfigs.yaml, spec.realm).
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z"
# An OCI image reference as distribution/reference (reference/regexp.go) parses it:
# [registry[:port]/]path[:tag][@digest], lower-case path components.
_HOST_PART = r"[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_HOST_PART}(\.{_HOST_PART})*(:[0-9]+)?"
_PATH = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
IMAGE_REFERENCE = (
    rf"^(({_DOMAIN})/)?{_PATH}(/{_PATH})*(:[\w][\w.-]{{0,127}})?"
    r"(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?\Z"
)
ImageReference = Annotated[str, Meta(pattern=IMAGE_REFERENCE, min_length=1, max_length=255)]
Port = Annotated[int, Meta(ge=1, le=65535)]
NonEmpty = Annotated[str, Meta(min_length=1)]
MAX_FLEET_BYTES: Final = 1024 * 1024
MAX_HOST_NAME: Final = 253  # RFC 1123 / Gateway API Hostname


class GkeCluster(StrictModel):
    project: NonEmpty
    location: NonEmpty
    cluster: NonEmpty


class ClusterRef(StrictModel):
    """Where a region runs: a kube context (any distribution) or a GKE cluster."""

    context: str | None = None
    kubeconfig: str | None = None
    gke: GkeCluster | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.context is not None and self.gke is not None:
            raise ValueError("set either context or gke, not both")


class Geo(StrictModel):
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]


class Region(StrictModel):
    name: Dns1123Label
    cluster: ClusterRef = ClusterRef()
    geo: Geo
    replicas: Annotated[int, Meta(ge=1, le=1000)] = 2
    turn_address: str | None = None
    # the cloud the region runs on: its load balancers' annotations (bcastctl/exposure.py)
    provider: Provider = "gke"
    # how the other regions reach this region's NATS gateway
    gateway: GatewayExposure = McsGateway()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.turn_address is not None:
            try:
                ipaddress.ip_address(self.turn_address)
            except ValueError:
                raise FieldError(
                    "turn_address", f"not an IP address: {self.turn_address!r}"
                ) from None


class Secrets(StrictModel):
    """Names of Kubernetes Secrets (key `secret`) the manifests reference; never values."""

    turn: Dns1123Label = "bcast-turn-secret"
    cluster: Dns1123Label = "bcast-cluster-secret"
    whip_token: Dns1123Label = "bcast-whip-token"
    nats_system: Dns1123Label = "bcast-nats-system"
    nats_node: Dns1123Label = "bcast-nats-node"  # password of the region's node users
    nats_monitor: Dns1123Label = "bcast-nats-monitor"  # password of the read-only user
    nats_gateway: Dns1123Label = "bcast-nats-gateway"  # gateways authenticate with it
    monitor_kubeconfig: Dns1123Label = "bcast-monitor-kubeconfig"  # used when monitor.enabled

    def names(self) -> list[str]:
        """Every Secret name, in field order."""
        return [getattr(self, field) for field in self.__struct_fields__]


class NodeSpec(StrictModel):
    """The broadcaster node's ports and limits, as deployed."""

    signalling_port: Port = 8080
    admin_port: Port = 9090
    max_sessions: Annotated[int, Meta(ge=1, le=10_000)] = 200
    # The UDP range the node binds ICE to: the NetworkPolicy admits exactly this range.
    rtc_port_min: Annotated[int, Meta(ge=1024, le=65535)] = 10000
    rtc_port_max: Annotated[int, Meta(ge=1024, le=65535)] = 10999
    # How long a stopping node keeps its live sessions (BCAST_DRAIN_DEADLINE); the pod's
    # preStop waits for the drain and terminationGracePeriodSeconds covers it.
    drain_deadline_s: Annotated[int, Meta(ge=0, le=3600)] = 30

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.signalling_port == self.admin_port:
            raise ValueError(f"signalling_port and admin_port are both {self.admin_port}")
        if self.rtc_port_min > self.rtc_port_max:
            raise ValueError(
                f"rtc_port_min {self.rtc_port_min} is above rtc_port_max {self.rtc_port_max}"
            )
        for name in ("signalling_port", "admin_port"):
            port = getattr(self, name)
            if self.rtc_port_min <= port <= self.rtc_port_max:
                raise ValueError(
                    f"{name} {port} lies in the media range {self.rtc_port_min}-{self.rtc_port_max}"
                )


class GatewayTls(StrictModel):
    """Mutual TLS on the NATS gateways, where they cross networks: a `kubernetes.io/tls`
    Secret (keys tls.crt, tls.key, ca.crt) of this name in every region; each region's
    certificate must name every address the others dial (bcastctl/exposure.py): its
    clusterset name, its node addresses or its load balancer's address. Required when a
    region's gateway is on a public load balancer."""

    secret: Dns1123Label


class Nats(StrictModel):
    image: ImageReference = "nats:2.10.24-alpine"
    gateway_tls: GatewayTls | None = None
    client_port: Port = 4222
    cluster_port: Port = 6222
    gateway_port: Port = 7222
    monitor_port: Port = 8222
    cluster_size: Annotated[int, Meta(ge=1, le=15)] = 3


class Listener(StrictModel):
    name: Dns1123Label
    protocol: Literal["TURN-UDP", "TURN-TCP", "TURN-TLS", "TURN-DTLS"]
    port: Port


class Stunner(StrictModel):
    realm: Annotated[str, Meta(pattern=DNS1123_SUBDOMAIN, max_length=253)] = "stunner.l7mp.io"
    # Nodes hand out TURN REST (ephemeral) credentials from /api/pc-config; STUNner must
    # check them the same way, so no other type can work.
    auth_type: str = "ephemeral"
    gateway_class: Dns1123Label = "stunner-gatewayclass"
    listeners: Annotated[list[Listener], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: [
            Listener(name="turn-udp", protocol="TURN-UDP", port=3478),
            Listener(name="turn-tcp", protocol="TURN-TCP", port=3478),
        ]
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.auth_type != "ephemeral":
            raise FieldError(
                "auth_type",
                f"{self.auth_type!r} cannot work: nodes hand out TURN REST credentials, "
                "which STUNner checks only with 'ephemeral'",
            )


class Rollout(StrictModel):
    order: list[str] | None = None
    canary: str | None = None
    parallelism: Annotated[int, Meta(ge=1)] = 1
    timeout_s: Annotated[float, Meta(gt=0)] = 600


class Signalling(StrictModel):
    """The public HTTPS entry for WHIP/WHEP: one global host name that sends each client
    to the nearest healthy region (on GKE a multi-cluster Gateway in `config_region`, the
    fleet's config cluster, with an HTTPRoute to every region's exported signalling
    Service), TLS from a Certificate Manager certificate map holding a Google-managed
    certificate for `host` (and `<region>.<host>` when `region_hosts`)."""

    host: Annotated[str, Meta(pattern=DNS1123_SUBDOMAIN, max_length=MAX_HOST_NAME)]
    config_region: str
    certificate_map: Dns1123Label
    region_hosts: bool = False
    gateway_class: Annotated[str, Meta(pattern=DNS1123_LABEL)] = "gke-l7-global-external-managed-mc"


class Dns(StrictModel):
    project: NonEmpty
    zone: NonEmpty
    record: NonEmpty  # fully qualified name, e.g. turn.example.com.
    ttl: Annotated[int, Meta(ge=1)] = 60


class LabLink(StrictModel):
    between: Annotated[list[str], Meta(min_length=2, max_length=2)]  # two region names
    one_way_ms: Annotated[float, Meta(ge=0, le=10_000)]


class Lab(StrictModel):
    latency: list[LabLink] = []
    default_one_way_ms: Annotated[float, Meta(ge=0, le=10_000)] = 0
    # first two octets of lab addresses
    loopback_prefix: Annotated[str, Meta(pattern=r"^127\.\d{1,3}\Z")] = "127.77"


class Monitor(StrictModel):
    """`bcastctl monitor` as a Deployment of the fleet (rendered when enabled) and its alerts."""

    enabled: bool = False
    region: str | None = None  # where the one monitor Deployment runs; default: the first region
    interval_s: Annotated[float, Meta(ge=1, le=3600)] = 30
    rtt_budget_ms: Annotated[float, Meta(gt=0, le=10_000)] = 250  # alert when a pair's p50 is over
    failing_intervals: Annotated[int, Meta(ge=1, le=1000)] = 3  # alert when a check fails this long
    port: Port = 9100


class Fleet(StrictModel):
    apiVersion: Literal["bcastctl.io/v1alpha1"] = API_VERSION  # the YAML key
    kind: Literal["Fleet"] = "Fleet"
    name: Dns1123Label
    namespace: Dns1123Label = "broadcaster"
    image: ImageReference
    regions: Annotated[list[Region], Meta(min_length=1)]
    secrets: Secrets = Secrets()
    node: NodeSpec = NodeSpec()
    nats: Nats = Nats()
    stunner: Stunner = Stunner()
    rollout: Rollout = Rollout()
    dns: Dns | None = None
    signalling: Signalling | None = None
    lab: Lab = Lab()
    monitor: Monitor = Monitor()

    def __post_init__(self) -> None:
        super().__post_init__()
        problem = _first_cross_reference_problem(self)
        if problem:
            raise ValueError(problem)

    @property
    def region_names(self) -> list[str]:
        return [region.name for region in self.regions]

    def region(self, name: str) -> Region:
        for region in self.regions:
            if region.name == name:
                return region
        raise ConfigError(
            f"unknown region {name!r}",
            hint=f"regions in this fleet: {', '.join(self.region_names)}",
        )

    def rollout_order(self) -> list[str]:
        """Regions in rollout order, canary first."""
        order = list(self.rollout.order or self.region_names)
        order += [name for name in self.region_names if name not in order]
        if self.rollout.canary:
            order.remove(self.rollout.canary)
            order.insert(0, self.rollout.canary)
        return order

    def one_way_ms(self, a: str, b: str) -> float:
        """The lab's configured one-way latency between two regions."""
        for link in self.lab.latency:
            if set(link.between) == {a, b}:
                return link.one_way_ms
        return self.lab.default_one_way_ms

    def clusterset_names(self, region: str) -> dict[str, str]:
        """The MCS names of a region's exported services: role -> fqdn."""
        domain = f"{self.namespace}.{CLUSTERSET_DOMAIN}"
        return {
            "nats-gateway": f"{region}-nats-gateway.{domain}",
            "broadcaster": f"{region}-broadcaster-headless.{domain}",
        }

    def signalling_gateway(self) -> str:
        """The name of the multi-cluster Gateway of the public signalling entry."""
        return f"{self.name}-signalling"

    def signalling_routes(self) -> list[str]:
        """The entry's HTTPRoutes: the global host, then one per region host."""
        names = [self.signalling_gateway()]
        if self.signalling is not None and self.signalling.region_hosts:
            names += [f"{self.signalling_gateway()}-{region}" for region in self.region_names]
        return names

    def region_pairs(self) -> list[tuple[str, str]]:
        """Unordered region pairs in fleet order."""
        return list(itertools.combinations(self.region_names, 2))


def _first_cross_reference_problem(fleet: Fleet) -> str | None:
    names = fleet.region_names
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            return f"regions[{index}].name: duplicate region {name!r}"
        seen.add(name)
    for index, name in enumerate(fleet.rollout.order or []):
        if name not in seen:
            return f"rollout.order[{index}]: unknown region {name!r}"
    if fleet.rollout.canary is not None and fleet.rollout.canary not in seen:
        return f"rollout.canary: unknown region {fleet.rollout.canary!r}"
    pairs: set[frozenset[str]] = set()
    for index, link in enumerate(fleet.lab.latency):
        for side, name in enumerate(link.between):
            if name not in seen:
                return f"lab.latency[{index}].between[{side}]: unknown region {name!r}"
        pair = frozenset(link.between)
        if len(pair) == 1:
            return f"lab.latency[{index}].between: a region cannot link to itself"
        if pair in pairs:
            return f"lab.latency[{index}].between: pair given twice"
        pairs.add(pair)
    if fleet.monitor.region is not None and fleet.monitor.region not in seen:
        return f"monitor.region: unknown region {fleet.monitor.region!r}"
    if fleet.signalling is not None and fleet.signalling.config_region not in seen:
        return f"signalling.config_region: unknown region {fleet.signalling.config_region!r}"
    if fleet.signalling is not None and fleet.signalling.region_hosts:
        # Gateway API Hostname: at most 253 characters (HTTPRoute spec.hostnames[])
        longest = max(names, key=len)
        host = f"{longest}.{fleet.signalling.host}"
        if len(host) > MAX_HOST_NAME:
            return (
                f"signalling.host: with region_hosts, {longest}'s host name is {len(host)}"
                f" characters; a host name has at most {MAX_HOST_NAME}"
            )
    listener_names = [listener.name for listener in fleet.stunner.listeners]
    if len(set(listener_names)) != len(listener_names):
        return "stunner.listeners: listener names must be unique"
    return exposure_problem(fleet)


def parse_fleet(data: Any, source: str = "<fleet>") -> Fleet:
    """Validate already-parsed YAML data; errors name `source` and the key path."""
    if data is None:
        raise ConfigError(f"{source}: empty file, expected a fleet mapping")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top, got {type(data).__name__}")
    try:
        return parse(Fleet, data)
    except InvalidData as e:
        raise ConfigError(f"{source}: {e}") from e


def _read_fleet_text(path: Path) -> str:
    """The file's text: a regular file, bounded in size, never a FIFO or device to block on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: fleet file not found",
            hint="pass --fleet FILE, set BCASTCTL_FLEET, or see examples/fleet.yaml",
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read fleet file: {e.strerror}") from e
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"{path}: cannot read fleet file: not a regular file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(MAX_FLEET_BYTES + 1)
        except OSError as e:
            raise ConfigError(f"{path}: cannot read fleet file: {e.strerror}") from e
    if len(data) > MAX_FLEET_BYTES:
        raise ConfigError(f"{path}: fleet file is larger than {MAX_FLEET_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from e


def load_fleet(path: str | Path) -> Fleet:
    """Read and validate a fleet file."""
    import yaml

    from bcastctl.yamlsafe import DuplicateKeyError, safe_load_unique

    path = Path(path)
    text = _read_fleet_text(path)
    try:
        data = safe_load_unique(text)
    except DuplicateKeyError as e:
        raise ConfigError(f"{path}:{e.line}:{e.column}: duplicate key {e.key!r}") from e
    except RecursionError as e:
        # the pure-Python parser's limit; libyaml's is a YAMLError with the same words
        raise ConfigError(f"{path}: YAML syntax error: exceeded maximum nesting depth") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}{where}: YAML syntax error: {problem}") from e
    return parse_fleet(data, str(path))
