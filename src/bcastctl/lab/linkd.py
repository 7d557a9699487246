"""The lab's WAN: one process running every delay link (`python -m bcastctl.lab.linkd`).

A delay link is a TCP proxy that holds every chunk of data for the link's one-way
latency, in each direction, before passing it on, so a round trip through it
gains twice the one-way latency. Order is kept: a chunk is never released before
the one ahead of it, even when the delay is lowered.

Timers must fire with sub-millisecond precision. The default epoll loop rounds
its waits up to whole milliseconds, so this process runs a selector loop over
select(2), whose timeout has microsecond resolution.

A small control channel (one JSON line in, one JSON line out, on a unix socket
in the lab's state dir) lets `bcastctl lab fault` cut, heal and slow links of a
running lab: `{"op": "cut" | "heal" | "slow" | "status", "links": [...], "ms": N}`.
A cut link aborts its open connections and refuses new ones (nothing listens)
until healed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import selectors
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("bcastctl.lab.linkd")

# A timer is "due" this close to its deadline: below the loop's own resolution.
_EARLY_S = 0.00005
_HIGH_WATER = 4 * 1024 * 1024
_GATE_LIMIT = 16 * 1024


@dataclass
class LinkConfig:
    name: str
    listen_host: str
    listen_port: int
    target_host: str
    target_port: int
    one_way_ms: float
    # The NATS gateway allowed to dial through this link (None: anyone). Servers gossip
    # the gateway URLs they know, so region A learns the link C uses to reach B; without
    # this check A could reach B through C's link, with C's latency, even when A->B is cut.
    gateway_from: str | None = None


def _gateway_name(connect_line: bytes) -> str | None:
    """The `gateway` field of a NATS `CONNECT {json}` line."""
    verb, _, payload = connect_line.partition(b" ")
    if verb.upper() != b"CONNECT":
        return None
    try:
        name = json.loads(payload).get("gateway")
    except (ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


class _Direction:
    """One direction of one connection: a queue of (due time, bytes) and one timer."""

    def __init__(self, link: Link, loop: asyncio.AbstractEventLoop) -> None:
        self.link = link
        self.loop = loop
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.dst: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.last_due = 0.0
        self.closing = False

    def push(self, data: bytes) -> None:
        due = max(self.loop.time() + self.link.delay_s, self.last_due)
        self.last_due = due
        self.queue.append((due, data))
        if self.timer is None and self.dst is not None:
            self.timer = self.loop.call_at(due, self.flush)

    def attach(self, dst: asyncio.Transport) -> None:
        self.dst = dst
        if self.queue and self.timer is None:
            self.timer = self.loop.call_at(self.queue[0][0], self.flush)

    def finish(self) -> None:
        """The source ended: close the destination once everything queued is out."""
        self.closing = True
        if not self.queue and self.timer is None and self.dst is not None:
            self.dst.close()

    def flush(self) -> None:
        self.timer = None
        if self.dst is None or self.dst.is_closing():
            self.queue.clear()
            return
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now + _EARLY_S:
            self.dst.write(self.queue.popleft()[1])
        if self.queue:
            self.timer = self.loop.call_at(self.queue[0][0], self.flush)
        elif self.closing:
            self.dst.close()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; what it reads goes into `outgoing`."""

    def __init__(self, connection: _Connection, outgoing: _Direction, incoming: _Direction):
        self.connection = connection
        self.outgoing = outgoing
        self.incoming = incoming
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.incoming.attach(transport)

    def data_received(self, data: bytes) -> None:
        if self.connection.pending_gate is not None and self is self.connection.client:
            self.connection.pass_gate(data)
        else:
            self.outgoing.push(data)

    def eof_received(self) -> bool:
        self.outgoing.finish()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.outgoing.finish()
        self.connection.side_lost()

    def pause_writing(self) -> None:  # our socket is backed up: stop reading the other one
        self.connection.pause_reading(of=self)

    def resume_writing(self) -> None:
        self.connection.resume_reading(of=self)


class _Connection:
    def __init__(self, link: Link, loop: asyncio.AbstractEventLoop) -> None:
        self.link = link
        self.upstream_dir = _Direction(link, loop)  # client -> target
        self.downstream_dir = _Direction(link, loop)  # target -> client
        self.client = _Side(self, self.upstream_dir, self.downstream_dir)
        self.target = _Side(self, self.downstream_dir, self.upstream_dir)
        self.lost = 0
        # Bytes from the client held until its NATS CONNECT names the allowed gateway.
        self.pending_gate: bytearray | None = (
            bytearray() if link.config.gateway_from is not None else None
        )

    def pass_gate(self, data: bytes) -> None:
        assert self.pending_gate is not None
        self.pending_gate += data
        line, found, _ = bytes(self.pending_gate).partition(b"\r\n")
        if not found:
            if len(self.pending_gate) > _GATE_LIMIT:
                self._refuse("no CONNECT in the first bytes")
            return
        dialer = _gateway_name(line)
        if dialer != self.link.config.gateway_from:
            self._refuse(f"dialled by gateway {dialer!r}")
            return
        held, self.pending_gate = bytes(self.pending_gate), None
        self.upstream_dir.push(held)

    def _refuse(self, why: str) -> None:
        self.link.refused += 1
        log.info("%s: refused a connection: %s", self.link.config.name, why)
        self.abort()

    def other(self, side: _Side) -> _Side:
        return self.target if side is self.client else self.client

    def pause_reading(self, of: _Side) -> None:
        other = self.other(of).transport
        if other is not None and not other.is_closing():
            other.pause_reading()

    def resume_reading(self, of: _Side) -> None:
        other = self.other(of).transport
        if other is not None and not other.is_closing():
            other.resume_reading()

    def side_lost(self) -> None:
        self.lost += 1
        if self.lost >= 2:
            self.link.connections.discard(self)

    def abort(self) -> None:
        for direction in (self.upstream_dir, self.downstream_dir):
            direction.cancel()
        for side in (self.client, self.target):
            if side.transport is not None:
                side.transport.abort()
        self.link.connections.discard(self)


