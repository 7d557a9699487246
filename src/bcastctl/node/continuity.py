"""Stream continuity: viewers keep their sessions while a stream's source changes.

When a stream's publisher leaves this node, or the node this node relays it from stops
holding it (the publisher left, or its node died), the viewers' fan-outs are held here
for `HOLD_S` instead of being closed. The next source of the same stream with the same
codec, a publisher here again or a holder elsewhere, adopts them (`adopter`): the
viewers' sessions, SSRCs and sequence numbers stay, timestamps run on
(fanout.TimestampRebase), every viewer waits for the new source's first keyframe and
one is asked for at once. A hold that no source adopts in time ends those viewers'
sessions, as before.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from bcastctl.node.fanout import Fanout
from bcastctl.node.metrics import Metrics

log = logging.getLogger("bcastctl.node.continuity")

HOLD_S = 15.0  # a publisher reconnecting (OBS retries within seconds) finds its viewers here

Adopt = Callable[[str, str, Callable[[], None]], Fanout | None]
"""(kind, mimeType, keyframe request sender) -> a held fan-out now fed by the caller."""


class Continuity:
    def __init__(
        self, metrics: Metrics, end_viewers: Callable[[str], None], hold_s: float = HOLD_S
    ) -> None:
        self._metrics = metrics
        self._end_viewers = end_viewers
        self._hold_s = hold_s
        self._held: dict[str, dict[str, Fanout]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def hold(self, stream: str, fanouts: dict[str, Fanout]) -> None:
        """Keep the watched fan-outs of a stream whose source went away."""
        for kind, fanout in fanouts.items():
            if not fanout.viewers:
                fanout.close()
                continue
            fanout.detach_source()
            fanout.on_empty = functools.partial(self._check_watched, stream)
            self._held.setdefault(stream, {})[kind] = fanout
        if stream not in self._held:
            return
        viewers = max(len(f.viewers) for f in self._held[stream].values())
        log.info(
            "stream %s lost its source: %d viewers kept for %g s", stream, viewers, self._hold_s
        )
        self._metrics.inc("streams_held_total")
        if stream in self._timers:
            self._timers[stream].cancel()
        loop = asyncio.get_running_loop()
        self._timers[stream] = loop.call_later(self._hold_s, self._expire, stream)

    def waiting(self) -> list[str]:
        """Streams whose viewers wait for a source."""
        return list(self._held)

    def adopter(self, stream: str) -> Adopt:
        def adopt(kind: str, mime: str, send_keyframe: Callable[[], None]) -> Fanout | None:
            return self._adopt(stream, kind, mime, send_keyframe)

        return adopt

    def _adopt(
        self, stream: str, kind: str, mime: str, send_keyframe: Callable[[], None]
    ) -> Fanout | None:
        held = self._held.get(stream)
        fanout = held.pop(kind, None) if held is not None else None
        if held is not None and not held:
            self._forget(stream)
        if fanout is None:
            return None
        if fanout.mime.lower() != mime.lower():
            log.warning(
                "stream %s came back as %s, its viewers receive %s: ending them",
                stream,
                mime,
                fanout.mime,
            )
            fanout.close()
            self._end_viewers(stream)
            return None
        fanout.resume(send_keyframe)
        log.info("stream %s: %d %s viewers resumed", stream, len(fanout.viewers), kind)
        return fanout

    def _check_watched(self, stream: str) -> None:
        held = self._held.get(stream, {})
        if held and all(not fanout.viewers for fanout in held.values()):
            self._forget(stream)

    def _forget(self, stream: str) -> None:
        self._held.pop(stream, None)
        timer = self._timers.pop(stream, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, stream: str) -> None:
        self._timers.pop(stream, None)
        held = self._held.pop(stream, {})
        if held:
            log.info(
                "stream %s did not come back in %g s: ending its viewers", stream, self._hold_s
            )
        for fanout in held.values():
            fanout.close()
        self._end_viewers(stream)

    def close(self) -> None:
        for stream in list(self._held):
            for fanout in self._held[stream].values():
                fanout.close()
            self._forget(stream)
