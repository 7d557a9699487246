"""The one place that makes aioice offer a loopback host candidate (explicit opt-in).

aioice leaves 127.0.0.1 out of host candidates, and a 127.x address other than
127.0.0.1 is never an interface address, so on loopback (the lab: each node on its
own 127.x address; tests) ICE would offer nothing usable. A node whose advertise
address is loopback calls `offer_only(address)`: from then on every ICE agent in
this process gathers exactly that host address. Nothing changes unless called.
"""

from __future__ import annotations

import ipaddress
import logging

log = logging.getLogger("bcastctl.adapters.ice")

_original_get_host_addresses = None


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
    """Undo offer_only (tests)."""
    global _original_get_host_addresses
    import aioice.ice

    if _original_get_host_addresses is not None:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        _original_get_host_addresses = None
