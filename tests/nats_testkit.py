"""Primitives the node and check test kits share: free loopback ports, polling with a
deadline, and nats-server super-clusters (configs and the gateway-connected test).

The binary is the one `bcastctl lab` runs (`bcastctl.lab.natsconf.nats_server_binary`).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from bcastctl.lab.natsconf import nats_server_binary

NATS_SERVER = nats_server_binary()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


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


def gateways_connected(gatewayz: Mapping[str, Any], others: list[str]) -> bool:
    """True when /gatewayz shows an outbound and an inbound link to every one of `others`."""
    outbound = gatewayz.get("outbound_gateways") or {}
    inbound = gatewayz.get("inbound_gateways") or {}
    return all(name in outbound and name in inbound for name in others)
