"""SDP checks before aiortc sees an offer, and codec helpers for answers.

Bad offers get a 4xx with a one-line reason instead of an aiortc traceback.
"""

from __future__ import annotations

from typing import Any

from bcastctl.node.http_errors import HttpProblem

SUPPORTED_VIDEO = ("video/VP8", "video/H264")


def media_kinds(offer: str) -> list[str]:
    """The kinds of the offer's m-lines, in order (port 0 = rejected m-line, skipped)."""
    kinds = []
    for line in offer.splitlines():
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) >= 3 and parts[1] != "0":
                kinds.append(parts[0])
    return kinds


def check_offer(body: bytes, content_type: str, need_video: bool = True) -> str:
    """The offer text, or HttpProblem(400/415) saying what is wrong with it."""
    if content_type and content_type not in ("application/sdp", "text/plain"):
        raise HttpProblem(415, f"Content-Type {content_type!r}: expected application/sdp")
    if not body.strip():
        raise HttpProblem(400, "empty body: expected an SDP offer")
    try:
        offer = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpProblem(400, "malformed SDP: not UTF-8 text") from None
    if not offer.lstrip().startswith("v=0"):
        raise HttpProblem(400, "malformed SDP: an offer starts with 'v=0'")
    kinds = media_kinds(offer)
    if not kinds:
        raise HttpProblem(400, "malformed SDP: no media (m=) line")
    if need_video and "video" not in kinds:
        raise HttpProblem(400, "the offer has no video")
    if "a=fingerprint:" not in offer or "a=ice-ufrag:" not in offer:
        raise HttpProblem(400, "malformed SDP: no DTLS fingerprint or ICE credentials")
    return offer.replace("\r\n", "\n").replace("\n", "\r\n")


def answer_codecs(answer: str) -> dict[str, Any]:
    """kind -> the first (sending) non-RTX codec of each m-line in our answer."""
    from aiortc.sdp import SessionDescription

    chosen: dict[str, Any] = {}
    for media in SessionDescription.parse(answer).media:
        for codec in media.rtp.codecs:
            if codec.mimeType.lower().endswith("/rtx"):
                continue
            chosen.setdefault(media.kind, codec)
            break
    return chosen


def preferences_for(kind: str, mime: str) -> list[Any]:
    """Codec preferences that make an answer offer exactly `mime` (+ its RTX)."""
    from aiortc import RTCRtpSender

    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in capabilities if c.mimeType.lower() == mime.lower()]
    rtx = [c for c in capabilities if c.mimeType.lower().endswith("/rtx")]
    return chosen + rtx
