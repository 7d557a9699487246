"""Primitives the node and check test kits share: free loopback ports, polling with a
deadline, and nats-server super-clusters (configs and the gateway-connected test).

The binary is the one `bcastctl lab` runs (`bcastctl.lab.natsconf.nats_server_binary`).
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from bcastctl.lab.natsconf import nats_server_binary
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
