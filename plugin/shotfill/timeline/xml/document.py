"""An XML document read with the byte offsets of every element, for writers that splice text.

Re-serialising a parsed tree (ElementTree, minidom) rewrites the whole file:
the declaration and DOCTYPE, attribute quotes and order, ``<x/>`` versus
``<x></x>``, character escapes, comments.  The FCP 7 XML and FCPXML writers
instead edit the editor's own text: they locate elements here, build the few
new elements with :class:`El`, and apply byte-range edits, so every byte
outside an edit is the byte the editor exported.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

from shotfill import __version__
from shotfill.system.bounded import read_bytes
from shotfill.errors import TimelineError
from shotfill.timeline.xml.decode import decode_xml

Edit = tuple[int, int, str]   # (start byte, end byte, new text) in the UTF-8 bytes of the document


@dataclass(eq=False)
class Node:
    """One element: its name, attributes, children and where its text is."""

    tag: str
    attrs: dict[str, str]
    start: int                  # the '<' of the start tag
    open_end: int               # just after the start tag's '>'
    close_start: int = -1       # the '<' of the end tag; == open_end for <x/>
    end: int = -1               # just after the whole element
    parent: Optional["Node"] = None
    children: list["Node"] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def self_closing(self) -> bool:
        return self.close_start == self.open_end and self.end == self.open_end

    @property
    def text(self) -> str:
        """The element's own character data, stripped."""
        return "".join(self.text_parts).strip()

    def find(self, tag: str) -> Optional["Node"]:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list["Node"]:
        return [c for c in self.children if c.tag == tag]

    def child_text(self, tag: str) -> Optional[str]:
        c = self.find(tag)
        return c.text if c is not None else None

    def iter(self) -> Iterator["Node"]:
        """This element and all below it, in document order."""
        stack = [self]
        while stack:
            n = stack.pop()
            yield n
            stack.extend(reversed(n.children))

    def ancestors(self) -> Iterator["Node"]:
        n = self.parent
        while n is not None:
            yield n
            n = n.parent

    def contains(self, other: "Node") -> bool:
        return self.start <= other.start and other.end <= self.end


