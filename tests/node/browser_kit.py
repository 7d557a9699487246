"""Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol.

Started directly as /usr/lib/chromium/chromium (the /usr/bin wrapper adds flags), off
the network, with a fake camera, a fresh profile and `--remote-debugging-port=0`;
the port is read from the profile's DevToolsActivePort file. Stopped by pid.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = Path("/usr/lib/chromium/chromium")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


class Browser:
    def __init__(self, profile: Path, hosts: tuple[str, ...] = ("127.0.0.1",)) -> None:
        """`hosts`: the only addresses the browser may reach (every other name fails)."""
        self.profile = profile
        excluded = ", ".join(f"EXCLUDE {host}" for host in (*hosts, "localhost"))
        self.flags = [*FLAGS, f"--host-resolver-rules=MAP * ~NOTFOUND, {excluded}"]
        self.process: subprocess.Popen[bytes] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    async def start(
        self,
        page_url: str,
        ready: str = "document.readyState === 'complete' && typeof ready !== 'undefined'",
    ) -> None:
        """Open `page_url` and wait until the JS expression `ready` is true in it."""
        self.process = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once
            [str(CHROMIUM), *self.flags, f"--user-data-dir={self.profile}", page_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        self._http = aiohttp.ClientSession()
        page = None
        while page is None:
            async with self._http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(
                (t for t in targets if t["type"] == "page" and t["url"].startswith(page_url)), None
            )
            if page is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no page for {page_url}: {targets}")
                await asyncio.sleep(0.05)
        self._ws = await self._http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self.evaluate(ready, until_true=True)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One DevTools protocol command on the page; its result."""
        assert self._ws is not None
        call_id = next(self._ids)
        await self._ws.send_json({"id": call_id, "method": method, "params": params or {}})
        while True:
            message = json.loads((await self._ws.receive(timeout=30)).data)
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def screenshot(self, path: Path, width: int = 1280, height: int = 900) -> bytes:
        """A PNG of the whole page at this viewport size, also written to `path`."""
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        # the override takes effect at the next layout: until then the page may report a
        # 0-wide content box and Chromium refuses the capture ("Cannot take screenshot with
        # 0 width"); wait for a laid-out page, then clip to its size
        size = await self.evaluate(
            "new Promise(r => requestAnimationFrame(() => r(document.documentElement"
            ".scrollWidth > 0 && [document.documentElement.scrollWidth,"
            " document.documentElement.scrollHeight])))",
            until_true=True,
            limit_s=10,
        )
        page_w, page_h = size or (width, height)
        shot = await self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": max(page_w, width), "height": max(page_h, 1),
                         "scale": 1},
            },
        )  # fmt: skip
        png = base64.b64decode(shot["data"])
        await asyncio.to_thread(path.write_bytes, png)
        return png

    async def evaluate(
        self, expression: str, until_true: bool = False, limit_s: float = 30.0
    ) -> Any:
        """Evaluate JS in the page (promises awaited) and return its JSON value."""
        assert self._ws is not None
        deadline = time.monotonic() + limit_s
        while True:
            call_id = next(self._ids)
            await self._ws.send_json(
                {
                    "id": call_id,
                    "method": "Runtime.evaluate",
                    "params": {
                        "expression": expression,
                        "awaitPromise": True,
                        "returnByValue": True,
                    },
                }
            )
            while True:
                message = json.loads((await self._ws.receive(timeout=limit_s)).data)
                if message.get("id") == call_id:
                    break
            result = message.get("result", {})
            if "exceptionDetails" in result:
                raise AssertionError(f"JS error: {result['exceptionDetails']}")
            value = result.get("result", {}).get("value")
            if not until_true or value or time.monotonic() > deadline:
                return value
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 5)


PAGE = """<!doctype html><html><body><script>
const ready = true;
function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise(r => pc.addEventListener('icegatheringstatechange',
    () => pc.iceGatheringState === 'complete' && r()));
}
async function post(url, pc, headers) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const started = performance.now();
  const r = await fetch(url, {method: 'POST', body: pc.localDescription.sdp,
    headers: Object.assign({'Content-Type': 'application/sdp'}, headers)});
  const text = await r.text();
  if (r.status !== 201) return {status: r.status, text, started};
  await pc.setRemoteDescription({type: 'answer', sdp: text});
  return {status: 201, location: r.headers.get('Location'), started};
}
async function publish(url, token) {
  const media = await navigator.mediaDevices.getUserMedia(
    {video: {width: 640, height: 360, frameRate: 30}, audio: true});
  const pc = new RTCPeerConnection({iceServers: []});
  for (const track of media.getTracks()) pc.addTransceiver(track, {direction: 'sendonly'});
  const answer = await post(url, pc, token ? {'Authorization': 'Bearer ' + token} : {});
  window.publisher = pc;
  return answer;
}
async function framesDecoded(pc) {
  let decoded = 0, width = 0, codec = '', packets = 0, keyframes = 0, plis = 0;
  const stats = await pc.getStats();
  stats.forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      decoded = s.framesDecoded || 0; width = s.frameWidth || 0;
      packets = s.packetsReceived || 0; keyframes = s.keyFramesDecoded || 0;
      plis = s.pliCount || 0;
      const c = stats.get(s.codecId); codec = c ? c.mimeType : '';
    }
  });
  return {decoded, width, codec, packets, keyframes, plis};
}
async function view(url, name) {
  const pc = new RTCPeerConnection({iceServers: []});
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  const answer = await post(url, pc, {});
  if (answer.status !== 201) return answer;
  window[name] = pc;
  while (performance.now() - answer.started < 10000) {
    const s = await framesDecoded(pc);
    if (s.decoded > 0) return Object.assign(answer, s,
      {firstFrameMs: performance.now() - answer.started});
    await new Promise(r => setTimeout(r, 5));
  }
  const s = await framesDecoded(pc);
  return Object.assign(answer, s, {firstFrameMs: null, state: pc.connectionState,
                                   ice: pc.iceConnectionState});
}
</script></body></html>"""


@contextlib.asynccontextmanager
async def page_browser(profile: Path, hosts: tuple[str, ...]) -> AsyncIterator[Browser]:
    """PAGE served from 127.0.0.1 (a secure context for getUserMedia), open in headless
    Chromium that may reach `hosts` too; both stopped afterwards."""
    from aiohttp import web

    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    chromium = Browser(profile, ("127.0.0.1", *hosts))
    try:
        await chromium.start(f"http://127.0.0.1:{port}/")
        yield chromium
    finally:
        await chromium.stop()
        await runner.cleanup()
