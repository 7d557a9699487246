"""The NATS server configuration text of one region (the `nats.conf` in its ConfigMap).

A cluster of `cluster_size` servers with routes, and a `gateway {}` block that joins
the super-cluster through every other region's gateway address: its MCS name, or the node
ports or load balancer its `gateway` exposure names (bcastctl/exposure.py). What deploy
applies and what the lab runs both come from here.

Nothing on NATS is trusted because it arrived (DESIGN "Authenticated fabric"):
- No anonymous clients (no `no_auth_user`). Account APP holds one user per broadcaster
  node, named as its pod (`<region>-broadcaster-<i>`, the StatefulSet's ordinals), who may
  publish only its own heartbeat subject, media under its own name, relay requests
  (`want.`, `kf.`), RTT echo requests and replies to requests it received; and one
  read-only user (`bcastctl`) for tools. Account SYS has the system user (monitoring).
- Gateways authenticate (`authorization` in `gateway {}`; a server dials the others
  with the same user and password) and a gateway whose name is not a configured
  region is refused (`reject_unknown_cluster`). With `fleet.nats.gateway_tls`, gateway
  connections are mutual TLS (certificates from the Secret it names, mounted at
  GATEWAY_TLS_DIR); the lab may run without.
- Every credential is an environment variable of the NATS container (`$VAR`, resolved
  by nats-server at start; a missing one stops it), filled from the Secret named in
  `fleet.secrets` (key `secret`): `nats_secret_env` is that contract, for render's
  StatefulSet and the lab. The config text never holds a secret. nats-server parses a
  variable's value as config syntax (conf/parse.go lookupVariable): generate passwords as
  a letter followed by hex, or a leading digit makes the value a number.

The node passwords of a region are one Secret: a StatefulSet's pods share one pod
template, so they cannot each get a different Secret; per-node users still bind each
connection to one node's subjects (NATS refuses the rest), and what a node publishes is
authenticated by the cluster secret on top (signed heartbeats, sealed frames).
Routes inside a region are not authenticated here: explicit route URLs would need the
password inside the URL, where nats-server does not resolve variables; the cluster port
is reachable only inside the region's namespace (NetworkPolicy).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass

from bcastctl.exposure import external_hosts, gateway_urls
from bcastctl.fleet import Fleet, Region
from bcastctl.protocol import NATS_MONITOR_USER, NATS_SYSTEM_USER, subject_prefix

GATEWAY_USER = "gateway"
GATEWAY_TLS_DIR = "/etc/nats-gateway-tls"  # where the NATS pod mounts fleet.nats.gateway_tls
MONITOR_USER = NATS_MONITOR_USER
SYSTEM_USER = NATS_SYSTEM_USER


@dataclass(frozen=True)
class SecretEnv:
    """One environment variable of the NATS container, from a Secret's key `secret`."""

    env: str
    secret: str


def nats_secret_env(fleet: Fleet) -> list[SecretEnv]:
    """Every `$VAR` of nats_config(), with the Secret that fills it."""
    secrets = fleet.secrets
    return [
        SecretEnv("NATS_SYSTEM_PASSWORD", secrets.nats_system),
        SecretEnv("NATS_NODE_PASSWORD", secrets.nats_node),
        SecretEnv("NATS_MONITOR_PASSWORD", secrets.nats_monitor),
        SecretEnv("NATS_GATEWAY_PASSWORD", secrets.nats_gateway),
    ]


def node_user(region: str, ordinal: int) -> str:
    """A broadcaster node's NATS user: its pod name, which is also its node name."""
    return f"{region}-broadcaster-{ordinal}"


NATS_CONF_TEMPLATE = string.Template(
    """\
# NATS server of region ${region}: a cluster of ${cluster_size} with routes, and a
# gateway {} that joins the super-cluster through every other region's gateway address.
# Credentials are environment variables from Secrets; no anonymous clients.
server_name: $$POD_NAME
listen: 0.0.0.0:${client_port}
http: 0.0.0.0:${monitor_port}
# PING every 2 s (nats-server's default is 2 min): a gateway's RTT in /gatewayz is
# re-measured on every PING, so `verify mesh` and `probe rtt` read a fresh figure, and a
# dead connection (a half-open WAN link) is dropped after 2 missed PONGs, not minutes.
ping_interval: "2s"

cluster {
  name: ${region}
  listen: 0.0.0.0:${cluster_port}
  routes: [
${routes}
  ]
}

gateway {
  name: ${region}
  listen: 0.0.0.0:${gateway_port}
${advertise}  # only configured regions may join, and only with the gateway credentials
  reject_unknown_cluster: true
  authorization { user: ${gateway_user}, password: $$NATS_GATEWAY_PASSWORD }
${gateway_tls}  gateways: [
${gateways}
  ]
}

accounts {
  # the system account, so $$SYS monitoring requests work across the super-cluster
  SYS: { users: [ { user: ${system_user}, password: $$NATS_SYSTEM_PASSWORD } ] }
  APP: {
    users: [
${users}
    ]
  }
}
system_account: SYS
"""
)


