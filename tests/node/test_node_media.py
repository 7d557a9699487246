"""Media through real nodes: WHIP publish, WHEP view on the same node and across regions."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, until, wait_for

from bcastctl.node.sdp import answer_codecs
from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling, WhipError
from bcastctl.whip.synthetic import SyntheticVideo, read_number

pytestmark = pytest.mark.slow


async def test_viewer_in_other_region_decodes_the_published_frames_without_reencode(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    a = start_node("m-a", r1, "127.0.0.51")
    b = start_node("m-b", r2, "127.0.0.52")
    await asyncio.to_thread(wait_for, "b sees a", lambda: "m-a" in b.member_names())
    source = SyntheticVideo(320, 180)
    publisher = await publish(HttpSignalling(http, a.signalling), "cam1", WHIP_TOKEN, source)
    await asyncio.to_thread(wait_for, "registry on b", lambda: "cam1" in b.cluster()["registry"])
    assert b.cluster()["registry"]["cam1"] == {"node": "m-a", "region": "r1"}
    local = await view(HttpSignalling(http, a.signalling), "cam1", keep_frames=True)
    remote = await view(HttpSignalling(http, b.signalling), "cam1", keep_frames=True)
    await until(
        "30 frames on both viewers", lambda: len(local.frames) >= 30 and len(remote.frames) >= 30
    )
    # past the first interest lease: the holder keeps relaying while b renews it
    await until(
        "5 s of frames on the remote viewer",
        lambda: remote.frames[-1][0] - remote.frames[0][0] > 5.0,
        20,
    )
    recent = [t for t, _ in remote.frames if t > remote.frames[-1][0] - 1.0]
    assert len(recent) >= 20, f"{len(recent)} frames in the last second"
    numbers = [read_number(f) for _, f in remote.frames]
    readable = [n for n in numbers if n is not None]
    assert len(readable) >= 25, numbers
    assert readable == sorted(readable) and all(n in source.sent_at for n in readable)
    assert (remote.frames[-1][1].width, remote.frames[-1][1].height) == (320, 180)
    for closing, token in ((local, None), (remote, None), (publisher, WHIP_TOKEN)):
        assert await closing.close(token) == 200
    # no re-encode on the way: every track passed through, nothing fell back to MediaRelay
    assert a.metric("passthrough_tracks_total") == 1 and a.metric("fallback_tracks_total") == 0
    assert a.metric("frames_relayed_out_total") > 0 and b.metric("frames_relayed_in_total") > 0
    assert b.metric("frames_forwarded_total") > 0 and b.metric("fallback_tracks_total") == 0
    # both viewers were written by the direct RTP path, none by aiortc's per-viewer task
    for node in (a, b):
        assert node.metric("viewer_tracks_direct_total") == 1
        assert node.metric("viewer_tracks_stock_sender_total") == 0
    await asyncio.to_thread(
        wait_for, "stream leaves b's registry", lambda: "cam1" not in b.cluster()["registry"]
    )


async def test_second_publisher_conflicts_and_unknown_stream_is_404(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    a = start_node("c-a", r1, "127.0.0.61")
    b = start_node("c-b", r2, "127.0.0.62")
    await asyncio.to_thread(wait_for, "b sees a", lambda: "c-a" in b.member_names())
    first = await publish(
        HttpSignalling(http, a.signalling), "dup", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    await asyncio.to_thread(wait_for, "registry on b", lambda: "dup" in b.cluster()["registry"])
    with pytest.raises(WhipError) as conflict:
        await publish(
            HttpSignalling(http, b.signalling), "dup", WHIP_TOKEN, SyntheticVideo(160, 96)
        )
    assert conflict.value.status == 409 and "c-a" in conflict.value.reason
    with pytest.raises(WhipError) as unknown:
        await view(HttpSignalling(http, b.signalling), "nope")
    assert unknown.value.status == 404 and "unknown stream" in unknown.value.reason
    await first.close(WHIP_TOKEN)


async def test_relay_path_decodes_and_reencodes_is_counted_and_reaches_other_nodes(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    a = start_node("f-a", r1, "127.0.0.81", BCAST_MEDIA_PATH="relay")
    b = start_node("f-b", r2, "127.0.0.82")
    source = SyntheticVideo(160, 96)
    publisher = await publish(HttpSignalling(http, a.signalling), "relayed", WHIP_TOKEN, source)
    viewer = await view(HttpSignalling(http, a.signalling), "relayed", keep_frames=True)
    await until("10 frames", lambda: len(viewer.frames) >= 10)
    assert a.metric("fallback_tracks_total") == 1 and a.metric("passthrough_tracks_total") == 0
    assert "MediaRelay" in a.log()
    await asyncio.to_thread(wait_for, "registry on b", lambda: "relayed" in b.cluster()["registry"])
    assert a.metric("frames_reencoded_for_relay_total") == 0  # nobody else watches yet
    # a viewer on another node still watches: a encodes the decoded track once for NATS
    remote = await view(HttpSignalling(http, b.signalling), "relayed", keep_frames=True)
    await until("10 frames on the other node", lambda: len(remote.frames) >= 10)
    numbers = [n for n in (read_number(f) for _, f in remote.frames) if n is not None]
    assert len(numbers) >= 5 and numbers == sorted(numbers)
    assert all(n in source.sent_at for n in numbers)
    assert a.metric("frames_reencoded_for_relay_total") > 0
    assert b.metric("frames_relayed_in_total") > 0 and b.metric("viewer_tracks_direct_total") == 1
    await remote.close()
    await viewer.close()
    await publisher.close(WHIP_TOKEN)


async def test_viewer_that_cannot_receive_the_publishers_codec_gets_406(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver

    a = start_node("x-a", super_cluster[0], "127.0.0.83")
    publisher = await publish(
        HttpSignalling(http, a.signalling), "vp8only", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    await asyncio.to_thread(wait_for, "frames in", lambda: a.metric("frames_received_total") > 10)
    assert a.metric("frames_relayed_out_total") == 0  # nobody relays it: no NATS traffic
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences(
            [
                c
                for c in RTCRtpReceiver.getCapabilities("video").codecs
                if c.mimeType == "video/H264"
            ]
        )
        await pc.setLocalDescription(await pc.createOffer())
        async with http.post(
            a.signalling + "/api/whep?stream=vp8only",
            data=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp"},
        ) as response:
            assert response.status == 406
            assert "video/VP8" in (await response.json())["error"]
    finally:
        await pc.close()
        await publisher.close(WHIP_TOKEN)


async def test_killed_holder_takes_its_streams_out_of_the_registry(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    holder = start_node("d-holder", r1, "127.0.0.84")
    b = start_node("d-b", r2, "127.0.0.85")
    publisher = await publish(
        HttpSignalling(http, holder.signalling), "doomed", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    await asyncio.to_thread(wait_for, "registry on b", lambda: "doomed" in b.cluster()["registry"])
    viewer = await view(HttpSignalling(http, b.signalling), "doomed", keep_frames=False)
    await until("frames relayed to b", lambda: len(viewer.frames) >= 5)
    assert b.metric("relay_subscriptions") == 1 and b.metric("viewers") == 1
    holder.kill()
    await asyncio.to_thread(
        wait_for, "stream leaves b's registry", lambda: "doomed" not in b.cluster()["registry"], 10
    )
    # b stops relaying at once; the viewer's session is kept for the publisher to come back
    # (node/continuity.py; test_node_continuity.py), and ended if it does not
    await asyncio.to_thread(
        wait_for,
        "b ends the relay and holds its viewer",
        lambda: b.metric("relay_subscriptions") == 0 and b.metric("streams_held_total") == 1,
        5,
    )
    assert b.metric("viewers") == 1
    await publisher.pc.close()
    await viewer.pc.close()


async def test_h264_publisher_is_forwarded_as_h264(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    a = start_node("h-a", r1, "127.0.0.86")
    b = start_node("h-b", r2, "127.0.0.87")
    await asyncio.to_thread(wait_for, "b sees a", lambda: "h-a" in b.member_names())
    source = SyntheticVideo(320, 180)
    publisher = await publish(
        HttpSignalling(http, a.signalling), "h264", WHIP_TOKEN, source, codec="video/H264"
    )
    await asyncio.to_thread(wait_for, "registry on b", lambda: "h264" in b.cluster()["registry"])
    viewer = await view(HttpSignalling(http, b.signalling), "h264", keep_frames=True)
    await until("10 decoded H264 frames across regions", lambda: len(viewer.frames) >= 10)
    # the node answered the viewer with the codec the publisher sends
    assert answer_codecs(viewer.pc.remoteDescription.sdp)["video"].mimeType == "video/H264"
    readable = [n for n in (read_number(f) for _, f in viewer.frames) if n is not None]
    assert len(readable) >= 5 and all(n in source.sent_at for n in readable)
    await viewer.close()
    await publisher.close(WHIP_TOKEN)
