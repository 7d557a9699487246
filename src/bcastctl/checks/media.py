"""media (opt-in, `--media`): publish in every region, view from every other region.

Per selected region A, a synthetic stream is published by WHIP to one of A's
nodes; then, for every other region B, a viewer asks one of B's nodes by WHEP
(retrying the 404 until the registry has spread the stream) and counts decoded
frames. One result per pair A->B: the time to first frame (from the viewer's
offer) and the frames received in a fixed window after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Sequence
from typing import Any, Final

from bcastctl.checks.base import Check, CheckContext, CheckResult, Finding, fail, ok, pair, skip
from bcastctl.errors import BcastError
from bcastctl.targets.base import Endpoint, EndpointSignalling, RegionEndpoints, get_json
from bcastctl.targets.capabilities import whip_token_source
from bcastctl.whip.client import ClientSession, publish, rtc_configuration, view
from bcastctl.whip.signalling import WhipError

NAME: Final = "media"
WHIP_TOKEN_ENV = "BCASTCTL_WHIP_TOKEN"
WINDOW_S = 1.5  # frames are counted for this long after the first one
FPS = 30


class FirstFrame(Finding):
    """Scope "A->B": a viewer in B of a stream published in A."""

    check = NAME
    first_frame_ms: float | None  # from the viewer's offer to its first decoded frame
    frames: int  # frames decoded in WINDOW_S after the first


def _signalling(region: RegionEndpoints) -> Endpoint | None:
    return next((node.signalling for node in region.nodes if node.signalling), None)


async def whip_token(ctx: CheckContext) -> str | None:
    """BCASTCTL_WHIP_TOKEN, else the target's own (the lab knows its secrets)."""
    if os.environ.get(WHIP_TOKEN_ENV):
        return os.environ[WHIP_TOKEN_ENV]
    source = whip_token_source(ctx.target)
    return await source.whip_token() if source is not None else None


def judge_frames(check: str, scope: str, started: float, frame_times: list[float]) -> CheckResult:
    """The viewer's verdict: its first frame's delay after `started` (the offer), and the
    frames that arrived in WINDOW_S from the first (times from time.monotonic())."""
    if not frame_times:
        return fail(check, scope, "no frame arrived", hint="see nats-gateways: media crosses them")
    first_ms = round((frame_times[0] - started) * 1000, 1)
    frames = sum(1 for at in frame_times if at <= frame_times[0] + WINDOW_S)
    message = f"first frame after {first_ms:g} ms, {frames} frames in {WINDOW_S:g} s"
    finding = FirstFrame(first_frame_ms=first_ms, frames=frames)
    return ok(check, scope, message, values=finding.as_values())


async def _view_pair(
    ctx: CheckContext, viewer_at: Endpoint, stream: str, config: Any, deadline: float
) -> ClientSession:
    """WHEP until the stream is known in the viewer's region (404 until the registry spreads)."""
    signalling = EndpointSignalling(ctx.target, viewer_at)
    while True:
        try:
            return await view(signalling, stream, config=config, timeout_s=ctx.timeout_s)
        except WhipError as e:
            if e.status != 404 or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def _measure(
    ctx: CheckContext, check: str, scope: str, viewer_at: Endpoint, stream: str, config: Any
) -> CheckResult:
    deadline = time.monotonic() + ctx.timeout_s - WINDOW_S - 1.0
    try:
        session = await _view_pair(ctx, viewer_at, stream, config, deadline)
    except BcastError as e:
        return fail(
            check, scope, f"viewer refused: {e.message}", hint="see registry and membership"
        )
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                session.first_frame.wait(), max(0.0, deadline - time.monotonic())
            )
        if session.frame_times:
            await asyncio.sleep(max(0.0, session.frame_times[0] + WINDOW_S - time.monotonic()))
        return judge_frames(check, scope, session.started, session.frame_times)
    finally:
        await session.close()


class Media(Check):
    name = NAME
    title = "publish by WHIP in each region, view by WHEP from every other"
    layer = "media"
    needs = frozenset({"media"})
    per_region = False
    runs_after_others = True  # its streams must not race the registry check

    async def run_fleet(
        self, ctx: CheckContext, regions: Sequence[RegionEndpoints]
    ) -> list[CheckResult]:
        token = await whip_token(ctx)
        if token is None:
            return [skip(self.name, "fleet", f"no WHIP token: set {WHIP_TOKEN_ENV}", kind="fleet")]
        everyone = {r.name: r for r in regions}
        for name in ctx.target.region_names:
            if name not in everyone:
                try:
                    everyone[name] = await ctx.region(name)
                except BcastError:
                    continue
        runs = [self._from(ctx, region, everyone, token) for region in regions]
        return [result for results in await asyncio.gather(*runs) for result in results]

    async def _from(
        self,
        ctx: CheckContext,
        region: RegionEndpoints,
        everyone: dict[str, RegionEndpoints],
        token: str,
    ) -> list[CheckResult]:
        from bcastctl.whip.synthetic import SyntheticVideo  # aiortc, only when media runs

        publish_at = _signalling(region)
        viewers = {n: _signalling(r) for n, r in everyone.items() if n != region.name}
        if publish_at is None:
            return [fail(self.name, region.name, "no running node to publish to")]
        pc_config = await get_json(ctx.target, publish_at, "/api/pc-config", None, ctx.timeout_s)
        loopback = ctx.target.kind == "lab" and not ctx.media_relay
        config = rtc_configuration(pc_config, loopback=loopback)
        stream = f"verify-{region.name}-{secrets.token_hex(3)}"
        try:
            publisher = await publish(
                EndpointSignalling(ctx.target, publish_at),
                stream,
                token,
                SyntheticVideo(width=320, height=180, fps=30),
                config=config,
                timeout_s=ctx.timeout_s,
            )
        except BcastError as e:
            return [fail(self.name, region.name, f"publish refused: {e.message}")]
        try:
            measured = await asyncio.gather(
                *(
                    _measure(ctx, self.name, pair(region.name, other), at, stream, config)
                    if at is not None
                    else _no_node(self.name, pair(region.name, other))
                    for other, at in viewers.items()
                )
            )
        finally:
            await publisher.close(token)
        return list(measured)


async def _no_node(check: str, scope: str) -> CheckResult:
    return fail(check, scope, "no running node to view from")