class XmlDoc:
    """A parsed document that remembers where each element's bytes are."""

    def __init__(self, text: str, source_name: str) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self.source_name = source_name
        #: the document's line ending ("" for a one-line document: new elements are written compactly)
        self.newline = next((nl for nl in ("\r\n", "\n", "\r") if nl in text), "")
        self.root = self._parse()
        self._unit: Optional[str] = None

    # ------------------------------------------------------------------ reading
    def _parse(self) -> Node:
        data = self.data
        parser = xml.parsers.expat.ParserCreate("utf-8")   # the text is UTF-8 now, whatever it declares
        stack: list[Node] = []
        roots: list[Node] = []

        def start(tag: str, attrs: dict[str, str]) -> None:
            at = parser.CurrentByteIndex
            gt = _tag_end(data, at)
            node = Node(tag=tag, attrs=attrs, start=at, open_end=gt, parent=stack[-1] if stack else None)
            if data[gt - 2:gt - 1] == b"/":
                node.close_start = node.end = gt
            (stack[-1].children if stack else roots).append(node)
            stack.append(node)

        def end(tag: str) -> None:
            node = stack.pop()
            if node.end < 0:
                at = parser.CurrentByteIndex
                node.close_start = at
                node.end = data.index(b">", at) + 1

        def chars(s: str) -> None:
            if stack:
                stack[-1].text_parts.append(s)

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = chars
        try:
            parser.Parse(data, True)
        except xml.parsers.expat.ExpatError as exc:
            raise TimelineError(f"{self.source_name}: is not well-formed XML ({exc})",
                                hint="export the timeline again") from None
        if not roots:
            raise TimelineError(f"{self.source_name}: holds no XML element", hint="export the timeline again")
        return roots[0]

    def slice(self, a: int, b: int) -> str:
        return self.data[a:b].decode("utf-8")

    def source(self, node: Node, edits: Sequence[Edit] = ()) -> str:
        """The element's original text, with those ``edits`` that fall inside it applied."""
        inner = [e for e in edits if node.start <= e[0] and e[1] <= node.end]
        return _apply(self.data[node.start:node.end], [(a - node.start, b - node.start, t) for a, b, t in inner])

    def attr_span(self, node: Node, name: str) -> Optional[tuple[int, int]]:
        """Byte span of an attribute's value (inside the quotes) in the start tag."""
        tag = self.data[node.start:node.open_end]
        m = re.search(rb"\s" + re.escape(name.encode()) + rb"\s*=\s*(\"[^\"]*\"|'[^']*')", tag)
        if m is None:
            return None
        return node.start + m.start(1) + 1, node.start + m.end(1) - 1

    def ids(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.root.iter():
            if "id" in n.attrs:
                out.setdefault(n.attrs["id"], []).append(n)
        return out

    # ------------------------------------------------------------------ layout
    def line_start(self, pos: int) -> Optional[int]:
        """Start of the line holding ``pos`` if only blanks precede ``pos`` on it."""
        nl = max(self.data.rfind(b"\n", 0, pos), self.data.rfind(b"\r", 0, pos))
        head = self.data[nl + 1:pos]
        return nl + 1 if head.strip(b" \t") == b"" else None

    def indent(self, node: Node) -> str:
        ls = self.line_start(node.start)
        return self.slice(ls, node.start) if ls is not None else ""

    @property
    def unit(self) -> str:
        """One level of indentation, as the document does it."""
        if self._unit is None:
            self._unit = ""
            for n in self.root.iter():
                if n.children:
                    a, b = self.indent(n), self.indent(n.children[0])
                    if self.line_start(n.children[0].start) is not None and b.startswith(a) and len(b) > len(a):
                        self._unit = b[len(a):]
                        break
            if not self._unit and self.newline:
                self._unit = "\t" if self.newline + "\t" in self.text else "    "
        return self._unit

    def render(self, el: "El", indent: str) -> str:
        return el.render(indent, self.unit if self.newline else "", self.newline)

    # ------------------------------------------------------------------ editing
    def insert_before(self, node: Node, el: "El") -> Edit:
        """Put ``el`` before ``node`` at the same depth, on its own line."""
        ls = self.line_start(node.start)
        ind = self.indent(node)
        if ls is None or not self.newline:
            return node.start, node.start, self.render(el, ind)
        return ls, ls, ind + self.render(el, ind) + self.newline

    def insert_after(self, node: Node, el: "El") -> Edit:
        ind = self.indent(node)
        sep = self.newline + ind if self.newline and self.line_start(node.start) is not None else ""
        return node.end, node.end, sep + self.render(el, ind)

    def append_children(self, parent: Node, els: list["El"]) -> Edit:
        """Add ``els`` as the last children of ``parent`` (expanding ``<x/>``)."""
        ind = self.indent(parent)
        child = ind + self.unit
        nl = self.newline
        body = "".join(nl + child + self.render(e, child) for e in els)
        if parent.self_closing:
            head = self.slice(parent.start, parent.open_end)
            head = re.sub(r"\s*/>$", ">", head)
            return parent.start, parent.end, head + body + nl + ind + f"</{parent.tag}>"
        ls = self.line_start(parent.close_start)
        if ls is not None and nl:
            return ls, ls, body[len(nl):] + nl
        return parent.close_start, parent.close_start, body

    def apply(self, edits: list[Edit]) -> str:
        return _apply(self.data, edits)


def _apply(data: bytes, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping byte edits; insertions at one place keep their given order."""
    order = sorted(range(len(edits)), key=lambda i: (edits[i][0], edits[i][1], i))
    out: list[bytes] = []
    pos = 0
    for i in order:
        a, b, t = edits[i]
        if a < pos:
            raise ValueError("overlapping edits")
        out.append(data[pos:a])
        out.append(t.encode("utf-8"))
        pos = b
    out.append(data[pos:])
    return b"".join(out).decode("utf-8")


def _tag_end(data: bytes, at: int) -> int:
    """Just after the '>' that closes the start tag at ``at`` ('>' may sit inside quotes)."""
    i = at + 1
    n = len(data)
    while i < n:
        c = data[i]
        if c in (0x22, 0x27):               # " or '
            i = data.index(bytes([c]), i + 1) + 1
            continue
        if c == 0x3E:                       # >
            return i + 1
        i += 1
    raise ValueError("unterminated tag")


# =========================================================================== building


def _esc(s: str, attr: bool) -> str:
    """Escape for XML; everything outside ASCII becomes a character reference, so the
    new text is valid in whatever encoding the document declares."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif attr and ch == '"':
            out.append("&quot;")
        elif ch in "\r\t\n" and (attr or ch == "\r"):
            out.append(f"&#{o};")
        elif (o < 0x20 and ch not in "\t\n") or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            out.append("&#xFFFD;")          # not allowed in XML 1.0, not even as a reference
        elif o > 0x7E:
            out.append(f"&#x{o:X};")
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class Raw:
    """Already-serialised XML taken from the document (kept at the depth it had)."""

    text: str


@dataclass
class El:
    """A new element to write: a tag, attributes in order, and text or children."""

    tag: str
    attrs: list[tuple[str, str]] = field(default_factory=list)
    children: list[Union["El", Raw]] = field(default_factory=list)
    text: Optional[str] = None

    def render(self, indent: str, unit: str, nl: str) -> str:
        head = f"<{self.tag}" + "".join(f' {k}="{_esc(v, True)}"' for k, v in self.attrs)
        if not self.children:
            return head + ("/>" if self.text is None else f">{_esc(self.text, False)}</{self.tag}>")
        inner = indent + unit
        parts = [head + ">"]
        for c in self.children:
            parts.append(nl + inner + (c.text if isinstance(c, Raw) else c.render(inner, unit, nl)))
        parts.append(nl + indent + f"</{self.tag}>")
        return "".join(parts)


def esc(s: str, attr: bool) -> str:
    """Text (or, with ``attr``, an attribute value) escaped for the document as it is written."""
    return _esc(s, attr)


def escape_text(s: str) -> str:
    """``s`` as element text in any document encoding."""
    return _esc(s, False)


def leaf(tag: str, text: object) -> El:
    return El(tag, text=str(text))


# =========================================================================== shared bits


def file_url(path: Path, *, relative_to: Optional[Path], host: str = "") -> str:
    """A percent-encoded URL for a media file: ``file://{host}/abs/path`` or a relative reference.

    (OTIO's ``url_from_filepath`` leaves spaces and ``#`` unencoded.)
    """
    if relative_to is not None:
        rel = Path(os.path.relpath(path.resolve(), relative_to.resolve())).as_posix()
        return urllib.parse.quote(rel, safe="/", errors="surrogateescape")
    p = path.resolve().as_posix()
    if not p.startswith("/"):
        p = "/" + p                              # C:/x -> /C:/x
    # surrogateescape: a name that is not UTF-8 on disk is written as its own bytes, percent-encoded.
    return f"file://{host}" + urllib.parse.quote(p, safe="/", errors="surrogateescape")


_PROVENANCE_KEYS = ("provider", "model", "job_id", "seed", "take", "negative", "request_hash", "generated_at")


def provenance_line(placeholder_id: str, provenance: dict[str, Any]) -> str:
    """One line of ``key=value`` provenance for a note field (never a secret: a fixed list of keys)."""
    parts = [f"ShotFill {provenance.get('shotfill_version') or __version__}", f"placeholder={placeholder_id}"]
    for k in _PROVENANCE_KEYS:
        v = provenance.get(k)
        if v is not None and v != "":
            parts.append(f"{k}={v}")
    return " ".join(parts)


def read_xml_source(path: Path) -> tuple[str, str]:
    """The text of an XML timeline as the reader decoded it, and the encoding to write it back in."""
    if path.is_dir():
        path = path / "Info.fcpxml"
    data = read_bytes(path)
    text = decode_xml(path, str(path), [])
    if data.startswith(b"\xef\xbb\xbf"):
        return text, "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return text, "utf-16"
    m = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9_.\-]+)[\"']", data)
    for enc in ([m.group(1).decode("ascii")] if m else []) + ["utf-8"]:
        try:
            if data.decode(enc) == text:
                return text, enc
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        raise TimelineError(f"{path.name}: its text could not be decoded exactly, so it cannot be edited in place",
                            hint="export it again as UTF-8") from None
    return text, "cp1252"
