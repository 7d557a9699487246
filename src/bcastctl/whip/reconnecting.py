"""A viewer and a publisher that keep going through failures, the way the node's pages do.

`ReconnectingViewer` watches a stream (WHEP) and, when its session fails or no frame
arrives for `stall_s` while its node no longer answers `GET /api/streams/<id>` (or
answers that it cannot tell), asks its `Chooser` for candidates (an RTT election: best
region first) and POSTs again with backoff; a publisher that is merely away
(`held: false`) keeps the session, as node/static/watch.js does: the node resumes it
when the stream is published again (node/continuity.py). A 404 (the stream is
not published yet, or again) is retried every `MISSING_RETRY_S`.

`ReconnectingPublisher` publishes numbered synthetic frames (WHIP) and, when its node
stops answering or no longer holds the stream, publishes the same stream again on the
next candidate, as OBS does after a network blip; the numbering carries on with the
clock, so a viewer counts the frames an outage cost.

Both record what a drill measures: every decoded frame's arrival and number, and every
move from one node to another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bcastctl.errors import BcastError
from bcastctl.protocol import STREAMS_PATH
from bcastctl.whip.client import ClientSession, publish, rtc_configuration, view
from bcastctl.whip.signalling import Signalling, WhipError
from bcastctl.whip.synthetic import SyntheticVideo, read_number

log = logging.getLogger("bcastctl.whip.reconnecting")

MISSING_RETRY_S = 0.25
BACKOFF_FIRST_S = 0.25
BACKOFF_MAX_S = 5.0
TICK_S = 0.1
AVOID_S = 5.0  # a node that failed us goes to the back of the list this long


@dataclass(frozen=True)
class Candidate:
    """A node to (re)connect to: its name, region and signalling origin."""

    name: str
    region: str
    url: str


Chooser = Callable[[frozenset[str]], Awaitable[list[Candidate]]]
"""Candidates best first; the node URLs in the argument failed recently (try them last)."""

SignallingFor = Callable[[str], Signalling]
"""The signalling endpoint at a node URL (e.g. HttpSignalling bound to one aiohttp session)."""


@dataclass
class Move:
    """One reconnection: why, from where to where, and when."""

    reason: str
    from_node: str | None
    detected_at: float  # time.monotonic()
    to_node: str | None = None
    connected_at: float | None = None


def _unusable(error: BcastError) -> str:
    """Why a node that was asked about the stream is no longer worth staying on."""
    if isinstance(error, WhipError):
        return f"node answered {error.status} {error.reason}"
    return "node does not answer"


def _arrived(moves: list[Move], candidate: Candidate) -> None:
    """The last move, if still open, ends on `candidate` now."""
    if moves and moves[-1].to_node is None:
        moves[-1].to_node = candidate.name
        moves[-1].connected_at = time.monotonic()


async def _first_taker(
    candidates_for: Callable[[], Awaitable[list[Candidate]]],
    attempt: Callable[[Candidate], Awaitable[ClientSession]],
    wait_status: int,
    on_failure: Callable[[Candidate], None],
    first: list[Candidate] | None,
    limit: int | None = None,
) -> tuple[Candidate, ClientSession]:
    """The first candidate that takes the session, asking again until one does.

    `wait_status` (404 for a viewer, 409 for a publisher) says the stream is not ready
    anywhere yet: retried every MISSING_RETRY_S; other failures back off, and the node
    that failed is reported to `on_failure`."""
    failures = 0
    while True:
        candidates = first or await candidates_for()
        first = None
        waiting = False
        for candidate in candidates[:limit]:
            try:
                return candidate, await attempt(candidate)
            except WhipError as e:
                waiting = waiting or e.status == wait_status
                if e.status != wait_status:
                    on_failure(candidate)
            except BcastError:
                on_failure(candidate)
        failures = 0 if waiting else failures + 1
        await asyncio.sleep(MISSING_RETRY_S if waiting else backoff_s(failures))


def backoff_s(attempt: int) -> float:
    return 0.0 if attempt == 0 else min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1))


async def stream_status(signalling: Signalling, stream: str, timeout_s: float) -> dict[str, Any]:
    """The node's protocol.StreamStatus; BcastError when it does not answer 200."""
    answer = await signalling.request("GET", f"{STREAMS_PATH}/{stream}", timeout_s=timeout_s)
    if answer.status != 200:
        raise WhipError.from_answer(answer)
    status: dict[str, Any] = json.loads(answer.body)
    return status