def _quoted(subjects: list[str]) -> str:
    return "[" + ", ".join(json.dumps(subject) for subject in subjects) + "]"


def node_permissions(fleet: Fleet, region: str, node: str) -> tuple[list[str], list[str]]:
    """(publish, subscribe) subjects a node may use (protocol.py's subjects)."""
    prefix = subject_prefix(fleet.name)
    publish = [
        f"{prefix}.hb.{region}.{node}",  # its own heartbeat
        f"{prefix}.media.{node}.>",  # frames of streams it holds
        f"{prefix}.want.*.*",  # interest in another node's stream
        f"{prefix}.kf.*.*",  # keyframe requests to a holder
        f"{prefix}.rtt.*",  # RTT echo requests (replies: allow_responses)
        f"{prefix}.call.*",  # signalling requests handed to another node (node/routing.py)
    ]
    return publish, [f"{prefix}.>", "_INBOX.>"]


def _users(fleet: Fleet, region: Region) -> str:
    lines = []
    for ordinal in range(region.replicas):
        node = node_user(region.name, ordinal)
        publish, subscribe = node_permissions(fleet, region.name, node)
        lines.append(
            f"      {{ user: {json.dumps(node)}, password: $NATS_NODE_PASSWORD, permissions: {{\n"
            f"          publish: {{ allow: {_quoted(publish)} }}\n"
            f"          subscribe: {{ allow: {_quoted(subscribe)} }}\n"
            f"          allow_responses: true }} }}"
        )
    lines.append(
        f"      {{ user: {MONITOR_USER}, password: $NATS_MONITOR_PASSWORD, permissions: {{\n"
        f'          publish: {{ deny: [">"] }}\n'
        f"          subscribe: {{ allow: {_quoted([subject_prefix(fleet.name) + '.>'])} }} }} }}"
    )
    return "\n".join(lines)


def _gateway_entry(fleet: Fleet, dialler: Region, target: Region) -> str:
    """One remote gateway: its name and the URLs `dialler` reaches it at, as the target's
    exposure gives them (exposure.gateway_urls: the MCS name, its node ports or its load
    balancer). Several URLs (node addresses) are one gateway's `urls`: nats-server dials
    one of them and tries the others when it fails (server/opts.go parseGateways)."""
    urls = gateway_urls(fleet, dialler, target)
    if len(urls) == 1:
        return f'    {{ name: {target.name}, url: "{urls[0]}" }}'
    return f"    {{ name: {target.name}, urls: [{', '.join(json.dumps(url) for url in urls)}] }}"


def nats_config(fleet: Fleet, region: Region) -> str:
    routes = [
        f"    nats://{region.name}-nats-{i}.{region.name}-nats.{fleet.namespace}"
        f".svc.cluster.local:{fleet.nats.cluster_port}"
        for i in range(fleet.nats.cluster_size)
    ]
    gateways = [
        _gateway_entry(fleet, region, other) for other in fleet.regions if other.name != region.name
    ]
    return NATS_CONF_TEMPLATE.substitute(
        region=region.name,
        cluster_size=fleet.nats.cluster_size,
        client_port=fleet.nats.client_port,
        cluster_port=fleet.nats.cluster_port,
        gateway_port=fleet.nats.gateway_port,
        monitor_port=fleet.nats.monitor_port,
        routes="\n".join(routes),
        gateways="\n".join(gateways),
        gateway_user=GATEWAY_USER,
        system_user=SYSTEM_USER,
        users=_users(fleet, region),
        gateway_tls=_gateway_tls(fleet),
        advertise=_advertise(fleet, region),
    )


def _advertise(fleet: Fleet, region: Region) -> str:
    """For a region reached at an external address: that address, as what its servers tell
    the other gateways (server/opts.go parseGateway `advertise`); otherwise they gossip
    their pod addresses, which no other network can dial."""
    hosts = external_hosts(fleet, region)
    if not hosts:
        return ""
    host, port = hosts[0]
    shown = f"[{host}]" if ":" in host else host
    return f'  advertise: "{shown}:{port}"\n'


def _gateway_tls(fleet: Fleet) -> str:
    """Mutual TLS for every gateway connection, both directions, when the fleet asks."""
    if fleet.nats.gateway_tls is None:
        return ""
    return (
        "  # mutual TLS: both sides present a certificate from the fleet's gateway CA\n"
        "  tls {\n"
        f'    cert_file: "{GATEWAY_TLS_DIR}/tls.crt"\n'
        f'    key_file: "{GATEWAY_TLS_DIR}/tls.key"\n'
        f'    ca_file: "{GATEWAY_TLS_DIR}/ca.crt"\n'
        "    verify: true\n"
        "    timeout: 3\n"
        "  }\n"
    )
