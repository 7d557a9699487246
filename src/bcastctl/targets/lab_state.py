"""The lab's state file, as every later command reads it (`lab status`, verify, probe).

`bcastctl lab up` writes `<state dir>/state.json` (a LabState) and a 0600
`<state dir>/secrets.json` (LabSecrets). The state holds addresses, ports and pids;
it never holds a secret, so it is safe to print or emit as JSON. Secrets are read
separately with `load_lab_secrets`, and their repr is masked.

The state dir is `--state-dir`, else `BCASTCTL_LAB_DIR`, else `.bcastctl/lab` under
the current directory (`default_state_dir`).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Final, Literal

import msgspec

from bcastctl.errors import ConfigError
from bcastctl.model import InvalidData, Secret, StrictModel, parse, parse_json

STATE_FILE: Final = "state.json"
SECRETS_FILE: Final = "secrets.json"
STATE_VERSION: Final = 1
GATEWAY_CA_FILE = "gateway-tls/ca.crt"  # under the state dir: the CA of the lab's gateway TLS
LAB_DIR_ENV: Final = "BCASTCTL_LAB_DIR"
LAB_ID_ENV: Final = "BCASTCTL_LAB_ID"


class ProcessState(StrictModel):
    """One process the lab started; `down` kills its process group by pid."""

    role: str  # "nats", "node", "linkd", "dns", "turn", "monitor"
    name: str  # e.g. "nats-us-east5", "us-east5-0"
    pid: int
    log_file: str
    # How to start it again (`lab fault restart-*`): argv and environment hold no secret;
    # secret_env maps an environment variable to the Secret reference ("name/key", as the
    # rendered secretKeyRef names it) whose generated value fills it.
    argv: list[str] = []
    env: dict[str, str] = {}
    secret_env: dict[str, str] = {}


class DelayLinkState(StrictModel):
    """A userspace TCP proxy: `from_region`'s gateway dials `to_region` through it.

    Both directions of every connection through it are delayed by `one_way_ms`
    (so a round trip gains 2 x one_way_ms).
    """

    from_region: str
    to_region: str
    listen: str  # host:port the dialling gateway connects to
    target: str  # host:port of to_region's gateway listener
    one_way_ms: float  # as configured in the fleet file
    current_one_way_ms: float  # after `lab fault slow-link`; equal to one_way_ms otherwise

    @property
    def name(self) -> str:
        return f"{self.from_region}->{self.to_region}"


class NodeState(StrictModel):
    name: str  # e.g. us-east5-0
    region: str
    advertise_address: str  # its own 127.x address (ICE host candidate too)
    signalling_url: str  # http://addr:port (WHIP/WHEP/pc-config)
    admin_url: str  # http://addr:port (healthz, readyz, api/cluster, diag)
    pid: int | None  # None only if the node could not be started


class RegionState(StrictModel):
    name: str
    index: int  # position in the fleet file
    nats_client_url: str  # nats://host:port
    nats_monitor_url: str  # http://host:port (/varz, /gatewayz, ...)
    nats_gateway_listen: str  # host:port, where the other regions' links deliver
    nats_pid: int | None
    links: list[DelayLinkState]  # outbound: this region dialling each other region
    nodes: list[NodeState]


class DnsState(StrictModel):
    address: str  # host:port, UDP (and TCP)
    pid: int | None
    domains: list[str]  # zones it answers, e.g. svc.clusterset.local


class TurnState(StrictModel):
    address: str | None  # host:port (UDP and TCP) or None when TURN is not running
    urls: list[str]  # turn: URIs handed to the nodes
    realm: str | None
    pid: int | None
    reason: str | None  # why address is None, in plain words
    secret_ref: str | None = None  # "name/key" of the TURN REST shared secret (GatewayConfig)


class LinkdState(StrictModel):
    """The one process that runs every delay link, and its control socket."""

    pid: int | None
    control_socket: str


class LabDifference(StrictModel):
    """One way the lab departs from the rendered objects: substituted, or not honoured."""

    kind: Literal["substituted", "not honoured"]
    region: str | None  # None for fleet-wide objects
    where: str  # e.g. "nats.conf gateway.advertise", "env BCAST_NATS_URL", "NetworkPolicy x"
    rendered: str  # the rendered value (never a secret: secrets are references)
    lab: str  # what the lab runs instead ("" when not honoured)
    why: str


class LabState(StrictModel):
    version: Literal[1] = STATE_VERSION
    fleet_name: str
    namespace: str
    fleet_path: str
    state_dir: str
    loopback_prefix: str  # e.g. 127.77: every address of this lab is under it
    secrets_file: str  # 0600 JSON with the lab's generated secrets (never printed)
    started_at: float  # unix time
    ready_after_s: float | None  # seconds `up` took to reach ready, None if not reached
    regions: list[RegionState]
    dns: DnsState
    turn: TurnState
    linkd: LinkdState
    processes: list[ProcessState]
    with_nodes: bool = True  # False after `lab up --no-nodes` (NATS, links, DNS, TURN only)
    endpoints: list[str] = []  # every "tcp|udp:host:port" the lab binds; `down` checks them
    lab_id: str = ""  # in every lab process's environment (LAB_ID_ENV): finds strays by id
    rendered_from: str = ""  # "fleet" (render's objects) or the render output directory
    differences: list[LabDifference] = []  # every substitution and what the lab cannot honour
    whip_token_ref: str = ""  # "name/key" of the Secret the nodes' WHIP token comes from

    def region(self, name: str) -> RegionState:
        for region in self.regions:
            if region.name == name:
                return region
        known = ", ".join(r.name for r in self.regions)
        raise ConfigError(f"unknown region {name!r} in the lab", hint=f"regions: {known}")

    def link(self, from_region: str, to_region: str) -> DelayLinkState:
        for link in self.region(from_region).links:
            if link.to_region == to_region:
                return link
        raise ConfigError(f"no delay link {from_region}->{to_region} in the lab")

    @property
    def nodes(self) -> list[NodeState]:
        return [node for region in self.regions for node in region.nodes]

    def node(self, name: str) -> NodeState:
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes)
        raise ConfigError(f"unknown node {name!r} in the lab", hint=f"nodes: {known}")

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]


class LabSecrets(StrictModel):
    """The lab's generated Secret values, by reference "name/key" (as secretKeyRef names them).

    One value for every Secret the rendered objects reference; Secret: masked in repr.
    """

    values: dict[str, Secret]

    def get(self, ref: str) -> str:
        try:
            return self.values[ref].get_secret_value()
        except KeyError:
            raise ConfigError(f"the lab has no value for Secret {ref!r}") from None

    def as_plain(self) -> dict[str, str]:
        """For writing the 0600 file only."""
        return {ref: value.get_secret_value() for ref, value in self.values.items()}

    def resolve(self, secret_env: dict[str, str]) -> dict[str, str]:
        """Environment variable -> value, from a process's `secret_env` references."""
        return {var: self.get(ref) for var, ref in secret_env.items()}


