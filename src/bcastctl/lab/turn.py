"""TURN for the lab: coturn with the TURN REST scheme (`use-auth-secret`).

The nodes hand out ephemeral credentials derived from the same shared secret
(username `<expiry>:<user>`, password base64(HMAC-SHA1(secret, username))). The
secret sits only in coturn's config file, created 0600 in the state dir; coturn's
argv names the file, not the secret. `--allow-loopback-peers` because every lab
peer is on 127.x.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bcastctl.lab.addresses import TURN_RELAY_PORTS, LabPlan

NOT_INSTALLED = (
    "turnserver (coturn) is not installed; TURN is off in this lab "
    "(install it with `apt-get install -y coturn`)"
)


def turnserver_binary() -> Path | None:
    found = shutil.which("turnserver") or shutil.which("turnserver", path="/usr/bin:/usr/sbin")
    return Path(found) if found else None


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
