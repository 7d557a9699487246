"""Client of linkd's control socket: cut, heal, slow and list the lab's delay links."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bcastctl.errors import OperationFailed, UnreachableError


async def link_request(control_socket: str, request: dict[str, Any], timeout_s: float = 5.0) -> Any:
    """Send one request; return the `links` list of the answer."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(control_socket), timeout_s
        )
    except (OSError, TimeoutError) as e:
        raise UnreachableError(
            f"lab link daemon not reachable at {control_socket}: {e}",
            hint="is the lab up? `bcastctl lab status`",
        ) from e
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout_s)
    except (OSError, TimeoutError) as e:
        raise UnreachableError(f"lab link daemon did not answer {request.get('op')}: {e}") from e
    finally:
        writer.close()
    try:
        answer = json.loads(line)
    except ValueError as e:
        raise UnreachableError("lab link daemon sent a malformed answer") from e
    if not answer.get("ok"):
        raise OperationFailed(f"lab link daemon refused {request.get('op')}: {answer.get('error')}")
    return answer["links"]
