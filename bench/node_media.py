"""Media node figures in one run: latency, time to first frame, viewers per core.

    .venv/bin/python bench/node_media.py [--quick] [--capacity-only] [--steps 100,200]
                                         [--window SECONDS] [--no-pin]
                                         [--paths passthrough,relayed,mediarelay]

Real parts: nats-server processes joined by a gateway (two regions), node processes
(`python -m bcastctl node serve`), aiortc publisher and viewers in this process. The
publisher sends 640x360 VP8 at 30 fps (moving noise, so the encoder spends its
~500 kbps); each frame shows its number, so a decoding viewer knows its send time.

- latency: publisher frame handed to the encoder -> the same frame decoded by the
  viewer, p50/p99: direct (no node), one node, two nodes in two regions (NATS hop
  through the gateway). Added latency = node path minus direct.
- time to first frame: WHEP POST -> first decoded frame, late joiners of a live stream.
- viewers per core: a publisher process sending a pre-encoded 640x360 VP8 loop
  (~500 kbps, keyframe every second) and N viewers in 3 worker processes, on one node.
  Each viewer is a full aiortc peer (ICE, DTLS, SRTP keys) whose media packets are
  then taken off its socket, authenticated and decrypted with libsrtp, and counted
  as frames at the RTP marker bit (RawFrameCounter: aiortc's own receive path would
  cost more than the node's send path). The nodes run pinned to the first CPU; the
  publisher and viewer processes to the others, so the load does not take the
  measured node's CPU. Node CPU share (user + kernel) from /proc over a window;
  every viewer must keep >= 29 fps. Viewers per core = N / node CPU share at the
  largest N that held. Passthrough vs MediaRelay (decode once, re-encode per viewer).
- viewers per core, relayed: the same with the publisher on the other region's node, so
  every frame reaches the measured node over NATS through the gateway, sealed by the
  holder and opened (MAC checked) on the measured node; and the cost of sealing and
  opening one frame, measured in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "node"))
sys.path.insert(0, str(REPO / "tests"))  # nats_testkit, shared by the test kits

import aiohttp  # noqa: E402
from node_testkit import (  # noqa: E402
    WHIP_TOKEN,
    NatsServer,
    NodeProcess,
    intercept_rtp,
    start_super_cluster,
    stop_process,
    wait_for,
)

from bcastctl.adapters import ice  # noqa: E402
from bcastctl.node import aiortc_hook  # noqa: E402
from bcastctl.whip.client import publish, view  # noqa: E402
from bcastctl.whip.signalling import HttpSignalling  # noqa: E402
from bcastctl.whip.synthetic import EncodedLoop, SyntheticVideo, read_number  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    user, system = cpu_split(pid)
    return user + system


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Latency:
    """Decoded frame numbers -> publisher-to-viewer latency in ms."""

    def __init__(self, source: SyntheticVideo) -> None:
        self.source = source
        self.samples: list[float] = []

    def on_frame(self, now: float, frame: Any) -> None:
        number = read_number(frame)
        if number is not None and number in self.source.sent_at:
            self.samples.append((now - self.source.sent_at[number]) * 1000)


async def direct_latency(seconds: float) -> list[float]:
    """Baseline: publisher and viewer aiortc peers connected directly, no node."""
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import MediaStreamError

    source = SyntheticVideo()
    latency = Latency(source)
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    sender.addTransceiver(source, direction="sendonly")
    reader: list[asyncio.Task[None]] = []

    @receiver.on("track")
    def on_track(track: Any) -> None:
        transceiver = next(t for t in receiver.getTransceivers() if t.receiver.track is track)
        aiortc_hook.release_on_marker(transceiver.receiver, "video")

        async def read() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    frame = await track.recv()  # then the clock: arguments run left to right
                    latency.on_frame(time.monotonic(), frame)

        reader.append(asyncio.create_task(read()))

    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    await asyncio.sleep(1 + seconds)
    for task in reader:
        task.cancel()
    await sender.close()
    await receiver.close()
    return latency.samples[30:]  # skip the start-up second


async def node_latency(
    http: Any, publish_on: NodeProcess, view_on: NodeProcess, stream: str, seconds: float
) -> list[float]:
    source = SyntheticVideo()
    latency = Latency(source)
    publisher = await publish(
        HttpSignalling(http, publish_on.signalling), stream, WHIP_TOKEN, source
    )
    await asyncio.to_thread(  # the registry reaches other nodes with the next heartbeat
        wait_for, f"{stream} registered", lambda: stream in view_on.cluster()["registry"]
    )
    viewer = await view(
        HttpSignalling(http, view_on.signalling),
        stream,
        on_frame=latency.on_frame,
        on_receiver=lambda receiver, _: aiortc_hook.release_on_marker(receiver, "video"),
    )
    await asyncio.sleep(1 + seconds)
    await viewer.close()
    await publisher.close(WHIP_TOKEN)
    return latency.samples[30:]


async def first_frame_times(http: Any, node: NodeProcess, joins: int) -> list[float]:
    publisher = await publish(
        HttpSignalling(http, node.signalling), "ttff", WHIP_TOKEN, SyntheticVideo()
    )
    await asyncio.sleep(2)
    times = []
    for _ in range(joins):
        first = asyncio.Event()
        started = time.monotonic()
        viewer = await view(
            HttpSignalling(http, node.signalling),
            "ttff",
            on_frame=lambda *_, event=first: event.set(),
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), 10)
        if viewer.frames:
            times.append((viewer.frames[0][0] - started) * 1000)
        await viewer.close()
        await asyncio.sleep(0.4)  # past the keyframe-request rate limit: each join is alone
    await publisher.close(WHIP_TOKEN)
    return times


WORKERS = 3  # viewer processes: one process cannot receive for hundreds of viewers
LOAD_CPUS: set[int] = set()  # where the capacity load runs (off the measured node's CPU)


def pin_to_load_cpus() -> None:
    if LOAD_CPUS:
        os.sched_setaffinity(0, LOAD_CPUS)


async def capacity_step(
    http: Any, node: NodeProcess, stream: str, viewers: int, window_s: float, relayed: bool
) -> dict[str, float]:
    """N cheap viewers spread over worker processes; the node's CPU share and the slowest
    viewer's fps over the same window (workers start measuring on our "go")."""
    assert node.process is not None
    shares = [viewers // WORKERS + (1 if i < viewers % WORKERS else 0) for i in range(WORKERS)]
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--viewers-only",
            node.signalling,
            stream,
            str(count),
            str(window_s),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=pin_to_load_cpus,
        )
        for count in shares
        if count
    ]
    try:
        for worker in workers:  # each says "ready" once its viewers all receive frames
            assert worker.stdout is not None
            await asyncio.wait_for(worker.stdout.readline(), 120)
        frames_in = "frames_relayed_in_total" if relayed else "frames_received_total"
        forwarded, received = node.metric("frames_forwarded_total"), node.metric(frames_in)
        node_cpu, started = cpu_split(node.process.pid), time.monotonic()
        client_cpu = sum(cpu_seconds(w.pid) for w in workers)
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        reports = [json.loads(await w.stdout.readline()) for w in workers]  # type: ignore[union-attr]
        elapsed = time.monotonic() - started
        node_user, node_system = (
            (now - before) / elapsed
            for now, before in zip(cpu_split(node.process.pid), node_cpu, strict=True)
        )
        node_share = node_user + node_system
        client_share = (sum(cpu_seconds(w.pid) for w in workers) - client_cpu) / elapsed
        sent_fps = (node.metric("frames_forwarded_total") - forwarded) / viewers / elapsed
        in_fps = (node.metric(frames_in) - received) / elapsed
        # the workers DELETE their sessions and exit; a viewer that vanished without its
        # DELETE would be served until ICE consent expires (30 s) and load the next step
        await asyncio.wait_for(asyncio.gather(*(w.wait() for w in workers)), 120)
        deadline = time.monotonic() + 30
        while node.metric("viewers") > 0 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.terminate()
            await worker.wait()
    fps = [value for report in reports for value in report]
    return {
        "viewers": viewers,
        "node_cpu": node_share,
        "node_system": node_system,
        "client_cpu": client_share,
        "min_fps": min(fps),
        "median_fps": statistics.median(fps),
        "node_in_fps": in_fps,
        "node_out_fps": sent_fps,
    }


