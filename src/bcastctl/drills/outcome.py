"""What a fault did to one viewer, read from its frame arrivals and frame numbers.

A viewer was affected when, after the fault, no frame arrived for longer than `gap_s`
(measured from its last frame before the fault). It recovered when frames flow again:
the recovery time runs from the fault to the first frame after its last such gap, and
the frames lost are the numbers missing after the fault (the publisher numbers its
frames by the clock, so an outage of one second at 30 fps loses about 30).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bcastctl.whip.reconnecting import Move

NUMBERS = 1 << 16  # SyntheticVideo numbers wrap at 16 bits


@dataclass(frozen=True)
class ViewerOutcome:
    viewer: str
    affected: bool
    playing: bool  # a frame within the last gap_s
    recovery_s: float | None  # None: affected and not decoding again (yet)
    frames_lost: int
    moves: tuple[str, ...]  # "a-0 -> b-1 (node does not answer)"

    def describe(self) -> str:
        if not self.affected:
            return f"{self.viewer}: not affected"
        back = "not back" if self.recovery_s is None else f"back after {self.recovery_s:.2f} s"
        moved = f", {'; '.join(self.moves)}" if self.moves else ", same session"
        return f"{self.viewer}: {back}, {self.frames_lost} frames lost{moved}"


def _lost(before: int | None, after: int) -> int:
    """Numbers skipped going forward from `before` to `after` (0 for a repeat or reorder)."""
    if before is None:
        return 0
    skipped = (after - before - 1) % NUMBERS
    return skipped if skipped < NUMBERS // 2 else 0


def outcome(
    viewer: str,
    frames: Sequence[tuple[float, int | None]],
    moves: Sequence[Move],
    fault_at: float,
    now: float,
    gap_s: float,
) -> ViewerOutcome:
    before = [frame for frame in frames if frame[0] <= fault_at]
    previous = before[-1] if before else (fault_at, None)
    last_number = previous[1]
    affected = False
    recovered_at: float | None = None
    lost = 0
    for arrival, number in frames[len(before) :]:
        if arrival - previous[0] > gap_s:
            affected, recovered_at = True, arrival
        # counted by numbers, not at the time gap: a receiver may hold the last frame
        # before an outage until the next source's first packet releases it
        if number is not None:
            lost += _lost(last_number, number)
            last_number = number
        previous = (arrival, number)
    playing = now - previous[0] <= gap_s
    if not playing:
        affected, recovered_at = True, None
    described = tuple(
        f"{m.from_node} -> {m.to_node or '?'} ({m.reason})"
        for m in moves
        if m.detected_at > fault_at
    )
    return ViewerOutcome(
        viewer=viewer,
        affected=affected,
        playing=playing,
        recovery_s=None if recovered_at is None else round(recovered_at - fault_at, 3),
        frames_lost=lost,
        moves=described,
    )
