"""A self-contained HTML page (inline CSS and SVG, no script, nothing fetched), built as a tree.

`Page` collects sections (headings, paragraphs, tables, pictures); `Page.write(path)`
serializes it. Text is always placed as element text, so that a message from a check can
never become markup.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from bcastctl.errors import UsageError

CSS = """
body { font-family: sans-serif; margin: 24px; color: #111; max-width: 1200px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d1d5db; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #15803d; } .fail { color: #b91c1c; font-weight: bold; }
.warn { color: #a16207; } .skip { color: #6b7280; }
.hint { color: #555; font-size: 12px; }
.pictures { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.cause { border-left: 4px solid #b91c1c; padding: 4px 12px; margin: 8px 0; }
"""

Row = Sequence[str | tuple[str, str]]  # a cell is text, or (text, css class)


class Page:
    def __init__(self, title: str) -> None:
        self.root = ET.Element("html", {"lang": "en"})
        head = ET.SubElement(self.root, "head")
        ET.SubElement(head, "meta", {"charset": "utf-8"})
        ET.SubElement(head, "title").text = title
        ET.SubElement(head, "style").text = CSS
        self.body = ET.SubElement(self.root, "body")
        ET.SubElement(self.body, "h1").text = title

    def heading(self, text: str) -> None:
        ET.SubElement(self.body, "h2").text = text

    def paragraph(self, text: str, css: str | None = None) -> ET.Element:
        element = ET.SubElement(self.body, "p", {"class": css} if css else {})
        element.text = text
        return element

    def pictures(self, *svgs: ET.Element) -> None:
        holder = ET.SubElement(self.body, "div", {"class": "pictures"})
        for svg in svgs:
            holder.append(svg)

    def table(self, header: Sequence[str], rows: Sequence[Row], css: str = "") -> ET.Element:
        table = ET.SubElement(self.body, "table", {"class": css} if css else {})
        head = ET.SubElement(table, "tr")
        for name in header:
            ET.SubElement(head, "th").text = name
        for row in rows:
            line = ET.SubElement(table, "tr")
            for cell in row:
                text, cell_css = cell if isinstance(cell, tuple) else (cell, "")
                ET.SubElement(line, "td", {"class": cell_css} if cell_css else {}).text = text
        return table

    def text(self) -> str:
        return "<!doctype html>\n" + ET.tostring(self.root, encoding="unicode", method="html")

    def write(self, path: Path, option: str) -> None:
        write_file(path, self.text(), option)


def write_file(path: Path, text: str, option: str) -> None:
    """Write a report file; a path we cannot write is a usage error naming the option."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot write: {e.strerror or e}") from e