class RawFrameCounter:
    """The cheapest honest viewer: once ICE and DTLS are up, SRTP packets are taken off
    the viewer's socket before aiortc sees them, authenticated and decrypted (libsrtp,
    the viewer's own keys), and a frame is counted at each video packet with the RTP
    marker bit. STUN, DTLS and RTCP still go to aiortc, so ICE consent holds.

    A load generator must cost less than what it loads: aiortc's own receive path
    (jitter buffer, NACK, per-packet tasks) costs more per viewer than the node's send
    path, so on one machine the viewers, not the node, would run out of CPU first.
    """

    def __init__(self, pc: Any) -> None:
        self.frames = 0
        self.rejected: dict[str, int] = {}  # libsrtp's reason -> packets
        self._pc = pc

    def install(self) -> bool:
        srtp = getattr(self._pc.getTransceivers()[0].receiver.transport, "_rx_srtp", None)
        return srtp is not None and intercept_rtp(self._pc, lambda data: self._count(srtp, data))

    def _count(self, srtp: Any, data: bytes) -> bool:
        try:
            srtp.unprotect(data)
        except Exception as e:  # pylibsrtp.Error: not ours, replayed or tampered
            self.rejected[str(e)] = self.rejected.get(str(e), 0) + 1
            return True
        if data[1] & 0x80:
            self.frames += 1
        return True


