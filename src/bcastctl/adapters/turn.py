"""TURN allocations and STUN binding requests from where bcastctl runs (aioice).

Used by the `turn` check (an allocation with a region's fresh ephemeral
credentials) and by `probe rtt` (STUN binding RTT to a region's TURN address).
Findings come back as values: a rejected credential is `error_code=401`, not an
exception, and is told apart from a server that does not answer at all.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

Transport = Literal["udp", "tcp"]


@dataclass(frozen=True)
class TurnOutcome:
    allocated: bool
    relayed_address: str | None  # host:port the server relays from
    error_code: int | None  # STUN error code (401 wrong credentials, 437, 486...)
    reason: str  # one line for humans
    elapsed_ms: float


class _Sink(asyncio.DatagramProtocol):
    pass


def _stun_failure(error: Any) -> tuple[int | None, str]:
    attributes = getattr(getattr(error, "response", None), "attributes", {}) or {}
    if "ERROR-CODE" in attributes:
        code, text = attributes["ERROR-CODE"]
        return int(code), f"{int(code)} {text}"
    return None, str(error) or type(error).__name__


async def allocate(
    host: str,
    port: int,
    username: str,
    password: str,
    *,
    transport: Transport = "udp",
    timeout_s: float = 5.0,
) -> TurnOutcome:
    """Allocate a relay on the TURN server and release it at once."""
    from aioice import stun, turn

    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 3)

    try:
        async with asyncio.timeout(timeout_s):
            relay, _ = await turn.create_turn_endpoint(
                _Sink, (host, port), username, password, lifetime=60, transport=transport
            )
    except stun.TransactionFailed as e:
        code, text = _stun_failure(e)
        return TurnOutcome(False, None, code, f"allocation refused: {text}", elapsed())
    except (TimeoutError, stun.TransactionTimeout):
        return TurnOutcome(
            False,
            None,
            None,
            f"no answer from {host}:{port}/{transport} in {timeout_s:g} s",
            elapsed(),
        )
    except OSError as e:
        return TurnOutcome(
            False, None, None, f"{host}:{port}/{transport}: {e.strerror or e}", elapsed()
        )
    took = elapsed()
    try:
        relayed = relay.get_extra_info("sockname")
        address = f"{relayed[0]}:{relayed[1]}" if relayed else None
    finally:
        relay.close()
    return TurnOutcome(True, address, None, "allocated", took)


async def stun_binding_rtt(host: str, port: int, *, timeout_s: float = 2.0) -> float | None:
    """Milliseconds for one STUN Binding request/response over UDP; None when none came back."""
    from aioice import stun

    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    class _Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not answer.done():
                answer.set_result(data)

        def error_received(self, exc: Exception) -> None:
            if not answer.done():
                answer.set_exception(exc)

    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    sock_transport, _ = await loop.create_datagram_endpoint(_Client, remote_addr=(host, port))
    try:
        started = time.perf_counter()
        sock_transport.sendto(bytes(request))
        async with asyncio.timeout(timeout_s):
            data = await answer
        reply = stun.parse_message(data)
        if reply.transaction_id != request.transaction_id:
            return None
        return round((time.perf_counter() - started) * 1000, 3)
    except (TimeoutError, OSError, ValueError):
        return None
    finally:
        sock_transport.close()
