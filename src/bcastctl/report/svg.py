"""SVG pictures of the fleet, built as element trees (never pasted text): the RTT heatmap and the
map of the regions at their coordinates with the links between them.

Both are plain inline SVG that opens offline: no script, no font or tile fetched. Cells and
links are coloured by RTT on one scale (green at 0 ms to red at `RTT_SCALE_MS` and above);
the map has a coarse continent outline (report/world.py); a link that is down is drawn red
and dashed, an unknown one grey and dashed. Every cell and
link carries `data-*` attributes with its values, so that tests (and curious readers) can
read the numbers the colours stand for.
"""

from __future__ import annotations

import colorsys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bcastctl.report.world import LAND

RTT_SCALE_MS = 300.0  # the red end of the colour scale
SVG_NS = "http://www.w3.org/2000/svg"
LOST_FILL = "#7f1d1d"  # every sample lost: darker than any RTT colour
NONE_FILL = "#e5e7eb"  # the diagonal, and pairs not measured
LinkState = Literal["up", "down", "unknown"]


@dataclass(frozen=True)
class Cell:
    """One ordered pair of the heatmap: from `source` (row) to `dest` (column)."""

    source: str
    dest: str
    rtt_ms: float | None  # None: nothing answered
    loss_pct: float = 0.0
    over_budget: bool = False
    no_answer: str | None = None  # what to write when rtt_ms is None (default: the loss)


@dataclass(frozen=True)
class Link:
    """One unordered region pair on the map."""

    a: str
    b: str
    state: LinkState
    rtt_ms: float | None


@dataclass(frozen=True)
class Place:
    region: str
    lat: float
    lon: float


def rtt_fill(rtt_ms: float) -> str:
    """Green (0 ms) through yellow to red (RTT_SCALE_MS and above), as #rrggbb."""
    share = min(max(rtt_ms, 0.0) / RTT_SCALE_MS, 1.0)
    red, green, blue = colorsys.hls_to_rgb((1 - share) * 120 / 360, 0.45, 0.75)
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in (red, green, blue))


def text_on(fill: str) -> str:
    """Black or white, whichever reads better on `fill` (#rrggbb), by relative luminance."""
    red, green, blue = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#111" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5 else "#fff"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    names = {k: k.rstrip("_").replace("_", "-") for k in attrs}
    element = ET.SubElement(parent, tag, {names[k]: _attr(v) for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _attr(value: object) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _root(width: float, height: float, label: str) -> ET.Element:
    return ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "width": f"{width:g}",
            "height": f"{height:g}",
            "viewBox": f"0 0 {width:g} {height:g}",
            "role": "img",
            "aria-label": label,
            "font-family": "sans-serif",
            "font-size": "12",
        },
    )


def to_text(element: ET.Element) -> str:
    return ET.tostring(element, encoding="unicode")


def _legend(parent: ET.Element, x: float, y: float, width: float) -> None:
    """A gradient bar from 0 ms to RTT_SCALE_MS, then the lost and down swatches."""
    steps = 30
    for index in range(steps):
        _sub(parent, "rect", x=x + index * width / steps, y=y, width=width / steps + 0.5,
             height=10, fill=rtt_fill(RTT_SCALE_MS * index / (steps - 1)))  # fmt: skip
    _sub(parent, "text", "0 ms", x=x, y=y + 24)
    _sub(parent, "text", f"{RTT_SCALE_MS:g}+ ms", x=x + width, y=y + 24, text_anchor="end")
    _sub(parent, "rect", x=x + width + 20, y=y, width=14, height=10, fill=LOST_FILL)
    _sub(parent, "text", "all lost / down", x=x + width + 38, y=y + 9)


def _cell_text(cell: Cell) -> str:
    if cell.rtt_ms is None:
        return cell.no_answer or f"{cell.loss_pct:g}% loss"
    text = f"{cell.rtt_ms:.1f} ms"
    if cell.loss_pct:
        text += f" ({cell.loss_pct:g}% loss)"
    return text + (" !" if cell.over_budget else "")


def heatmap(regions: Sequence[str], cells: Sequence[Cell], title: str) -> ET.Element:
    """Rows: from, columns: to; one rect per ordered pair, filled by its RTT, value written in."""
    cell_w, cell_h, label_w, top = 130, 34, 150, 60
    width = label_w + cell_w * max(len(regions), 1) + 20
    height = top + cell_h * len(regions) + 60
    root = _root(width, max(height, 150), title)
    _sub(root, "text", title, x=10, y=20, font_size=14, font_weight="bold")
    _sub(root, "text", "from \\ to", x=10, y=top - 10, fill="#555")
    by_pair = {(c.source, c.dest): c for c in cells}
    for col, dest in enumerate(regions):
        _sub(root, "text", dest, x=label_w + col * cell_w + cell_w / 2, y=top - 10,
             text_anchor="middle", font_weight="bold")  # fmt: skip
    for row, source in enumerate(regions):
        y = top + row * cell_h
        _sub(root, "text", source, x=10, y=y + cell_h / 2 + 4, font_weight="bold")
        for col, dest in enumerate(regions):
            x = label_w + col * cell_w
            cell = by_pair.get((source, dest))
            _pair_cell(root, x, y, cell_w, cell_h, cell, diagonal=source == dest)
    _legend(root, label_w, top + cell_h * len(regions) + 16, 200)
    return root


