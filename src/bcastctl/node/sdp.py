"""SDP checks before aiortc sees an offer, and codec helpers for answers.

Bad offers get a 4xx with a one-line reason instead of an aiortc traceback: the
offer is parsed once here (aiortc's own parser, so what passes is what aiortc will
read), and what aiortc would trip over later (no DTLS role, no video codec this node
can forward) is refused with a reason that names it.
"""

from __future__ import annotations

from typing import Any

from bcastctl.node.http_errors import HttpProblem

SUPPORTED_VIDEO = ("video/VP8", "video/H264")
_NOT_MEDIA_CODECS = ("rtx", "red", "ulpfec", "flexfec-03")


def media_kinds(offer: str) -> list[str]:
    """The kinds of the offer's m-lines, in order (port 0 = rejected m-line, skipped)."""
    kinds = []
    for line in offer.splitlines():
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) >= 3 and parts[1] != "0":
                kinds.append(parts[0])
    return kinds


def offered_codecs(offer: str, kind: str) -> list[str]:
    """The media codecs (no RTX/FEC) the offer's `kind` m-lines list, e.g. ["VP8", "H264"]."""
    names: list[str] = []
    for media in _parse(offer).media:
        if media.kind != kind or media.port == 0:
            continue
        for codec in media.rtp.codecs:
            name = str(codec.mimeType).partition("/")[2]
            if name.lower() not in _NOT_MEDIA_CODECS and name not in names:
                names.append(name)
    return names


def _parse(offer: str) -> Any:
    from aiortc.sdp import SessionDescription

    try:
        return SessionDescription.parse(offer)
    except Exception:  # aiortc's parser asserts, indexes and int()s client text
        raise HttpProblem(
            400,
            "malformed SDP: it cannot be parsed "
            "(check the m=, a=rtpmap, a=fmtp, a=candidate and a=ssrc lines)",
        ) from None


def _check_media_lines(offer: str) -> None:
    """`m=<media> <port>[/<count>] <proto> <fmt> ...` (RFC 8866 5.14), with a numeric port."""
    for line in offer.split("\r\n"):
        if not line.startswith("m="):
            continue
        shown = line[:60]
        parts = line[2:].split(" ")
        if len(parts) < 4:
            raise HttpProblem(
                400, f"malformed SDP: {shown!r}: expected m=<media> <port> <proto> <fmt>"
            )
        port = parts[1].partition("/")[0]
        if not (port.isascii() and port.isdigit() and int(port) <= 65535):
            raise HttpProblem(
                400, f"malformed SDP: {shown!r}: port {parts[1][:12]!r} is not a number"
            )


def check_offer(body: bytes, content_type: str, need_video: bool = True) -> str:
    """The offer text, or HttpProblem(400/415) saying what is wrong with it."""
    if content_type and content_type not in ("application/sdp", "text/plain"):
        raise HttpProblem(415, f"Content-Type {content_type[:60]!r}: expected application/sdp")
    if not body.strip():
        raise HttpProblem(400, "empty body: expected an SDP offer")
    try:
        offer = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpProblem(400, "malformed SDP: not UTF-8 text") from None
    if not offer.lstrip().startswith("v=0"):
        raise HttpProblem(400, "malformed SDP: an offer starts with 'v=0'")
    offer = offer.strip().replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n"
    kinds = media_kinds(offer)
    if not kinds:
        raise HttpProblem(400, "malformed SDP: no media (m=) line")
    if need_video and "video" not in kinds:
        raise HttpProblem(400, "the offer has no video")
    if "a=fingerprint:" not in offer or "a=ice-ufrag:" not in offer:
        raise HttpProblem(400, "malformed SDP: no DTLS fingerprint or ICE credentials")
    _check_media_lines(offer)
    _check_parsed(_parse(offer), need_video)
    return offer


def _check_parsed(description: Any, need_video: bool) -> None:
    mids = [media.rtp.muxId for media in description.media if media.rtp.muxId]
    for mid in mids:
        if mids.count(mid) > 1:  # RFC 8843 section 7.2.3: unique within the description
            raise HttpProblem(400, f"malformed SDP: a=mid:{mid[:16]} names two m-lines")
    for media in description.media:
        if media.port == 0:
            continue
        if not media.rtp.muxId:  # JSEP (RFC 8829) offers carry a=mid in every m-section
            raise HttpProblem(400, f"malformed SDP: m={media.kind} has no a=mid")
        if media.dtls is None:
            raise HttpProblem(
                400, f"malformed SDP: m={media.kind} has no a=setup (DTLS role) or fingerprint"
            )
        if not media.ice.usernameFragment or not media.ice.password:
            raise HttpProblem(400, f"malformed SDP: m={media.kind} has no ICE credentials")
    live = [media for media in description.media if media.port != 0]
    first = live[0] if live else None  # the (bundle) transport's m-section
    if first is not None and first.ice_candidates_complete and not first.ice_candidates:
        raise HttpProblem(
            400, f"m={first.kind} ends its ICE candidates (a=end-of-candidates) without one"
        )
    if need_video:
        _check_video_codecs(description)


def _check_video_codecs(description: Any) -> None:
    offered: list[str] = []
    for media in description.media:
        if media.kind == "video" and media.port != 0:
            offered += [str(c.mimeType) for c in media.rtp.codecs]
    forwardable = {mime.lower() for mime in SUPPORTED_VIDEO}
    if not any(mime.lower() in forwardable for mime in offered):
        names = [m.partition("/")[2] for m in dict.fromkeys(offered)]
        names = [n for n in names if n.lower() not in _NOT_MEDIA_CODECS] or ["none"]
        supported = ", ".join(m.partition("/")[2] for m in SUPPORTED_VIDEO)
        raise HttpProblem(
            400,
            f"no video codec this node can forward: offered {', '.join(names)}; "
            f"supported {supported}",
        )


def check_receivable(offer: str, stream: str, mime: str | None) -> None:
    """A viewer's offer must list the codec the stream is sent in (passthrough: no transcode)."""
    if mime is None:
        return
    offered = offered_codecs(offer, "video")
    if mime.partition("/")[2].lower() not in (name.lower() for name in offered):
        raise HttpProblem(
            406,
            f"stream {stream!r} is sent as {mime}, which the offer does not accept "
            f"(offered {', '.join(offered) or 'none'})",
        )


def one_line(error: BaseException) -> str:
    """What aiortc said about an offer it refused, as one short line. Its own errors
    (OperationError, InvalidAccessError, ValueError raised by its checks) are written for
    people; anything else is a parser tripping over the text, named without internals."""
    text = " ".join(str(error).split())[:160]
    readable = type(error).__module__ == "aiortc.exceptions" or (
        type(error) is ValueError and not text.startswith(("invalid literal", "not enough"))
    )
    return text if readable and text else "it is not a valid WebRTC offer"


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
