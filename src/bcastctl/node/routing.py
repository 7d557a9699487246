"""Node calls: a signalling request one node hands to another over NATS request/reply.

Used for a DELETE/PATCH of `/api/resource/<node>.<token>` that reached a node other
than its holder (the resource id names the holder), and for a WHIP/WHEP offer that
placement (placement.py) gives to another node of the region. The client never sees
the hop: the answer it gets is the serving node's, Location included.

A call goes to call_subject(fleet, node) (NATS lets a node publish there and answer on
the reply inbox; render/nats_config.py). Both the call and its reply are JSON sealed
with HMAC-SHA256 under a key derived from the cluster secret, bound to the subject;
a call carries when it was sent and a nonce, and a node refuses a call outside the
freshness window or whose nonce it has already seen. No secret travels in a call:
the forwarding node checks a publisher's Bearer token itself and sends only whether
it was valid (NATS subscribers such as the read-only tools user could read a token).

The serving node runs the call through its own signalling server on loopback with a
sealed `X-Bcast-Hop` header, so a forwarded request meets exactly the validation,
bounds and error answers of a direct one, and is served there (never placed again).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from bcastctl.adapters.nats_bus import BusMessage
from bcastctl.protocol import call_subject

if TYPE_CHECKING:
    import aiohttp

    from bcastctl.node.service import Node

log = logging.getLogger("bcastctl.node.routing")

HOP_HEADER = "X-Bcast-Hop"
# <holder node>.<random token>: fullmatch, so a trailing newline or a dot more fails
RESOURCE_ID = re.compile(
    r"(?P<node>[A-Za-z0-9][A-Za-z0-9_-]{0,62})\.(?P<token>[A-Za-z0-9_-]{8,64})"
)
FRESHNESS_WINDOW_S = 10.0  # as heartbeats (membership.FRESHNESS_WINDOW_S)
CALL_TIMEOUT_S = 15.0  # an offer is answered within the node's negotiation timeout (10 s)
MAX_RUNNING_CALLS = 64  # calls served at once; more are answered 503
MAX_NONCES = 20_000
FORWARDED_HEADERS = ("Content-Type", "If-Match")
ANSWER_HEADERS = ("Content-Type", "Location", "ETag", "Link")


def holder_of(resource_id: str) -> str | None:
    """The node a resource id names, or None when the id is not one of ours."""
    match = RESOURCE_ID.fullmatch(resource_id)
    return match.group("node") if match else None


def new_resource_id(node: str) -> str:
    return f"{node}.{secrets.token_urlsafe(12)}"


@dataclass(frozen=True)
class CallAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=self.body, headers=self.headers)


class Seal:
    """HMAC-SHA256 under the fleet's call key, over a purpose and the text it protects."""

    def __init__(self, cluster_secret: str) -> None:
        self._key = hmac.new(
            cluster_secret.encode(), b"bcast node calls v1", hashlib.sha256
        ).digest()

    def mac(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}\0{text}".encode(), hashlib.sha256).hexdigest()

    def seal(self, purpose: str, payload: Mapping[str, Any]) -> bytes:
        text = json.dumps(payload, separators=(",", ":"))
        return json.dumps({"body": text, "mac": self.mac(purpose, text)}).encode()

    def open(self, purpose: str, data: bytes) -> dict[str, Any]:
        """The payload; ValueError when it is not JSON or its MAC does not match."""
        envelope = json.loads(data)
        text, mac = envelope["body"], envelope["mac"]
        if not (isinstance(text, str) and isinstance(mac, str)):
            raise ValueError("malformed call")
        if not hmac.compare_digest(self.mac(purpose, text), mac):
            raise ValueError("bad MAC (cluster secret mismatch or forged)")
        payload = json.loads(text)
        if not isinstance(payload, dict):
            raise ValueError("malformed call")
        return payload


@dataclass
class Nonces:
    """Nonces seen within the freshness window: a recorded call sent again is refused."""

    seen: dict[str, float] = field(default_factory=dict)

    def fresh(self, nonce: str, now: float) -> bool:
        if len(self.seen) >= MAX_NONCES:
            self.seen = {n: t for n, t in self.seen.items() if now - t <= FRESHNESS_WINDOW_S}
            if len(self.seen) >= MAX_NONCES:
                return False
        if nonce in self.seen:
            return False
        self.seen[nonce] = now
        return True


