"""TURN for the lab: coturn with the rendered STUNner auth (TURN REST, `use-auth-secret`).

The rendered GatewayConfig names the realm and the Secret holding the TURN REST
shared secret (key `secret`, stunner docs/AUTH.md); the nodes hand out ephemeral
credentials derived from it (username `<expiry>:<user>`, password
base64(HMAC-SHA1(secret, username))), which coturn's `use-auth-secret` accepts. The
lab fills that Secret from its secrets file; the value sits only in coturn's config
file, created 0600 in the state dir (coturn's argv names the file, not the secret).
`--allow-loopback-peers` because every lab peer is on 127.x.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bcastctl.lab.addresses import TURN_RELAY_PORTS, LabPlan
from bcastctl.lab.rendered import RegionObjects
from bcastctl.targets.lab_state import LabDifference

NOT_INSTALLED = (
    "turnserver (coturn) is not installed; TURN is off in this lab "
    "(install it with `apt-get install -y coturn`)"
)
# STUNner's names for TURN REST auth ("longterm" is the older spelling of "ephemeral").
REST_AUTH_TYPES = ("ephemeral", "longterm", "timewindowed")


@dataclass(frozen=True)
class TurnAuth:
    realm: str
    secret_ref: str  # "name/key" of the TURN REST shared secret
    listeners: list[str]  # "TURN-UDP:3478", as rendered


def rendered_turn_auth(objects: RegionObjects) -> tuple[TurnAuth | None, str | None]:
    """The TURN auth the rendered GatewayConfig asks for, or None and why the lab cannot run it."""
    configs = objects.of_kind("GatewayConfig")
    if not configs:
        return None, "no STUNner GatewayConfig in the rendered objects"
    spec = configs[0].get("spec") or {}
    auth_type = str(spec.get("authType", "ephemeral"))
    auth_ref = spec.get("authRef") or {}
    if auth_type not in REST_AUTH_TYPES or "name" not in auth_ref:
        return None, f"GatewayConfig authType {auth_type} without a TURN REST secret: not run"
    listeners = [
        f"{listener.get('protocol')}:{listener.get('port')}"
        for gateway in objects.of_kind("Gateway")
        for listener in (gateway.get("spec") or {}).get("listeners") or []
    ]
    realm = str(spec.get("realm", "stunner.l7mp.io"))
    return TurnAuth(realm, f"{auth_ref['name']}/secret", listeners), None


def turn_differences(auth: TurnAuth, plan: LabPlan) -> list[LabDifference]:
    address = f"{plan.turn_host}:{plan.turn_port}"
    return [
        LabDifference(
            kind="substituted",
            region=None,
            where="Gateway listeners (STUNner)",
            rendered=", ".join(auth.listeners),
            lab=f"coturn {address} UDP+TCP (realm {auth.realm}, use-auth-secret)",
            why="one lab TURN server for every region; same TURN REST secret and realm",
        )
    ]


def turn_urls(plan: LabPlan) -> list[str]:
    address = f"{plan.turn_host}:{plan.turn_port}"
    return [f"turn:{address}?transport=udp", f"turn:{address}?transport=tcp"]


def write_turn_config(plan: LabPlan, state_dir: Path, *, secret: str, realm: str) -> Path:
    """coturn's config file, 0600 from creation (it holds the shared secret)."""
    path = state_dir / "turnserver.conf"
    lines = [
        f"listening-ip={plan.turn_host}",
        f"listening-port={plan.turn_port}",
        f"relay-ip={plan.turn_host}",
        f"min-port={TURN_RELAY_PORTS[0]}",
        f"max-port={TURN_RELAY_PORTS[1]}",
        "use-auth-secret",
        f"static-auth-secret={secret}",
        f"realm={realm}",
        "allow-loopback-peers",
        "no-cli",
        "no-tls",
        "no-dtls",
        "no-multicast-peers",
        "no-software-attribute",
        "fingerprint",
        "log-file=stdout",
        "simple-log",
        f"pidfile={state_dir / 'turnserver.pid'}",
        f"userdb={state_dir / 'turndb.sqlite'}",
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path