@dataclass
class ReconnectingViewer:
    label: str
    stream: str
    choose: Chooser
    signalling_for: SignallingFor
    stall_s: float = 1.5
    publisher_gone_s: float = 15.0
    probe_timeout_s: float = 0.8
    frames: list[tuple[float, int | None]] = field(default_factory=list)  # (arrival, number)
    moves: list[Move] = field(default_factory=list)
    node: Candidate | None = None
    _avoid: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _session: ClientSession | None = None

    def start(self, first: list[Candidate] | None = None) -> None:
        self._task = asyncio.create_task(self._run(first), name=f"viewer {self.label}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close(timeout_s=1.0)

    def _on_frame(self, at: float, frame: Any) -> None:
        self.frames.append((at, read_number(frame) if frame is not None else None))

    async def _run(self, first: list[Candidate] | None) -> None:
        candidates = first
        while True:
            self._session = await self._connect(candidates)
            candidates = None
            reason = await self._watch(self._session)
            assert self.node is not None
            log.info("viewer %s on %s: %s", self.label, self.node.name, reason)
            self._avoid[self.node.url] = time.monotonic() + AVOID_S
            self.moves.append(Move(reason, self.node.name, time.monotonic()))
            session, self._session = self._session, None
            await session.close(timeout_s=0.5)

    def _avoided(self) -> frozenset[str]:
        now = time.monotonic()
        return frozenset(url for url, until in self._avoid.items() if until > now)

    async def _connect(self, first: list[Candidate] | None) -> ClientSession:
        async def attempt(candidate: Candidate) -> ClientSession:
            return await view(
                self.signalling_for(candidate.url),
                self.stream,
                config=rtc_configuration(loopback=True),
                on_frame=self._on_frame,
                timeout_s=5.0,
            )

        def avoid(candidate: Candidate) -> None:
            self._avoid[candidate.url] = time.monotonic() + AVOID_S

        self.node, session = await _first_taker(
            lambda: self.choose(self._avoided()), attempt, 404, avoid, first, limit=3
        )
        _arrived(self.moves, self.node)
        return session

    async def _watch(self, session: ClientSession) -> str:
        """Returns why the session is no longer worth keeping."""
        assert self.node is not None
        signalling = self.signalling_for(self.node.url)
        started = time.monotonic()
        held_since: float | None = None  # published (again) since, and no frame here yet
        while True:
            await asyncio.sleep(TICK_S)
            state = session.pc.connectionState
            if state in ("failed", "closed"):
                return f"connection {state}"
            now = time.monotonic()
            stalled = now - (session.frames[-1][0] if session.frames else started)
            if stalled < self.stall_s:
                held_since = None
                continue
            try:
                status = await stream_status(signalling, self.stream, self.probe_timeout_s)
            except BcastError as e:
                return _unusable(e)
            if not status["held"]:
                held_since = None
                if stalled > self.publisher_gone_s:
                    return "publisher gone"
                continue
            # a publisher that came back gets stall_s for the node to resume this session
            held_since = now if held_since is None else held_since
            if now - held_since > self.stall_s:
                return "stream stalled"


@dataclass
class ReconnectingPublisher:
    stream: str
    token: str
    choose: Chooser
    signalling_for: SignallingFor
    width: int = 320
    height: int = 180
    fps: int = 30
    probe_timeout_s: float = 0.8
    moves: list[Move] = field(default_factory=list)
    node: Candidate | None = None
    _started_at: float | None = None
    _task: asyncio.Task[None] | None = None
    _session: ClientSession | None = None
    _live: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, first: list[Candidate], timeout_s: float = 10.0) -> None:
        """Publish on the first candidate that takes it, then keep the stream published."""
        self._task = asyncio.create_task(self._run(first), name=f"publisher {self.stream}")
        await asyncio.wait_for(self._live.wait(), timeout_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close(self.token, timeout_s=1.0)

    def _track(self) -> SyntheticVideo:
        now = time.monotonic()
        self._started_at = self._started_at or now
        number = int((now - self._started_at) * self.fps) & 0xFFFF
        return SyntheticVideo(self.width, self.height, self.fps, first_number=number)

    async def _run(self, first: list[Candidate]) -> None:
        candidates: list[Candidate] | None = first
        while True:
            self._session = await self._publish(candidates)
            candidates = None
            self._live.set()
            reason = await self._watch(self._session)
            assert self.node is not None
            log.info("publisher on %s: %s; publishing again", self.node.name, reason)
            self.moves.append(Move(reason, self.node.name, time.monotonic()))
            session, self._session = self._session, None
            await session.close(self.token, timeout_s=0.5)

    async def _publish(self, first: list[Candidate] | None) -> ClientSession:
        async def attempt(candidate: Candidate) -> ClientSession:
            return await publish(
                self.signalling_for(candidate.url),
                self.stream,
                self.token,
                self._track(),
                config=rtc_configuration(loopback=True),
                timeout_s=5.0,
            )

        # 409: the stream's old claim (ours, on a node that died) until it expires
        self.node, session = await _first_taker(
            lambda: self.choose(frozenset()), attempt, 409, lambda candidate: None, first
        )
        _arrived(self.moves, self.node)
        return session

    async def _watch(self, session: ClientSession) -> str:
        assert self.node is not None
        signalling = self.signalling_for(self.node.url)
        while True:
            await asyncio.sleep(TICK_S * 2)
            if session.pc.connectionState in ("failed", "closed"):
                return f"connection {session.pc.connectionState}"
            try:
                status = await stream_status(signalling, self.stream, self.probe_timeout_s)
            except BcastError as e:
                return _unusable(e)
            if status["held"] and status["node"] != self.node.name:
                return f"the stream is held by {status['node']}"