def count_encoded(receiver: Any, record: Any) -> None:
    """Count encoded frames through the node's receiver tap: no decoding in a load viewer."""
    aiortc_hook.tap_receiver(receiver, "video", lambda *frame: record(None), lambda: None)


async def viewers_only(url: str, stream: str, count: int, window_s: float) -> None:
    """A worker: `count` raw-counting viewers; "ready" when all receive, fps after "go"."""
    ice.offer_only("127.0.0.1")
    joining = asyncio.Semaphore(8)

    async def join(http: Any) -> tuple[Any, RawFrameCounter]:
        async with joining:
            session = await view(
                HttpSignalling(http, url), stream, on_receiver=count_encoded, decode=False
            )
            deadline = time.monotonic() + 60
            while not session.frames and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        counter = RawFrameCounter(session.pc)
        if not counter.install():  # from here on aiortc's receive path idles
            raise SystemExit("a viewer got no frame in 60 s (no ICE pair or SRTP session)")
        return session, counter

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        joined = await asyncio.gather(*(join(http) for _ in range(count)))
        sessions = [session for session, _ in joined]
        counters = [counter for _, counter in joined]
        await asyncio.sleep(1.0)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        counts, started = [c.frames for c in counters], time.monotonic()
        await asyncio.sleep(window_s)
        elapsed = time.monotonic() - started
        fps = [(c.frames - n) / elapsed for c, n in zip(counters, counts, strict=True)]
        rejected: dict[str, int] = {}
        for counter in counters:
            for reason, n in counter.rejected.items():
                rejected[reason] = rejected.get(reason, 0) + n
        if rejected:
            print(f"warning: SRTP packets not accepted: {rejected}", file=sys.stderr)
        print(json.dumps(fps), flush=True)
        await asyncio.gather(*(s.close() for s in sessions))


async def capacity(
    http: Any,
    node: NodeProcess,
    stream: str,
    steps: list[int],
    window_s: float,
    holder: NodeProcess | None = None,
) -> list[dict[str, float]]:
    """Steps of N viewers on one stream; the publisher runs in its own process so that
    its encoder does not compete with the viewers for this process's GIL. With `holder`,
    the stream is published there and reaches the measured node over NATS (sealed frames,
    opened once per frame on the measured node)."""
    publisher = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--publish-only",
        (holder or node).signalling,
        stream,
        env={**os.environ, "BCAST_WHIP_TOKEN": WHIP_TOKEN},
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=pin_to_load_cpus,
    )
    results = []
    try:
        assert publisher.stdout is not None
        await asyncio.wait_for(publisher.stdout.readline(), 20)
        await asyncio.sleep(1)
        for viewers in steps:
            try:
                step = await capacity_step(
                    http, node, stream, viewers, window_s, relayed=holder is not None
                )
            except (TimeoutError, OSError) as e:  # the machine ran out: this step did not hold
                print(f"    {viewers:4d} viewers: did not hold ({type(e).__name__}: {e})")
                break
            results.append(step)
            print(
                f"    {viewers:4d} viewers: node {step['node_cpu'] * 100:5.1f} % CPU "
                f"({step['node_system'] * 100:.1f} % in the kernel), "
                f"clients {step['client_cpu'] * 100:5.1f} %, fps min {step['min_fps']:.1f} "
                f"median {step['median_fps']:.1f}"
                + (
                    f" (node: in {step['node_in_fps']:.1f} fps, out {step['node_out_fps']:.1f} "
                    "fps per viewer)"
                    if step["node_out_fps"]
                    else ""
                ),
                flush=True,
            )
            if step["min_fps"] < 29:
                break
            await asyncio.sleep(1)
    finally:
        if publisher.returncode is None:
            publisher.terminate()
        await publisher.wait()
    return results


