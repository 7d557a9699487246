"""Primitives the node and check test kits share: free loopback ports, polling with a
deadline, and nats-server super-clusters (configs and the gateway-connected test).

The binary is the one `bcastctl lab` runs (`bcastctl.lab.binaries.nats_server_binary`).
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bcastctl.fleet import Fleet
from bcastctl.lab.binaries import nats_server_binary
from bcastctl.model import parse
from bcastctl.readers.nats import Gatewayz, parse_gatewayz

NATS_SERVER = nats_server_binary()


# Ports come from below the kernel's ephemeral range (net.ipv4.ip_local_port_range,
# 32768-60999 by default). A port the kernel picked for bind(0) is an ephemeral one, and
# some outgoing connection could take it before the server we start binds it (seen in CI:
# nats-server "bind: address already in use" on its gateway port).
_PORTS = range(20_000, 32_768)
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for TCP and UDP on `host` now, never handed out before in this process."""
    for _ in range(500):
        port = random.choice(_PORTS)
        if port in _handed_out:
            continue
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.bind((host, port))
        except OSError:
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port on {host} in {_PORTS.start}-{_PORTS.stop - 1}")


def free_udp_range(host: str, size: int) -> tuple[int, int]:
    """`size` consecutive UDP ports free on `host` now (an ICE port range), none handed out
    before in this process: (low, high)."""
    for _ in range(200):
        low = random.randrange(_PORTS.start, _PORTS.stop - size)
        ports = range(low, low + size)
        if _handed_out.intersection(ports):
            continue
        try:
            for port in ports:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind((host, port))
        except OSError:
            continue
        _handed_out.update(ports)
        return low, low + size - 1
    raise RuntimeError(f"no {size} free consecutive UDP ports on {host}")


def wait_for(
    what: str, predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05
) -> Any:
    """Poll until `predicate()` is truthy; an OSError/ValueError is "not yet", never success."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, ValueError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def gateway_config(
    name: str, client_port: int, monitor_port: int, gateway_port: int, gateways: Mapping[str, int]
) -> str:
    """A loopback nats-server config for region `name`; `gateways`: region -> gateway port."""
    peers = ", ".join(
        f'{{name: "{region}", url: "nats://127.0.0.1:{port}"}}' for region, port in gateways.items()
    )
    return (
        f'server_name: "{name}"\nlisten: "127.0.0.1:{client_port}"\n'
        f'http: "127.0.0.1:{monitor_port}"\n'
        f'gateway {{\n  name: "{name}"\n  listen: "127.0.0.1:{gateway_port}"\n'
        f"  gateways: [{peers}]\n}}\n"
    )


def gateways_connected(gatewayz: Gatewayz, others: list[str]) -> bool:
    """True when /gatewayz shows an outbound and an inbound link to every one of `others`."""
    return parse_gatewayz(gatewayz).connected_both_ways(others)


def on_loopback(rendered: str, hosts: Mapping[str, str], own_region: str) -> str:
    """A rendered nats.conf made to run here: every listener on its region's loopback
    host, other regions' gateways dialled at theirs, no routes (one server per region).
    Only addresses change; users, permissions and authorization stay as rendered."""
    lines = []
    for line in rendered.splitlines():
        if ".svc.cluster.local:" in line:  # a route to a sibling server in Kubernetes
            continue
        line = line.replace("0.0.0.0:", f"{hosts[own_region]}:")
        for region, host in hosts.items():
            line = re.sub(
                rf"nats://{re.escape(region)}-nats-gateway\.[a-z0-9.-]+:", f"nats://{host}:", line
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


# --- nats-server running a rendered config (render/nats_config.py) -------------------------

RENDERED_HOSTS = {"r1": "127.0.1.1", "r2": "127.0.1.2", "r3": "127.0.1.3"}
RENDERED_PASSWORDS = {  # what Kubernetes would set from the Secrets in fleet.secrets
    "NATS_SYSTEM_PASSWORD": "sys-pw-1d2f",
    "NATS_NODE_PASSWORD": "node-pw-93ab",
    "NATS_MONITOR_PASSWORD": "monitor-pw-7c1e",
    "NATS_GATEWAY_PASSWORD": "gateway-pw-5e0a",
}


def rendered_fleet(name: str = "authfleet") -> Fleet:
    """Regions r1, r2, r3 (2 nodes each), one NATS server per region, ports free here
    (every region uses the same ports, each on its own loopback host)."""
    return parse(
        Fleet,
        {
            "name": name,
            "image": "example/node:1",
            "regions": [
                {"name": region, "geo": {"lat": 0, "lon": index}, "replicas": 2}
                for index, region in enumerate(RENDERED_HOSTS)
            ],
            "nats": {
                "client_port": free_port(),
                "gateway_port": free_port(),
                "monitor_port": free_port(),
                "cluster_port": free_port(),
                "cluster_size": 1,
            },
        },
    )


@dataclass
class RenderedServer:
    region: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str
    monitor: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def gatewayz(self) -> Gatewayz:
        with urllib.request.urlopen(self.monitor + "/gatewayz", timeout=2) as response:
            return cast(Gatewayz, json.loads(response.read()))


def rendered_text(fleet: Fleet, region: str) -> str:
    from bcastctl.render.nats_config import nats_config

    return on_loopback(nats_config(fleet, fleet.region(region)), RENDERED_HOSTS, region)


def start_rendered(
    directory: Path, fleet: Fleet, region: str, text: str, env: Mapping[str, str], tag: str = ""
) -> RenderedServer:
    """nats-server on `text` (a rendered config), its `$VAR`s from `env` (never argv)."""
    conf = directory / f"{region}{tag}.conf"
    conf.write_text(text)
    log = directory / f"{region}{tag}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(NATS_SERVER), "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "POD_NAME": f"{region}-nats-0", **env},
        )
    host = RENDERED_HOSTS[region]
    return RenderedServer(
        region,
        process,
        log,
        f"nats://{host}:{fleet.nats.client_port}",
        f"http://{host}:{fleet.nats.monitor_port}",
    )


def start_rendered_fabric(
    directory: Path, fleet: Fleet, regions: list[str]
) -> list[RenderedServer]:
    """The given regions' servers from their rendered configs, gateways connected."""
    servers: list[RenderedServer] = []
    try:
        for region in regions:
            text = rendered_text(fleet, region)
            servers.append(start_rendered(directory, fleet, region, text, RENDERED_PASSWORDS))
        for server in servers:
            others = [r for r in regions if r != server.region]
            wait_for(
                f"{server.region}'s gateways to {others}",
                lambda s=server, o=others: gateways_connected(s.gatewayz(), o),
            )
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