def default_state_dir(state_dir: str | Path | None = None) -> Path:
    """--state-dir, else BCASTCTL_LAB_DIR, else ./.bcastctl/lab."""
    if state_dir is not None:
        return Path(state_dir)
    from_env = os.environ.get(LAB_DIR_ENV)
    return Path(from_env) if from_env else Path.cwd() / ".bcastctl" / "lab"


def state_file(state_dir: str | Path) -> Path:
    return Path(state_dir) / STATE_FILE


def load_lab_state(state_dir: str | Path | None = None) -> LabState:
    """Read the lab's state; ConfigError (one line, names the file) if absent or bad."""
    path = state_file(default_state_dir(state_dir))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no lab state here (is the lab up?)",
            hint="start one with `bcastctl lab up`, or pass --state-dir / BCASTCTL_LAB_DIR",
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read lab state: {e}") from e
    try:
        return parse_json(LabState, text)
    except InvalidData as e:
        raise ConfigError(f"{path}: invalid lab state: {e}") from e


def save_lab_state(state: LabState) -> Path:
    """Write state.json atomically (readers never see half a file)."""
    path = state_file(state.state_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(state), indent=2) + b"\n")
    tmp.replace(path)
    return path


def write_lab_secrets(path: str | Path, secrets: LabSecrets) -> None:
    """Create the secrets file with mode 0600 from the start (no window at 0644)."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump({"values": secrets.as_plain()}, file)
    os.chmod(path, 0o600)


def load_lab_secrets(state: LabState | str | Path) -> LabSecrets:
    """The lab's secrets (for tests and the lab itself); values stay masked unless asked."""
    path = Path(state.secrets_file) if isinstance(state, LabState) else Path(state)
    if path.is_dir():
        path = path / SECRETS_FILE
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: lab secrets file not found (is the lab up?)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: cannot read lab secrets: {type(e).__name__}") from e
    if mode & 0o077:
        raise ConfigError(f"{path}: lab secrets file is readable by others (mode {mode:o})")
    try:
        return parse(LabSecrets, data)
    except InvalidData as e:
        raise ConfigError(f"{path}: invalid lab secrets file") from e


def process_secret_env(state: LabState, name: str) -> dict[str, str]:
    """The secret part of a lab process's environment, resolved (for tests and restarts)."""
    for process in state.processes:
        if process.name == name:
            return load_lab_secrets(state).resolve(process.secret_env)
    raise ConfigError(f"no process {name!r} in the lab")


def lab_whip_token(state: LabState) -> str:
    """The WHIP Bearer token the lab's nodes accept (tests publish with it)."""
    if not state.whip_token_ref:
        raise ConfigError("this lab's nodes take no WHIP token from a Secret")
    return load_lab_secrets(state).get(state.whip_token_ref)


def lab_turn_secret(state: LabState) -> str:
    """The TURN REST shared secret coturn uses (the Secret the GatewayConfig names)."""
    if state.turn.secret_ref is None:
        raise ConfigError("the lab runs no TURN server")
    return load_lab_secrets(state).get(state.turn.secret_ref)
