"""What a fault did to one viewer, from its frame arrivals and the numbers the frames show."""

from __future__ import annotations

from bcastctl.drills.outcome import outcome
from bcastctl.whip.reconnecting import Move

FPS = 30


def _frames(start_s: float, end_s: float, first_number: int) -> list[tuple[float, int | None]]:
    count = round((end_s - start_s) * FPS)
    return [(start_s + i / FPS, (first_number + i) & 0xFFFF) for i in range(count)]


def test_a_viewer_that_kept_playing_was_not_affected() -> None:
    frames = _frames(0.0, 6.0, 0)
    result = outcome("v", frames, [], fault_at=2.0, now=6.0, gap_s=0.5)
    assert (result.affected, result.playing, result.recovery_s, result.frames_lost) == (
        False, True, None, 0,
    )  # fmt: skip


def test_recovery_runs_from_the_fault_to_the_first_frame_after_the_gap() -> None:
    # frames stop 0.1 s after the fault and come back 2.5 s after it, numbered by the clock
    frames = _frames(0.0, 2.1, 0) + _frames(4.5, 6.0, round(4.5 * FPS))
    moves = [Move("node does not answer", "a-0", detected_at=3.6, to_node="b-1")]
    result = outcome("v", frames, moves, fault_at=2.0, now=6.0, gap_s=0.5)
    assert result.affected and result.playing
    assert result.recovery_s == 2.5
    assert result.frames_lost == round(4.5 * FPS) - round(2.1 * FPS)
    assert result.describe() == (
        "v: back after 2.50 s, 72 frames lost, a-0 -> b-1 (node does not answer)"
    )


def test_a_viewer_still_dark_at_the_end_is_affected_and_not_back() -> None:
    frames = _frames(0.0, 2.0, 0)
    result = outcome("v", frames, [], fault_at=2.0, now=5.0, gap_s=0.5)
    assert result.affected and not result.playing and result.recovery_s is None
    assert result.describe() == "v: not back, 0 frames lost, same session"


def test_frame_numbers_wrap_at_16_bits() -> None:
    frames = [(0.0, 65534), (0.03, 65535), (1.0, 3)]
    result = outcome("v", frames, [], fault_at=0.05, now=1.1, gap_s=0.5)
    assert result.frames_lost == 3  # 0, 1 and 2 never arrived


def test_two_gaps_count_to_the_last_recovery_and_add_their_losses() -> None:
    frames = _frames(0.0, 1.0, 0) + _frames(2.0, 3.0, 60) + _frames(4.0, 5.0, 120)
    result = outcome("v", frames, [], fault_at=0.9, now=5.0, gap_s=0.5)
    assert result.recovery_s == 3.1
    assert result.frames_lost == (60 - 30) + (120 - 90)


def test_a_stale_frame_released_after_the_gap_does_not_hide_the_loss() -> None:
    # aiortc's stock jitter buffer holds the last frame before an outage until the next
    # packet arrives: it is decoded just before the new source's first frame
    frames = [*_frames(0.0, 1.0, 0), (3.0, 30), (3.03, 90), (3.06, 91)]
    result = outcome("v", frames, [], fault_at=1.0, now=3.1, gap_s=0.5)
    assert result.recovery_s == 2.0
    assert result.frames_lost == 59  # 31..89
