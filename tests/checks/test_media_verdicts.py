"""media's verdict on what a viewer received, and where its WHIP token comes from (no lab)."""

from __future__ import annotations

import pytest

from bcastctl.checks import media
from bcastctl.checks.base import Status

# (case, frame arrival times after the offer at t=100.0, status, first_frame_ms, frames)
FRAMES = [
    ("nothing arrived", [], Status.fail, None, None),
    ("30 fps from 80 ms", [100.08 + i / 30 for i in range(90)], Status.ok, 80.0, 46),
    ("a late first frame", [102.5, 102.6], Status.ok, 2500.0, 2),
    ("a stall after the first frame", [100.1, 103.0], Status.ok, 100.0, 1),
]  # fmt: skip


@pytest.mark.parametrize(("case", "times", "status", "first_ms", "frames"), FRAMES,
                         ids=[f[0] for f in FRAMES])  # fmt: skip
def test_judge_frames(
    case: str, times: list[float], status: Status, first_ms: float | None, frames: int | None
) -> None:
    result = media.judge_frames(media.NAME, "a->b", 100.0, times)
    assert result.status == status
    finding = media.FirstFrame.of(result)
    if status == Status.fail:
        assert finding is None and result.message == "no frame arrived"
    else:
        assert finding == media.FirstFrame(first_frame_ms=first_ms, frames=frames)
        assert f"first frame after {first_ms:g} ms" in result.message