@dataclass
class Link:
    config: LinkConfig
    one_way_ms: float
    cut: bool = False
    server: asyncio.Server | None = None
    connections: set[_Connection] = field(default_factory=set)
    dialling: set[asyncio.Task[None]] = field(default_factory=set)
    accepted: int = 0
    refused: int = 0

    @property
    def delay_s(self) -> float:
        return self.one_way_ms / 1000.0

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            self._accept, self.config.listen_host, self.config.listen_port, reuse_address=True
        )

    def _accept(self) -> asyncio.Protocol:
        loop = asyncio.get_running_loop()
        connection = _Connection(self, loop)
        self.connections.add(connection)
        self.accepted += 1
        self.dialling.add(loop.create_task(self._dial(connection)))
        return connection.client

    async def _dial(self, connection: _Connection) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_connection(
                lambda: connection.target, self.config.target_host, self.config.target_port
            )
            transport.set_write_buffer_limits(high=_HIGH_WATER)
        except OSError as e:
            log.info("%s: cannot reach target: %s", self.config.name, e)
            connection.abort()
        finally:
            task = asyncio.current_task()
            if task is not None:
                self.dialling.discard(task)

    async def stop_listening(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    def status(self) -> dict[str, Any]:
        return {
            "name": self.config.name,
            "listen": f"{self.config.listen_host}:{self.config.listen_port}",
            "target": f"{self.config.target_host}:{self.config.target_port}",
            "configured_one_way_ms": self.config.one_way_ms,
            "one_way_ms": self.one_way_ms,
            "cut": self.cut,
            "listening": self.server is not None,
            "open_connections": len(self.connections),
            "accepted": self.accepted,
            "refused": self.refused,
        }


class LinkDaemon:
    def __init__(self, links: list[LinkConfig]) -> None:
        self.links = {config.name: Link(config, config.one_way_ms) for config in links}

    async def start(self) -> None:
        for link in self.links.values():
            await link.listen()

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        names = request.get("links") or list(self.links)
        unknown = [name for name in names if name not in self.links]
        if unknown:
            return {"ok": False, "error": f"unknown link(s): {', '.join(unknown)}"}
        chosen = [self.links[name] for name in names]
        if op == "cut":
            for link in chosen:
                link.cut = True
                await link.stop_listening()
                for connection in list(link.connections):
                    connection.abort()
        elif op == "heal":
            for link in chosen:
                link.one_way_ms = link.config.one_way_ms
                if link.cut or link.server is None:
                    link.cut = False
                    await link.listen()
        elif op == "slow":
            ms = request.get("ms")
            if not isinstance(ms, int | float) or not 0 <= ms <= 60_000:
                return {"ok": False, "error": "slow needs ms between 0 and 60000"}
            for link in chosen:
                link.one_way_ms = float(ms)
        elif op != "status":
            return {"ok": False, "error": f"unknown op {op!r}"}
        return {"ok": True, "links": [link.status() for link in chosen]}

    async def serve_control(self, path: Path) -> asyncio.Server:
        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                line = await asyncio.wait_for(reader.readline(), 5)
                try:
                    request = json.loads(line)
                    answer = await self.handle(request if isinstance(request, dict) else {})
                except ValueError:
                    answer = {"ok": False, "error": "request is not a JSON object"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
            except (TimeoutError, ConnectionError) as e:
                log.info("control client dropped: %s", e)
            finally:
                writer.close()

        # bound and listening under a temporary name, then renamed: whoever sees `path`
        # can connect (bind creates the file before listen(2), and a client connecting in
        # between is refused), and it is never there with the umask's mode
        staging = path.with_name(path.name + "~")
        _remove(staging)
        server = await asyncio.start_unix_server(on_client, path=str(staging))
        os.chmod(staging, 0o600)
        os.replace(staging, path)
        return server


def precise_event_loop() -> asyncio.AbstractEventLoop:
    """A selector loop on select(2): sub-millisecond timeouts (epoll rounds to 1 ms)."""
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _read_links(config_path: Path) -> list[LinkConfig]:
    raw = json.loads(config_path.read_text())
    return [LinkConfig(**link) for link in raw["links"]]


async def _main(config_path: Path, control_path: Path) -> None:
    daemon = LinkDaemon(_read_links(config_path))
    await daemon.start()
    control = await daemon.serve_control(control_path)
    log.info("linkd: %d links up, control at %s", len(daemon.links), control_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    control.close()
    for link in daemon.links.values():
        await link.stop_listening()
        for connection in list(link.connections):
            connection.abort()
    _remove(control_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bcastctl.lab.linkd")
    parser.add_argument("--config", type=Path, required=True, help="links JSON file")
    parser.add_argument("--control", type=Path, required=True, help="unix socket path")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    loop = precise_event_loop()
    try:
        loop.run_until_complete(_main(args.config, args.control))
    finally:
        with contextlib.suppress(Exception):
            loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
