"""Wire contracts shared by the node, the lab, render and the checks.

- (The environment variables the node reads are declared with its settings, in
  node/settings.py: `NodeSettings.<setting>.env`.)
- NATS subjects the node uses (membership, registry, media relay, RTT echo).
- The JSON shapes of the node's admin API that checks and probes read.

Secrets travel only in environment variables (never argv, never logs).
"""

from __future__ import annotations

from typing import Final, NotRequired, TypedDict

PROTOCOL_VERSION: Final = 2  # 2: heartbeats carry seq; subjects name the node


# NATS users besides the nodes (each node's user is its name; render/nats_config.py)
NATS_MONITOR_USER: Final = "bcastctl"  # read-only, for tools
NATS_SYSTEM_USER: Final = "sys"  # the system account ($SYS monitoring)


def subject_prefix(fleet: str) -> str:
    return f"bcast.{fleet}"


def heartbeat_subject(fleet: str, region: str, node: str) -> str:
    """A node's own heartbeat subject: NATS permissions let only that node publish here, and
    receivers refuse a beat whose signed region and name differ from its subject's."""
    return f"{subject_prefix(fleet)}.hb.{region}.{node}"


def rtt_subject(fleet: str, node: str) -> str:
    """A node answers RTT echo requests here (request/reply through the gateways)."""
    return f"{subject_prefix(fleet)}.rtt.{node}"


def call_subject(fleet: str, node: str) -> str:
    """A node serves signalling requests other nodes forward to it here (request/reply):
    a DELETE/PATCH of a resource it holds, a WHIP/WHEP offer placed on it (node/routing.py)."""
    return f"{subject_prefix(fleet)}.call.{node}"


class NodeIdentity(TypedDict):
    name: str
    region: str
    address: str
    lat: float
    lon: float
    version: str


class MemberView(TypedDict):
    name: str
    region: str
    address: str
    sessions: int
    max_sessions: int
    cpu: float
    last_seen_ms: float  # milliseconds since the last heartbeat
    draining: NotRequired[bool]  # told to drain: takes no new session


class RejectedPeer(TypedDict):
    name: str
    region: str
    reason: str  # e.g. "bad signature (cluster secret mismatch)"
    count: int


class RegistryEntry(TypedDict):
    node: str
    region: str


class NodeLoad(TypedDict):
    """A node's own load, as placement sees it (node/placement.py)."""

    sessions: int
    max_sessions: int
    cpu: float  # 1.0 = one core
    draining: bool
    drain_left_s: float  # while draining: seconds to its deadline (0: past it)


class ClusterView(TypedDict):
    """GET /api/cluster on the admin port."""

    node: NodeIdentity
    load: NotRequired[NodeLoad]  # absent from a node of an older version
    nats_connected: bool
    members: list[MemberView]  # every OTHER live node (Erlang's Node.list())
    rejected: list[RejectedPeer]
    registry: dict[str, RegistryEntry]  # stream id -> holder


class RttSamples(TypedDict):
    """GET /api/diag/rtt?peer=<node>&n=<count>&interval_ms=<ms> on the admin port."""

    peer: str
    samples_ms: list[float]  # one per answered request
    lost: int  # requests that timed out


class ResolveAnswer(TypedDict):
    """GET /api/diag/resolve?name=<fqdn> on the admin port."""

    name: str
    addresses: list[str]
    error: str | None


class DialAnswer(TypedDict):
    """GET /api/diag/dial?addr=<host>:<port> on the admin port: a TCP connect from the node."""

    addr: str
    connected: bool
    ms: float | None  # connect time, when connected
    error: str | None
    # with tls=nats: the certificate a NATS gateway with TLS presented (PEM, public; not
    # verified by the node), or None with the TLS problem in tls_error
    certificate: NotRequired[str | None]
    tls_error: NotRequired[str | None]


# --- appended by the node (media relay, registry and client config) ---


def heartbeat_wildcard(fleet: str) -> str:
    """Every node subscribes here: membership is fleet-wide, across the gateways."""
    return f"{subject_prefix(fleet)}.hb.*.*"


def media_subject(fleet: str, holder: str, stream: str, kind: str) -> str:
    """Encoded frames of one track (kind: "video" | "audio") of a stream `holder` publishes.

    The holder's name is in the subject, so NATS permissions let a node publish media only
    under its own name, and a relaying node listens only under the registry's holder."""
    return f"{subject_prefix(fleet)}.media.{holder}.{stream}.{kind}"


def interest_subject(fleet: str, holder: str, stream: str) -> str:
    """Relaying nodes renew their interest here; the holder publishes frames only meanwhile."""
    return f"{subject_prefix(fleet)}.want.{holder}.{stream}"


def keyframe_subject(fleet: str, holder: str, stream: str) -> str:
    """Relaying nodes ask the stream's holder for a keyframe here."""
    return f"{subject_prefix(fleet)}.kf.{holder}.{stream}"


class StreamClaim(TypedDict):
    """One published stream in a heartbeat: its tracks' codecs and when it was claimed."""

    tracks: dict[str, str]  # kind -> mimeType, e.g. {"video": "video/VP8"}
    since: float  # unix time of the claim; the earliest claim wins a conflict
    passthrough: bool  # False: the holder decodes (MediaRelay) and relays a re-encode


class HeartbeatBody(TypedDict):
    """The signed part of a heartbeat on heartbeat_subject(fleet, region)."""

    v: int
    name: str
    region: str
    address: str
    lat: float
    lon: float
    sessions: int
    max_sessions: int
    cpu: float
    version: str
    boot: str  # per process start, ordered: "<start ns, 20 digits>-<random>"; newer sorts later
    seq: int  # +1 per beat within a boot: receivers refuse a (boot, seq) not newer than the last
    sent: float  # unix time; receivers refuse beats outside their freshness window
    streams: dict[str, StreamClaim]
    # placement (node/placement.py); absent from a node of an older version
    draining: NotRequired[bool]  # the node takes no new session
    public_url: NotRequired[str]  # its region's public signalling URL ("" = none)
    relays: NotRequired[list[str]]  # streams it relays from other nodes (a WAN copy here)


class Heartbeat(TypedDict):
    body: str  # the JSON of a HeartbeatBody, exactly as signed
    sig: str  # hex HMAC-SHA256(cluster secret, body)


class IceServer(TypedDict, total=False):
    urls: list[str]
    username: str
    credential: str


class PcConfig(TypedDict):
    """GET /api/pc-config on the signalling port (RTCConfiguration for clients)."""

    iceServers: list[IceServer]
    iceTransportPolicy: str


class PublicNode(TypedDict):
    name: str
    url: str  # the node's signalling origin, e.g. "http://10.0.0.7:8080"


class PublicRegion(TypedDict):
    name: str
    nodes: list[PublicNode]


class RegionsView(TypedDict):
    """GET /api/regions on the signalling port: where a player may (re)connect.

    `node` is the node that answered; `regions` lists every live node (itself included)
    by region, for the client-side RTT election (lowest mean round trip wins)."""

    node: str
    region: str
    regions: list[PublicRegion]


class StreamStatus(TypedDict):
    """GET /api/streams/<id> on the signalling port: is the stream published right now?

    A player whose frames stopped asks its node: no answer means the node is gone
    (reconnect elsewhere); `held: false` means the publisher is away (keep the session)."""

    stream: str
    held: bool
    node: str | None  # the holder
    region: str | None


REGIONS_PATH = "/api/regions"
STREAMS_PATH = "/api/streams"