class NodeCalls:
    """Forwards requests to other nodes, and serves the calls other nodes send here."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.seal = Seal(node.settings.cluster_secret)
        self.nonces = Nonces()
        self.signalling_url = ""  # set by serve() once the signalling port is bound
        self._running = asyncio.Semaphore(MAX_RUNNING_CALLS)
        self._http: aiohttp.ClientSession | None = None

    # --- serving calls ------------------------------------------------

    @property
    def subject(self) -> str:
        """Where this node serves calls (Cluster subscribes `on_call` there)."""
        return call_subject(self.node.settings.fleet, self.node.settings.name)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def on_call(self, message: BusMessage) -> None:
        bus = self.node.cluster.bus
        if not message.reply or bus is None:
            return
        try:
            call = self.seal.open(message.subject, message.data)
            self._check_fresh(call)
        except (ValueError, KeyError, TypeError) as e:
            self.node.metrics.inc("calls_refused_total")
            log.warning("refused a call on %s: %s", message.subject, e)
            return  # no reply: the caller's request times out
        if self._running.locked():
            answer = _problem(503, f"node {self.node.settings.name} is busy with other calls")
        else:
            async with self._running:
                answer = await self._serve(call)
        self.node.metrics.inc("calls_served_total")
        reply = {"s": answer.status, "h": answer.headers, "b": answer.body.decode(errors="replace")}
        await bus.publish(message.reply, self.seal.seal("reply:" + str(call["n"]), reply))

    def _check_fresh(self, call: Mapping[str, Any]) -> None:
        sent, nonce = call["sent"], call["n"]
        if not isinstance(sent, int | float) or not isinstance(nonce, str):
            raise ValueError("malformed call")
        if abs(time.time() - sent) > FRESHNESS_WINDOW_S:
            raise ValueError(f"sent {time.time() - sent:+.1f} s ago: outside the window")
        if not self.nonces.fresh(nonce, time.time()):
            raise ValueError("nonce already seen (replayed call)")

    async def _serve(self, call: Mapping[str, Any]) -> CallAnswer:
        """Run the call through this node's own signalling server, marked as a hop."""
        import aiohttp

        method, path = str(call["m"]), str(call["p"])
        headers = {k: str(v) for k, v in dict(call.get("h", {})).items() if k in FORWARDED_HEADERS}
        headers[HOP_HEADER] = self.hop_header(str(call.get("client", "")), method, path)
        if call.get("auth") and self.node.settings.whip_token:
            headers["Authorization"] = f"Bearer {self.node.settings.whip_token}"
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            async with self._http.request(
                method,
                URL(self.signalling_url + path, encoded=True),  # the path as signed
                data=str(call.get("b", "")).encode(),
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S - 1),
            ) as response:
                kept = {k: response.headers[k] for k in ANSWER_HEADERS if k in response.headers}
                return CallAnswer(response.status, kept, await response.read())
        except (TimeoutError, aiohttp.ClientError) as e:
            return _problem(503, f"node {self.node.settings.name} could not serve it: {e!r}"[:200])

    # --- the hop header ------------------------------------------------

    def hop_header(self, client: str, method: str, path: str) -> str:
        sent = f"{time.time():.3f}"
        return f"{client};{sent};{self.seal.mac('hop', f'{client}|{sent}|{method}|{path}')}"

    def verified_hop(self, request: web.Request) -> str | None:
        """The original client's address when the request is a sealed, fresh hop; else None."""
        value = request.headers.get(HOP_HEADER)
        if value is None or len(value) > 200:
            return None
        client, _, rest = value.partition(";")
        sent, _, mac = rest.partition(";")
        path = request.raw_path
        expected = self.seal.mac("hop", f"{client}|{sent}|{request.method}|{path}")
        if not hmac.compare_digest(expected, mac):
            return None
        try:
            age = time.time() - float(sent)
        except ValueError:
            return None
        return client if abs(age) <= FRESHNESS_WINDOW_S else None

    # --- forwarding ------------------------------------------------

    async def forward(
        self, node: str, request: web.Request, body: bytes, auth: bool
    ) -> CallAnswer | None:
        """Send `request` to `node`; its answer, or None when it did not answer in time."""
        bus = self.node.cluster.bus
        if bus is None or not bus.connected:
            return None
        nonce = secrets.token_hex(12)
        call = {
            "m": request.method,
            "p": request.raw_path,
            "h": {k: request.headers[k] for k in FORWARDED_HEADERS if k in request.headers},
            "b": body.decode(errors="replace"),
            "auth": auth,
            "client": request.remote or "",
            "from": self.node.settings.name,
            "sent": time.time(),
            "n": nonce,
        }
        subject = call_subject(self.node.settings.fleet, node)
        data = await bus.request(subject, self.seal.seal(subject, call), CALL_TIMEOUT_S)
        if data is None:
            return None
        try:
            reply = self.seal.open("reply:" + nonce, data)
            status, headers, text = int(reply["s"]), dict(reply["h"]), str(reply["b"])
        except (ValueError, KeyError, TypeError) as e:
            log.warning("refused a reply from %s: %s", node, e)
            return None
        kept = {k: str(v) for k, v in headers.items() if k in ANSWER_HEADERS}
        return CallAnswer(status, kept, text.encode())


def _problem(status: int, reason: str) -> CallAnswer:
    body = json.dumps({"error": reason}).encode()
    return CallAnswer(status, {"Content-Type": "application/json"}, body)


def bearer_ok(request: web.Request, expected: str) -> bool:
    """Whether the request carries the publishers' Bearer token (checked here, not sent on)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not token.isascii():
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())
