"""NATS server configuration syntax: parse with positions, and edit in place.

The lab runs the NATS config that render ships and changes only the addresses
(see `lab/substitutions.py`). Rather than re-printing a parsed tree (and losing or
re-spelling what it does not understand), it parses the text into blocks, arrays and
values with their spans, and splices replacements into the original text: every
other byte stays as rendered (comments, accounts, authorization, `$VAR` references,
ping_interval, ...).

The grammar follows nats-server's `conf/lex.go`: keys separated from values by `=`,
`:` or whitespace; map entries ended by a newline, `,` or `;`; `#` and `//` comments;
values are quoted strings, `(...)` blocks, arrays `[...]`, maps `{...}`, or unquoted
text ended by whitespace, a newline, `,`, `;`, `]` or `}` (numbers, IPs, `$VAR`).
`include` is refused: the lab has only the one rendered file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bcastctl.errors import ConfigError


@dataclass
class Scalar:
    start: int  # span in the text, quotes included
    end: int
    value: str  # unquoted


@dataclass
class Array:
    start: int
    end: int
    items: list[Node] = field(default_factory=list)


@dataclass
class Entry:
    key: str
    start: int  # where the key starts
    end: int  # where the value ends
    value: Node


@dataclass
class Block:
    """A map: `{...}`, or the whole file (start 0, end = len(text))."""

    start: int
    end: int
    entries: list[Entry] = field(default_factory=list)
    braced: bool = True  # False for the whole file

    def get(self, key: str) -> Node | None:
        entry = self.entry(key)
        return entry.value if entry else None

    def entry(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key.lower() == key.lower():
                return entry
        return None


Node = Scalar | Array | Block

_UNQUOTED_END = " \t\r\n,;]}"


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.pos = 0
        self.source = source

    def fail(self, message: str) -> ConfigError:
        line = self.text.count("\n", 0, self.pos) + 1
        return ConfigError(f"{self.source}: line {line}: {message}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, newlines: bool = True) -> None:
        """Whitespace and comments (newlines too unless told otherwise)."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self.pos += 1
            elif char == "#" or self.text.startswith("//", self.pos):
                newline = self.text.find("\n", self.pos)
                self.pos = len(self.text) if newline < 0 else newline
            else:
                return

    def block(self, start: int, closing: str) -> Block:
        block = Block(start=start, end=start)
        while True:
            self.skip()
            while self.peek() in (",", ";") and self.peek():
                self.pos += 1
                self.skip()
            char = self.peek()
            if char == closing:
                self.pos += len(closing)
                block.end = self.pos
                return block
            if not char:
                raise self.fail("unexpected end of file (missing '}')")
            block.entries.append(self.entry())

    def entry(self) -> Entry:
        start = self.pos
        key = self.key()
        if key.lower() == "include":
            raise self.fail("`include` is not supported by the lab (one config file)")
        self.skip()
        if self.peek() in ("=", ":"):
            self.pos += 1
        self.skip(newlines=False)
        value = self.value()
        return Entry(key=key, start=start, end=self.pos, value=value)

    def key(self) -> str:
        char = self.peek()
        if char in ('"', "'"):
            end = self.text.find(char, self.pos + 1)
            if end < 0:
                raise self.fail("unterminated quoted key")
            key, self.pos = self.text[self.pos + 1 : end], end + 1
            return key
        start = self.pos
        while self.peek() and self.peek() not in " \t\r\n=:{[":
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"expected a key, got {char!r}")
        return self.text[start : self.pos]

    def value(self) -> Node:
        start, char = self.pos, self.peek()
        if char == "{":
            self.pos += 1
            return self.block(start, "}")
        if char == "[":
            self.pos += 1
            return self.array(start)
        if char in ('"', "'"):
            return self.quoted(start, char)
        if char == "(":
            end = self.text.find("\n)", self.pos)
            if end < 0:
                raise self.fail("unterminated ( block")
            self.pos = end + 2
            return Scalar(start, self.pos, self.text[start + 1 : end + 1])
        if not char or char in "\r\n":
            raise self.fail("expected a value, found the end of the line")
        while self.peek() and self.peek() not in _UNQUOTED_END:
            self.pos += 1
        return Scalar(start, self.pos, self.text[start : self.pos])

    def quoted(self, start: int, quote: str) -> Scalar:
        self.pos += 1
        while self.peek() != quote:
            if not self.peek():
                raise self.fail("unterminated string")
            self.pos += 2 if self.peek() == "\\" and quote == '"' else 1
        self.pos += 1
        return Scalar(start, self.pos, self.text[start + 1 : self.pos - 1])

    def array(self, start: int) -> Array:
        array = Array(start=start, end=start)
        while True:
            self.skip()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "]":
                self.pos += 1
                array.end = self.pos
                return array
            if not self.peek():
                raise self.fail("unexpected end of file (missing ']')")
            array.items.append(self.value())


def parse(text: str, source: str = "nats.conf") -> Block:
    """The top-level block of a NATS config; ConfigError (with the line) when malformed."""
    parser = _Parser(text, source)
    top = parser.block(0, "")
    top.end, top.braced = len(text), False
    return top


@dataclass
class Edits:
    """Replacements to splice into the original text (non-overlapping spans)."""

    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def replace(self, node: Node | Entry, new: str) -> None:
        self.spans.append((node.start, node.end, new))

    def delete(self, entry: Entry) -> None:
        self.spans.append((entry.start, entry.end, ""))

    def add(self, block: Block, key: str, value: str, indent: str = "  ") -> None:
        """A new `key: value` line at the end of `block` (before its closing brace)."""
        at = block.end - 1 if block.braced else block.end
        self.spans.append((at, at, f"\n{indent}{key}: {value}\n"))

    def apply(self) -> str:
        out, last = [], 0
        for start, end, new in sorted(self.spans, key=lambda span: (span[0], span[1])):
            if start < last:
                raise ValueError("overlapping edits")
            out += [self.text[last:start], new]
            last = end
        return "".join(out) + self.text[last:]


def quote(text: str) -> str:
    """A double-quoted NATS string (for addresses and URLs the lab writes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
