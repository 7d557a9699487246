"""The HTML/SVG reports as people see them: opened in real headless Chromium (Debian's package).

The page must open from a file with the network cut off (every host name unresolvable):
a screenshot is taken and the DOM read back: one heatmap cell per ordered region pair
whose fill depends on its RTT, one map dot per region at its coordinates, the links
coloured by state, the root causes. The screenshot is kept in the test's tmp dir.

Chromium flags and driving over DevTools: see FINDINGS "Browsers" and
tests/node/browser_kit.py; `Page.captureScreenshot` is the DevTools protocol's
screenshot command (chromedevtools.github.io/devtools-protocol/tot/Page).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from browser_kit import CHROMIUM, Browser

from bcastctl.checks.base import CheckResult, fail, ok
from bcastctl.checks.nats_gateways import NAME, GatewayPair
from bcastctl.checks.report import CheckReport, RootCause, Summary
from bcastctl.fleet import Geo
from bcastctl.probes.model import ClientRtt, Election, PairRtt, RttReport
from bcastctl.probes.stats import summarize
from bcastctl.report.checks_html import write_checks_page
from bcastctl.report.probe_export import export_report
from bcastctl.report.svg import rtt_fill

pytestmark = pytest.mark.slow  # starts a browser (Chromium)

A, B, C = "us-east5", "europe-west9", "asia-southeast1"
GEO = {A: Geo(lat=39.96, lon=-83.0), B: Geo(lat=48.86, lon=2.35), C: Geo(lat=1.35, lon=103.82)}
RTT = {(A, B): 84.0, (B, A): 85.0, (B, C): 160.0, (C, B): 161.0}  # A<->C: cut, all lost


def client(region: str, ms: float) -> ClientRtt:
    return ClientRtt(region=region, endpoint=f"http://{region}", stun=None, stun_address=None,
                     http=summarize([ms, ms], 0))  # fmt: skip


def rtt_report() -> RttReport:
    pairs = []
    for a in (A, B, C):
        for b in (A, B, C):
            if a == b:
                continue
            rtt = RTT.get((a, b))
            samples = [rtt - 1, rtt, rtt + 1] if rtt is not None else []
            pairs.append(
                PairRtt(
                    from_region=a,
                    to_region=b,
                    from_node=f"{a}-0",
                    to_node=f"{b}-0",
                    stats=summarize(samples, 0 if samples else 3),
                    gateway_rtt_ms=rtt,
                    configured_rtt_ms=None,
                )
            )
    return RttReport(
        target="lab", fleet="pictures", regions=[A, B, C], samples=3, interval_ms=100,
        pairs=pairs, client=[client(A, 12.0), client(B, 95.0)],
        election=Election(winner=A, metric="http", mean_ms={A: 12.0, B: 95.0},
                          why_not={B: "mean 95.0 ms > 12.0 ms"}), max_rtt_ms=150,
        over_max=[f"{B}->{C}", f"{C}->{B}", f"{A}->{C}", f"{C}->{A}"],
        unreachable_regions={}, duration_s=1.0, exit_code=1,
    )  # fmt: skip


def test_rtt_colours_move_from_green_to_red() -> None:
    def hue(colour: str) -> float:
        import colorsys

        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return colorsys.rgb_to_hls(r, g, b)[0]

    hues = [hue(rtt_fill(ms)) for ms in (0, 50, 150, 250, 300, 900)]
    assert hues == sorted(hues, reverse=True) and hues[0] > hues[-2] == hues[-1]


def test_svg_export_is_one_standalone_svg(tmp_path: Path) -> None:
    path = tmp_path / "rtt.svg"
    export_report(rtt_report(), path, GEO)
    root = ET.fromstring(path.read_text())
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    cells = root.findall(".//s:g[@class='cell']", ns)
    assert len(cells) == 6
    assert len(root.findall(".//s:g[@class='region']", ns)) == 3
    assert "http" not in path.read_text().replace("http://www.w3.org/2000/svg", "")


async def open_page(tmp_path: Path, page: Path) -> Browser:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (scripts/test does)")
    browser = Browser(tmp_path / "profile", hosts=())
    await browser.start(page.as_uri(), ready="document.readyState === 'complete'")
    return browser


async def test_probe_page_in_chromium_shows_coloured_heatmap_and_map(tmp_path: Path) -> None:
    page = tmp_path / "rtt.html"
    export_report(rtt_report(), page, GEO)
    browser = await open_page(tmp_path, page)
    try:
        png = await browser.screenshot(tmp_path / "rtt.png")
        cells = await browser.evaluate(
            "[...document.querySelectorAll('g.cell')].map(g => ({from: g.dataset.from,"
            " to: g.dataset.to, rtt: g.dataset.rttMs, fill: g.querySelector('rect')"
            ".getAttribute('fill'), text: g.querySelector('text').textContent,"
            " width: g.getBoundingClientRect().width}))"
        )
        dots = await browser.evaluate(
            "[...document.querySelectorAll('g.region')].map(g => {const c ="
            " g.querySelector('circle'); return {region: g.dataset.region,"
            " x: +c.getAttribute('cx'), y: +c.getAttribute('cy')}})"
        )
        links = await browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('g.link')].map(g =>"
            " [[g.dataset.a, g.dataset.b].sort().join('|'), {state: g.dataset.state,"
            " stroke: g.querySelector('line').getAttribute('stroke')}]))"
        )
        verdicts = await browser.evaluate(
            "[...document.querySelectorAll('td.ok')].map(td => td.textContent)"
        )
        requests = await browser.evaluate(
            "performance.getEntriesByType('resource').map(e => e.name)"
        )
    finally:
        await browser.stop()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert sorted((c["from"], c["to"]) for c in cells) == sorted(
        (a, b) for a in (A, B, C) for b in (A, B, C) if a != b
    )
    assert all(c["width"] > 50 for c in cells)  # laid out, visible
    fills = {(c["from"], c["to"]): c["fill"] for c in cells}
    assert fills[(A, B)] == rtt_fill(84.0) and fills[(B, C)] == rtt_fill(160.0)
    assert fills[(A, B)] != fills[(B, C)] != fills[(A, C)]  # the fill depends on the RTT
    texts = {(c["from"], c["to"]): c["text"] for c in cells}
    assert texts[(A, B)].startswith("84.0 ms") and "100% loss" in texts[(A, C)]
    at = {d["region"]: (d["x"], d["y"]) for d in dots}
    assert set(at) == {A, B, C}
    assert at[A][0] < at[B][0] < at[C][0]  # west to east
    assert at[C][1] > at[A][1] > at[B][1]  # Singapore south of Ohio, south of Paris
    assert links["|".join(sorted((A, C)))]["state"] == "down"
    assert links["|".join(sorted((A, B)))]["stroke"] == rtt_fill(85.0)
    assert requests == []  # nothing fetched: the file is self-contained
    assert verdicts == ["elected"]  # the client's view: one region elected


def connected(scope: str, rtt_ms: float) -> CheckResult:
    link = GatewayPair(servers=1, outbound_connected=1, inbound_servers=1, rtt_ms=rtt_ms)
    return ok(NAME, scope, "connected", values=link.as_values())


def check_report() -> CheckReport:
    results = [
        connected(f"{A}->{B}", 84.2),
        connected(f"{B}->{A}", 84.6),
        fail("nats-gateways", f"{A}->{C}", "configured but not connected", hint="path"),
        fail("nats-gateways", f"{C}->{A}", "configured but not connected", hint="path"),
        connected(f"{B}->{C}", 160.1),
        connected(f"{C}->{B}", 160.4),
        fail("membership", "fleet", f"partition: {A} <-> {C} <script>x</script>", kind="fleet"),
    ]
    cause = RootCause(
        cause=f"NATS gateway link {C} <-> {A} is down", layer="nats",
        explains=["nats-gateways/" + f"{A}->{C}", "membership/fleet"], hint="check the path",
    )  # fmt: skip
    return CheckReport(
        target="lab", fleet="pictures", regions=[A, B, C], unreachable_regions={},
        checks=["nats-gateways", "membership"], results=results, root_causes=[cause],
        summary=Summary.of(results), strict=False, attempts=1, duration_s=1.0, exit_code=1,
    )  # fmt: skip


async def test_verify_page_in_chromium_shows_links_and_root_cause(tmp_path: Path) -> None:
    page = tmp_path / "mesh.html"
    write_checks_page(check_report(), page, GEO)
    browser = await open_page(tmp_path, page)
    try:
        png = await browser.screenshot(tmp_path / "mesh.png")
        seen = await browser.evaluate(
            "({cells: document.querySelectorAll('g.cell').length,"
            " down: [...document.querySelectorAll('g.cell')].filter(g =>"
            " g.querySelector('text').textContent === 'down').map(g => g.dataset.from + '>'"
            " + g.dataset.to), states: [...document.querySelectorAll('g.link')].map(g =>"
            " g.dataset.state).sort(), causes: [...document.querySelectorAll('p.cause')].map("
            "p => p.textContent), scripts: document.querySelectorAll('script').length,"
            " failRows: [...document.querySelectorAll('table.checks td.fail')].length})"
        )
    finally:
        await browser.stop()
    assert png.startswith(b"\x89PNG")
    assert seen["cells"] == 6 and sorted(seen["down"]) == sorted([f"{A}>{C}", f"{C}>{A}"])
    assert seen["states"] == ["down", "up", "up"]
    assert seen["causes"] == [f"NATS gateway link {C} <-> {A} is down"]
    assert seen["scripts"] == 0  # a message is text, never markup
    assert seen["failRows"] == 3
    assert re.search(r"<script>", page.read_text()) is None