async def publish_only(url: str, stream: str) -> None:
    ice.offer_only("127.0.0.1")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    token = os.environ["BCAST_WHIP_TOKEN"]
    async with aiohttp.ClientSession() as http:
        session = await publish(HttpSignalling(http, url), stream, token, EncodedLoop())
        print("published", flush=True)
        await stop.wait()
        await session.close(token)


def per_core(results: list[dict[str, float]]) -> str:
    held = [r for r in results if r["min_fps"] >= 29 and r["node_cpu"] > 0]
    if not held:
        return "n/a (no step held 29 fps)"
    best = held[-1]
    line = (
        f"{best['viewers'] / best['node_cpu']:.0f} viewers/core "
        f"(largest step holding >= 29 fps: {best['viewers']:.0f} viewers at "
        f"{best['node_cpu'] * 100:.1f} % of a core)"
    )
    # the same from CPU per forwarded frame at the largest step, whatever fps it reached
    last = results[-1]
    if last["node_out_fps"] > 0 and last["node_cpu"] > 0:
        per_viewer_at_30 = last["node_cpu"] / (last["viewers"] * last["node_out_fps"] / 30)
        line += (
            f"; from CPU per forwarded frame at {last['viewers']:.0f} viewers: "
            f"{1 / per_viewer_at_30:.0f} viewers/core at 30 fps"
        )
    return line


def frame_seal_cost(frames: int = 3000) -> str:
    """What sealing and opening one frame costs, at the capacity stream's frame sizes
    (~2 kB delta frames, a ~20 kB keyframe per second); the node does it once per frame
    per node that relays the stream, not per viewer."""
    from bcastctl.node.frames import EncodedFrame, FrameSeal, media_key

    seal = FrameSeal(media_key("bench-secret"))
    subject = "bcast.bench.media.bench-a.load.video"
    sizes = [20_000 if index % 30 == 0 else 2_000 for index in range(frames)]
    packed = [EncodedFrame.create("video/VP8", 90_000, os.urandom(n), 0).pack() for n in sizes]
    started = time.perf_counter()
    sealed = [seal.seal(subject, payload) for payload in packed]
    sealing = time.perf_counter() - started
    started = time.perf_counter()
    for data in sealed:
        seal.open(subject, data)
    opening = time.perf_counter() - started
    per_second = (sealing + opening) / frames * 30
    return (
        f"seal {sealing / frames * 1e6:.1f} µs + open {opening / frames * 1e6:.1f} µs per frame; "
        f"at 30 fps {per_second * 100:.3f} % of a core per relayed stream and node"
    )


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    return (
        f"{name}: p50 {percentile(values, 50):.1f} ms, p99 {percentile(values, 99):.1f} ms "
        f"({len(values)} samples)"
    )


async def run(args: argparse.Namespace, nodes: dict[str, NodeProcess]) -> None:
    ice.offer_only("127.0.0.1")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        if not args.capacity_only:
            await latency_figures(http, args, nodes)
        steps = args.steps or ([30, 90] if args.quick else [100, 200, 300, 400, 500, 600])
        window = args.window or (3 if args.quick else 10)
        if "passthrough" in args.paths:
            print("viewers per core, passthrough:", flush=True)
            passthrough = await capacity(http, nodes["a"], "load-passthrough", steps, window)
            print("  => " + per_core(passthrough))
        if "relayed" in args.paths:
            print(
                "viewers per core, relayed over NATS (frames sealed by the holder, opened here):",
                flush=True,
            )
            relayed = await capacity(
                http, nodes["b"], "load-relayed", steps, window, holder=nodes["a"]
            )
            print("  => " + per_core(relayed))
            print("frame authentication cost: " + frame_seal_cost())
        if "mediarelay" in args.paths:
            print("viewers per core, MediaRelay (decode + re-encode):", flush=True)
            relay = await capacity(
                http,
                nodes["relay"],
                "load-relay",
                [2, 4] if args.quick else [2, 4, 8, 12],
                3 if args.quick else 5,
            )
            print("  => " + per_core(relay))
    ice.restore()


