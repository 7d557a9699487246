"""The one place that changes how aioice gathers host candidates (explicit opt-ins).

`offer_only(address)`: aioice leaves 127.0.0.1 out of host candidates, and a 127.x
address other than 127.0.0.1 is never an interface address, so on loopback (the lab:
each node on its own 127.x address; tests) ICE would offer nothing usable. A node whose
advertise address is loopback calls it: every ICE agent in this process then gathers
exactly that host address.

`bind_ports(low, high)`: aioice 0.13 binds each host candidate's socket to port 0
(`Connection.get_component_candidates` calls `loop.create_datagram_endpoint(...,
local_addr=(address, 0))`), i.e. anywhere in the kernel's ephemeral range, so a
NetworkPolicy or firewall that admits only the node's media port range drops the media.
The hook gives aioice's module a view of asyncio whose running loop binds such a socket
to a free port of the range instead (tried in turn from a rotating start); nothing else
about the loop changes. When every port of the range is taken the bind fails with
EADDRINUSE, aioice gathers no host candidate, and `gather_failure()` says why. Pinned
to aioice 0.13 (pyproject); tests/adapters/test_ice_ports.py is the contract test.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import types
from typing import Any

from bcastctl.errors import ConfigError

log = logging.getLogger("bcastctl.adapters.ice")

PINNED_AIOICE = "0.13."
_original_get_host_addresses = None
_port_range: PortRange | None = None


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def offer_only(*addresses: str) -> None:
    """Make ICE host candidates exactly `addresses` (IPv4) in this process."""
    global _original_get_host_addresses
    import aioice.ice

    chosen = [str(ipaddress.ip_address(address)) for address in addresses]
    if _original_get_host_addresses is None:
        _original_get_host_addresses = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (use_ipv4 and "." in a) or (use_ipv6 and ":" in a)]

    aioice.ice.get_host_addresses = get_host_addresses
    log.info("ICE host candidates limited to %s", ", ".join(chosen))


def restore() -> None:
    """Undo offer_only and bind_ports (tests)."""
    global _original_get_host_addresses, _port_range
    import asyncio

    import aioice.ice

    if _original_get_host_addresses is not None:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        _original_get_host_addresses = None
    aioice.ice.asyncio = asyncio  # type: ignore[attr-defined]
    _port_range = None


class PortRange:
    """UDP ports low..high for ICE host sockets; hands out a rotating first choice."""

    def __init__(self, low: int, high: int) -> None:
        self.low = low
        self.high = high
        self._next = low
        self.full = False  # the last bind found no free port

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"

    def candidates(self) -> list[int]:
        start = self._next
        size = self.high - self.low + 1
        self._next = self.low + (start - self.low + 1) % size
        return [self.low + (start - self.low + i) % size for i in range(size)]

    async def bind(self, loop: Any, factory: Any, host: str, **kwargs: Any) -> Any:
        for port in self.candidates():
            try:
                bound = await loop.create_datagram_endpoint(
                    factory, local_addr=(host, port), **kwargs
                )
                self.full = False
                return bound
            except OSError as e:
                if _errno(e) != errno.EADDRINUSE:
                    raise
        self.full = True
        log.warning("ICE: no free UDP port on %s in %s", host, self)
        raise OSError(errno.EADDRINUSE, f"no free UDP port in {self}")


def _errno(error: OSError) -> int | None:
    """The bind's errno: asyncio sets it, uvloop raises a new OSError caused by the real one."""
    cause = error.__cause__
    return error.errno if error.errno is not None or not isinstance(cause, OSError) else cause.errno


class _RangeBoundLoop:
    """The running loop, except that a datagram endpoint asked for port 0 binds in range."""

    def __init__(self, loop: Any, ports: PortRange) -> None:
        self._loop = loop
        self._ports = ports

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    async def create_datagram_endpoint(
        self, factory: Any, local_addr: tuple[str, int] | None = None, **kwargs: Any
    ) -> Any:
        if local_addr is None or local_addr[1] != 0:
            return await self._loop.create_datagram_endpoint(
                factory, local_addr=local_addr, **kwargs
            )
        return await self._ports.bind(self._loop, factory, local_addr[0], **kwargs)


def _asyncio_for_aioice(ports: PortRange) -> types.ModuleType:
    import asyncio

    class AsyncioView(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

    view = AsyncioView("asyncio")
    view.get_running_loop = lambda: _RangeBoundLoop(asyncio.get_running_loop(), ports)  # type: ignore[attr-defined]
    return view


def bind_ports(low: int, high: int) -> PortRange:
    """Bind every ICE host socket of this process inside low..high (see the module doc)."""
    global _port_range
    import aioice
    import aioice.ice

    version = str(getattr(aioice, "__version__", "?"))
    if not version.startswith(PINNED_AIOICE) or not hasattr(aioice.ice, "asyncio"):
        raise ConfigError(
            f"an ICE port range needs aioice {PINNED_AIOICE}x (installed: {version})",
            hint="install bcastctl with its pinned dependencies (pyproject: aioice>=0.13,<0.14)",
        )
    _port_range = PortRange(low, high)
    aioice.ice.asyncio = _asyncio_for_aioice(_port_range)
    log.info("ICE host candidates bound to UDP ports %s", _port_range)
    return _port_range


def gather_failure() -> str | None:
    """Why an ICE agent of this process may have gathered no host candidate: the port range
    is full (its last bind found no free port); None otherwise."""
    if _port_range is not None and _port_range.full:
        return f"no free UDP port for ICE in {_port_range}"
    return None
