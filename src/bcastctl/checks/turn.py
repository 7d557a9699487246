"""turn: a TURN allocation in every region with the credentials its clients get.

Fresh ephemeral credentials come from a node's public `/api/pc-config` (what a
browser would get); the allocation goes to the TURN URL in it, from where
bcastctl runs (as a client would). A refused credential is reported with its
STUN error (401: the node's TURN secret does not match the TURN server's), a
server that does not answer as a timeout. Credentials are never shown.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs

from bcastctl.adapters.turn import Transport, allocate
from bcastctl.checks.base import Check, CheckContext, CheckResult, Finding, fail, ok, skip
from bcastctl.errors import BcastError, UnreachableError
from bcastctl.targets.base import RegionEndpoints, get_json

NAME: Final = "turn"


class Allocation(Finding):
    """Scope a region: one TURN allocation with the credentials its clients get."""

    check = NAME
    server: str  # host:port/transport
    elapsed_ms: float


class FailedAllocation(Allocation):
    error_code: int | None  # the STUN error (401: wrong secret); None: no answer


def parse_turn_url(url: str) -> tuple[str, int, Transport] | None:
    """("host", port, "udp"|"tcp") of a turn: URI; None for stun:/turns: or garbage."""
    scheme, _, rest = url.partition(":")
    if scheme != "turn" or not rest:
        return None
    address, _, query = rest.partition("?")
    host, _, port_text = address.rpartition(":")
    if not host:
        host, port_text = address, "3478"
    transport = parse_qs(query).get("transport", ["udp"])[0].lower()
    if not port_text.isdigit():
        return None
    if transport == "udp":
        return host.strip("[]"), int(port_text), "udp"
    if transport == "tcp":
        return host.strip("[]"), int(port_text), "tcp"
    return None


async def _pc_config(ctx: CheckContext, region: RegionEndpoints) -> Any:
    errors: list[str] = []
    for node in region.nodes:
        if node.signalling is None:
            continue
        try:
            return await get_json(
                ctx.target, node.signalling, "/api/pc-config", None, ctx.timeout_s
            )
        except BcastError as e:
            errors.append(e.message)
    raise UnreachableError(
        "no node of the region answers /api/pc-config"
        + (f" ({'; '.join(errors)})" if errors else "")
    )


def turn_server(config: Any) -> tuple[tuple[str, int, Transport], str, str] | None:
    for server in config.get("iceServers") or []:
        urls = server.get("urls") or []
        for url in [urls] if isinstance(urls, str) else urls:
            parsed = parse_turn_url(str(url))
            if parsed and server.get("username") and server.get("credential"):
                return parsed, str(server["username"]), str(server["credential"])
    return None


class Turn(Check):
    name = NAME
    title = "TURN allocation with fresh credentials from /api/pc-config"
    layer = "turn"

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        if region.turn.host is None:
            return [skip(self.name, region.name, f"no TURN server: {region.turn.absent_reason}")]
        found = turn_server(await _pc_config(ctx, region))
        if found is None:
            return [
                fail(
                    self.name,
                    region.name,
                    "/api/pc-config offers no turn: server with credentials",
                    hint="set the node's TURN URLs and TURN secret",
                )
            ]
        (host, port, transport), username, password = found
        outcome = await allocate(
            host, port, username, password, transport=transport, timeout_s=ctx.timeout_s
        )
        found_at = f"{host}:{port}/{transport}"
        if outcome.allocated:
            values = Allocation(server=found_at, elapsed_ms=outcome.elapsed_ms).as_values()
            message = f"allocated on {host}:{port}/{transport} in {outcome.elapsed_ms:g} ms"
            return [ok(self.name, region.name, message, values=values)]
        hint = (
            "the nodes' TURN secret differs from the TURN server's (STUNner auth secret)"
            if outcome.error_code == 401
            else "is the TURN server up and reachable from here on that port?"
        )
        return [
            fail(
                self.name,
                region.name,
                f"{host}:{port}/{transport}: {outcome.reason}",
                hint=hint,
                values=FailedAllocation(
                    server=found_at, elapsed_ms=outcome.elapsed_ms, error_code=outcome.error_code
                ).as_values(),
            )
        ]