async def latency_figures(
    http: Any, args: argparse.Namespace, nodes: dict[str, NodeProcess]
) -> None:
    seconds = 3 if args.quick else 8
    print("latency (publisher encoder input -> viewer decoded frame):", flush=True)
    direct = await direct_latency(seconds)
    one = await node_latency(http, nodes["a"], nodes["a"], "lat1", seconds)
    two = await node_latency(http, nodes["a"], nodes["b"], "lat2", seconds)
    for name, values in (
        ("direct (no node)", direct),
        ("one node", one),
        ("two nodes, two regions", two),
    ):
        print("  " + summary(name, values))
    for name, values in (("one node", one), ("two nodes", two)):
        if values and direct:
            print(
                f"  added by {name}: p50 "
                f"{percentile(values, 50) - percentile(direct, 50):+.1f} ms, p99 "
                f"{percentile(values, 99) - percentile(direct, 99):+.1f} ms"
            )
    print("time to first frame (WHEP POST -> first decoded frame, late joiners):")
    print(
        "  "
        + summary("one node", await first_frame_times(http, nodes["a"], 5 if args.quick else 15))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows, few steps")
    parser.add_argument(
        "--publish-only", nargs=2, metavar=("URL", "STREAM"), help=argparse.SUPPRESS
    )  # the capacity run's publisher process
    parser.add_argument(
        "--viewers-only", nargs=4, metavar=("URL", "STREAM", "N", "WINDOW"), help=argparse.SUPPRESS
    )  # a capacity run's viewer process
    parser.add_argument(
        "--capacity-only", action="store_true", help="only the viewers-per-core steps"
    )
    parser.add_argument(
        "--steps",
        type=lambda text: [int(n) for n in text.split(",")],
        help="passthrough viewer counts, e.g. 100,200,300",
    )
    parser.add_argument("--window", type=float, help="seconds each capacity step is measured")
    parser.add_argument(
        "--paths",
        type=lambda text: set(text.split(",")),
        default={"passthrough", "relayed", "mediarelay"},
        help="capacity runs, comma-separated: passthrough, relayed (over NATS), mediarelay",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the measured node to CPU 0 and everything else to the other CPUs",
    )
    args = parser.parse_args()
    if args.publish_only:
        asyncio.run(publish_only(*args.publish_only))
        return
    if args.viewers_only:
        url, stream, count, window = args.viewers_only
        asyncio.run(viewers_only(url, stream, int(count), float(window)))
        return
    cpus = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cpus) >= 2
    if pin:  # the nodes get the first CPU; the capacity run's publisher and viewers the rest
        LOAD_CPUS.update(cpus[1:])
    directory = Path(tempfile.mkdtemp(prefix="bench-node-"))
    servers: list[NatsServer] = []
    nodes: dict[str, NodeProcess] = {}
    try:
        servers = start_super_cluster(directory, ["r1", "r2"])
        for key, server, address, extra in (
            ("a", servers[0], "127.0.0.121", {}),
            ("b", servers[1], "127.0.0.122", {}),
            ("relay", servers[0], "127.0.0.123", {"BCAST_MEDIA_PATH": "relay"}),
        ):
            node = NodeProcess(
                f"bench-{key}",
                server.region,
                server,
                address,
                directory / f"{key}.log",
                {
                    "BCAST_LOG_LEVEL": "WARNING",
                    "BCAST_MAX_SESSIONS": "2000",
                    "BCAST_MAX_CONNECTING": "400",  # 100 per client address: 3 workers
                    **extra,
                },
                cpus={cpus[0]} if pin else None,
            )
            nodes[key] = node
            node.start()
        for node in nodes.values():
            node.wait_listening()
        wait_for("b sees a", lambda: "bench-a" in nodes["b"].member_names())
        print(
            f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
            + (
                f"nodes pinned to CPU {cpus[0]}, capacity load (publisher, viewers) to {cpus[1:]}"
                if pin
                else "no CPU pinning"
            )
        )
        asyncio.run(run(args, nodes))
    finally:
        for node in nodes.values():
            node.stop()
        for server in servers:
            if server.process is not None:
                stop_process(server.process)


if __name__ == "__main__":
    main()