def _pair_cell(
    root: ET.Element, x: float, y: float, w: float, h: float, cell: Cell | None, diagonal: bool
) -> None:
    if cell is None:
        _sub(root, "rect", x=x, y=y, width=w - 2, height=h - 2, fill=NONE_FILL)
        _sub(root, "text", "" if diagonal else "—", x=x + w / 2, y=y + h / 2 + 4,
             text_anchor="middle", fill="#555")  # fmt: skip
        return
    fill = LOST_FILL if cell.rtt_ms is None else rtt_fill(cell.rtt_ms)
    group = _sub(root, "g", class_="cell", data_from=cell.source, data_to=cell.dest,
                 data_rtt_ms="" if cell.rtt_ms is None else f"{cell.rtt_ms:g}",
                 data_loss_pct=f"{cell.loss_pct:g}")  # fmt: skip
    _sub(group, "title", f"{cell.source} -> {cell.dest}: {_cell_text(cell)}")
    _sub(group, "rect", x=x, y=y, width=w - 2, height=h - 2, fill=fill,
         stroke="#111" if cell.over_budget else "none", stroke_width=2)  # fmt: skip
    _sub(group, "text", _cell_text(cell), x=x + w / 2, y=y + h / 2 + 4, text_anchor="middle",
         fill=text_on(fill), font_weight="bold")  # fmt: skip


MAP_W, MAP_H = 720.0, 360.0


def _project(lat: float, lon: float) -> tuple[float, float]:
    """Equirectangular: longitude -180..180 across, latitude 90..-90 down."""
    return (lon + 180) / 360 * MAP_W, (90 - lat) / 180 * MAP_H


def _graticule(parent: ET.Element) -> None:
    _sub(parent, "rect", x=0, y=0, width=MAP_W, height=MAP_H, fill="#eef4fb", stroke="#99a")
    for lon in range(-150, 180, 30):
        x, _ = _project(0, lon)
        _sub(parent, "line", x1=x, y1=0, x2=x, y2=MAP_H, stroke="#cfd8e3")
        _sub(parent, "text", f"{lon}°", x=x + 2, y=MAP_H - 4, fill="#889", font_size=9)
    for lat in range(-60, 90, 30):
        _, y = _project(lat, -180)
        _sub(parent, "line", x1=0, y1=y, x2=MAP_W, y2=y,
             stroke="#99a" if lat == 0 else "#cfd8e3")  # fmt: skip
        _sub(parent, "text", f"{lat}°", x=2, y=y - 2, fill="#889", font_size=9)
    for outline in LAND:
        points = " ".join(
            f"{x:.1f},{y:.1f}" for x, y in (_project(lat, lon) for lon, lat in outline)
        )
        _sub(parent, "polygon", points=points, fill="#dfe6d8", stroke="#b8c4ad", class_="land")


def _link_style(link: Link) -> dict[str, object]:
    if link.state == "down":
        return {"stroke": LOST_FILL, "stroke_width": 3, "stroke_dasharray": "8 5"}
    if link.state == "unknown" or link.rtt_ms is None:
        return {"stroke": "#9ca3af", "stroke_width": 2, "stroke_dasharray": "3 4"}
    return {"stroke": rtt_fill(link.rtt_ms), "stroke_width": 3}


def _link_label(link: Link) -> str:
    if link.state == "down":
        return "down"
    return "?" if link.rtt_ms is None else f"{link.rtt_ms:.0f} ms"


def fleet_map(places: Sequence[Place], links: Sequence[Link], title: str) -> ET.Element:
    """The regions at their coordinates, links coloured by state and RTT."""
    margin_top = 30
    root = _root(MAP_W + 20, MAP_H + margin_top + 50, title)
    _sub(root, "text", title, x=10, y=20, font_size=14, font_weight="bold")
    frame = _sub(root, "g", transform=f"translate(10,{margin_top})")
    _graticule(frame)
    where: Mapping[str, tuple[float, float]] = {p.region: _project(p.lat, p.lon) for p in places}
    for link in links:
        if link.a not in where or link.b not in where:
            continue
        (x1, y1), (x2, y2) = where[link.a], where[link.b]
        group = _sub(frame, "g", class_="link", data_a=link.a, data_b=link.b,
                     data_state=link.state,
                     data_rtt_ms="" if link.rtt_ms is None else f"{link.rtt_ms:g}")  # fmt: skip
        _sub(group, "title", f"{link.a} <-> {link.b}: {_link_label(link)}")
        line = _sub(group, "line", x1=x1, y1=y1, x2=x2, y2=y2)
        for name, value in _link_style(link).items():
            line.set(name.replace("_", "-"), _attr(value))
        _sub(group, "text", _link_label(link), x=(x1 + x2) / 2, y=(y1 + y2) / 2 - 4,
             text_anchor="middle", font_weight="bold", fill="#222", stroke="#fff",
             stroke_width=3, paint_order="stroke")  # fmt: skip
    for place in places:
        x, y = where[place.region]
        group = _sub(frame, "g", class_="region", data_region=place.region,
                     data_lat=f"{place.lat:g}", data_lon=f"{place.lon:g}")  # fmt: skip
        _sub(group, "circle", cx=x, cy=y, r=7, fill="#1d4ed8", stroke="#fff", stroke_width=2)
        _sub(group, "text", place.region, x=x, y=y - 12, text_anchor="middle",
             font_weight="bold", stroke="#fff", stroke_width=3, paint_order="stroke")  # fmt: skip
    _legend(root, 10, MAP_H + margin_top + 12, 200)
    return root


def stack(parts: Sequence[ET.Element], label: str) -> ET.Element:
    """Several pictures one under the other, as one SVG document."""
    width = max(float(part.get("width", "0")) for part in parts)
    height = sum(float(part.get("height", "0")) for part in parts)
    root = _root(width, height, label)
    offset = 0.0
    for part in parts:
        nested = ET.SubElement(root, "svg", {k: v for k, v in part.attrib.items() if k != "xmlns"})
        nested.set("y", f"{offset:g}")
        nested.extend(list(part))
        offset += float(part.get("height", "0"))
    return root
