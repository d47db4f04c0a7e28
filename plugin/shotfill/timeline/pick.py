"""``shotfill pick``: make another take the active one in a timeline ShotFill filled.

Every format keeps all the takes a fill made, each in its own way (see
:mod:`shotfill.timeline.place` and the splices): OTIO as media references
``take1`` ... ``takeN`` of one clip, FCPXML as an ``<audition>``, FCP 7 XML in
the clip's log note, an EDL in comment lines of the event.  Picking changes
only what says which take is shown; everything else stays as it was.  Every
choice is checked before anything is written, so an unknown id or take
writes nothing.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opentimelineio as otio

from shotfill.errors import UsageError
from shotfill.system.bounded import read_bytes
from shotfill.system.files import write_text
from shotfill.timeline.adapters import write_file
from shotfill.timeline.edl.splice import EVENT, TAKE_COMMENT
from shotfill.timeline.edl.text import decode_edl_bytes
from shotfill.timeline.fcp7.splice import TAKE_LINE, take_line
from shotfill.timeline.names import line_safe
from shotfill.timeline.otio.bundle import rewrite_bundle
from shotfill.timeline.place import take_key
from shotfill.timeline.read import detect_format, read_timeline
from shotfill.timeline.xml.document import Edit, Node, XmlDoc, escape_text, read_xml_source

#: the formats ``pick`` edits, by ShotFill format name, and the output suffixes each may go to
_SUFFIXES = {"otio_json": (".otio",), "otioz": (".otioz",), "edl": (".edl",), "fcp_xml": (".xml",),
             "fcpx_xml": (".fcpxml",)}
_CHOICE = re.compile(r"^(?P<id>[^=\s]+)=(?P<take>\d+)$")


def parse_choices(words: list[str]) -> dict[str, int]:
    """``ID=K`` words as {id: take}; a malformed or repeated one is a usage error."""
    out: dict[str, int] = {}
    for w in words:
        m = _CHOICE.match(w)
        if not m or int(m["take"]) < 1:
            raise UsageError(f"'{w}' is not a pick", hint="write ID=K, e.g. V1_01000200=2 (the ids scan and the "
                                                         "report print; takes count from 1)")
        if m["id"] in out:
            raise UsageError(f"{m['id']} is picked twice", hint="give each placeholder one ID=K")
        out[m["id"]] = int(m["take"])
    return out


@dataclass
class _Found:
    """The takes each placeholder offers in the document: id -> take numbers."""

    takes: dict[str, list[int]] = field(default_factory=dict)

    def check(self, name: str, choices: dict[str, int]) -> None:
        for pid, k in choices.items():
            if pid not in self.takes:
                known = ", ".join(sorted(self.takes)) or "none"
                raise UsageError(f"{name}: no placeholder {pid} with takes in this timeline (placeholders with "
                                 f"takes: {known})",
                                 hint="use an id `shotfill scan` or the report prints, on a timeline ShotFill "
                                      "filled with takes=N; nothing was written")
            if k not in self.takes[pid]:
                raise UsageError(f"{name}: {pid} has no take {k} (its takes: "
                                 f"{', '.join(map(str, self.takes[pid]))})", hint="nothing was written")


def pick(timeline: Path, choices: dict[str, int], output: Path) -> None:
    """Write ``output``: ``timeline`` with take ``choices[id]`` active for each placeholder id."""
    if not choices:
        raise UsageError("nothing to pick", hint="give one or more ID=K, e.g. V1_01000200=2")
    if not timeline.exists():
        raise UsageError(f"{timeline}: no such file", hint="check the path of the timeline")
    fmt = detect_format(timeline)
    if fmt not in _SUFFIXES:
        raise UsageError(f"{timeline}: `shotfill pick` reads the timelines ShotFill writes "
                         "(.otio, .otioz, .edl, .xml, .fcpxml)", hint="pick in the filled timeline itself")
    if output.suffix.lower() not in _SUFFIXES[fmt]:
        raise UsageError(f"{output}: a pick is written in the format it was read in",
                         hint=f"end the output name with {_SUFFIXES[fmt][0]}")
    if output.resolve() == timeline.resolve():
        raise UsageError(f"{output}: refusing to overwrite the input timeline", hint="write the pick to a new file")
    name = timeline.name
    if fmt == "otioz":
        rewrite_bundle(timeline, output, lambda tl: _pick_otio(tl, name, choices))
        return
    if fmt == "otio_json":
        tl = read_timeline(timeline).timeline
        _pick_otio(tl, name, choices)
        write_file(tl, output, adapter_name=fmt)
        return
    if fmt == "edl":
        text, encoding, _ = decode_edl_bytes(read_bytes(timeline))
        write_text(output, _pick_edl(text, name, choices), encoding=encoding)
        return
    source, encoding = read_xml_source(timeline)
    doc = XmlDoc(source, name)
    edits = _pick_fcp7(doc, name, choices) if fmt == "fcp_xml" else _pick_fcpxml(doc, name, choices)
    write_text(output, doc.apply(edits), encoding=encoding)


# --------------------------------------------------------------------------- OTIO


def _pick_otio(tl: otio.schema.Timeline, name: str, choices: dict[str, int]) -> None:
    found = _Found()
    clips: dict[str, list[otio.schema.Clip]] = {}
    for clip in tl.find_clips():
        md: Any = clip.metadata.get("shotfill")
        refs = clip.media_references()
        if not md or "placeholder_id" not in md or len(refs) < 2:
            continue
        pid = str(md["placeholder_id"])
        found.takes[pid] = sorted(int(k[4:]) for k in refs if re.fullmatch(r"take\d+", k))
        clips.setdefault(pid, []).append(clip)
    found.check(name, choices)
    for pid, k in choices.items():
        for clip in clips[pid]:
            clip.active_media_reference_key = take_key(k)
            md = clip.metadata["shotfill"]
            md["active_take"] = k
            # The clip's own provenance is the shown take's, as a fill writes it.
            chosen = next((dict(t) for t in list(md.get("takes") or []) if t.get("take") == k), {})
            for key, value in chosen.items():
                if key not in ("key", "target_url"):
                    md[key] = value


# --------------------------------------------------------------------------- EDL


def _pick_edl(text: str, name: str, choices: dict[str, int]) -> str:
    lines = text.splitlines(keepends=True)
    found = _Found()
    events: list[tuple[int, int]] = []     # (event line, end) of events listing takes
    starts = [i for i, ln in enumerate(lines) if EVENT.match(ln.rstrip("\r\n"))] + [len(lines)]
    for a, b in zip(starts, starts[1:]):
        for ln in lines[a:b]:
            m = TAKE_COMMENT.match(ln.rstrip("\r\n"))
            if m:
                found.takes.setdefault(m["id"], []).append(int(m["take"]))
                if not events or events[-1] != (a, b):
                    events.append((a, b))
    found.check(name, choices)
    for a, b in events:
        takes = {}
        for i in range(a, b):
            m = TAKE_COMMENT.match(lines[i].rstrip("\r\n"))
            if m:
                takes[int(m["take"])] = (i, m)
        pid = next(iter(takes.values()))[1]["id"]
        if pid not in choices:
            continue
        k = choices[pid]
        path = takes[k][1]["path"]
        for i in range(a + 1, b):
            body = lines[i].rstrip("\r\n")
            end = lines[i][len(body):]
            if re.match(r"^\*\s*FROM CLIP NAME\s*:", body, re.I):
                lines[i] = f"* FROM CLIP NAME: {line_safe(Path(path).name)}{end}"
            elif re.match(r"^\*\s*SOURCE FILE\s*:", body, re.I):
                lines[i] = f"* SOURCE FILE: {path}{end}"
            elif re.match(r"^\*\s*FROM CLIP\s*:", body, re.I):
                lines[i] = f"* FROM CLIP: {path}{end}"
        for n, (i, m) in takes.items():
            body = lines[i].rstrip("\r\n")
            lines[i] = f"* SHOTFILL {pid} TAKE {n}{' (ACTIVE)' if n == k else ''}: {m['path']}{lines[i][len(body):]}"
    return "".join(lines)


# --------------------------------------------------------------------------- FCP 7 XML


def _pick_fcp7(doc: XmlDoc, name: str, choices: dict[str, int]) -> list[Edit]:
    found = _Found()
    items: list[tuple[str, Node, dict[int, str]]] = []
    for n in doc.root.iter():
        if n.tag != "clipitem":
            continue
        log = n.find("logginginfo")
        note = log.find("lognote") if log is not None else None
        if note is None:
            continue
        text = note.text
        m = re.search(r"\bplaceholder=(\S+)", text)
        urls = {int(t["take"]): t["url"] for t in map(TAKE_LINE.match, text.splitlines()) if t}
        if m and urls:
            found.takes[m[1]] = sorted(urls)
            items.append((m[1], n, urls))
    found.check(name, choices)
    edits: list[Edit] = []
    for pid, item, urls in items:
        if pid not in choices:
            continue
        k = choices[pid]
        file_el = item.find("file")
        log = item.find("logginginfo")
        assert log is not None
        note = log.find("lognote")
        assert note is not None
        url = urls[k]
        if file_el is not None:
            for tag, value in (("name", Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name),
                               ("pathurl", url)):
                el = file_el.find(tag)
                if el is not None and not el.self_closing:
                    edits.append((el.open_end, el.close_start, escape_text(line_safe(value))))
        kept = [ln for ln in note.text.splitlines() if not TAKE_LINE.match(ln)]
        text = "\n".join(kept + [take_line(n, u, n == k) for n, u in sorted(urls.items())])
        edits.append((note.open_end, note.close_start, escape_text(text)))
        shot = log.find("shottake")
        if shot is not None:
            if shot.self_closing:
                edits.append((shot.start, shot.end, f"<shottake>take {k}</shottake>"))
            else:
                edits.append((shot.open_end, shot.close_start, f"take {k}"))
    return edits


# --------------------------------------------------------------------------- FCPXML


def _pick_fcpxml(doc: XmlDoc, name: str, choices: dict[str, int]) -> list[Edit]:
    found = _Found()
    auditions: list[tuple[str, Node, dict[int, Node]]] = []
    for n in doc.root.iter():
        if n.tag != "audition":
            continue
        takes: dict[int, Node] = {}
        pid = None
        for c in n.children:
            m = re.fullmatch(r"GEN (\S+) take (\d+)", c.attrs.get("name", ""))
            if m and (pid is None or m[1] == pid):
                pid = m[1]
                takes[int(m[2])] = c
        if pid is not None and len(takes) == len(n.children):
            found.takes[pid] = sorted(takes)
            auditions.append((pid, n, takes))
    found.check(name, choices)
    edits: list[Edit] = []
    for pid, audition, takes in auditions:
        if pid not in choices:
            continue
        chosen, first = takes[choices[pid]], audition.children[0]
        if chosen is first:
            continue
        # FCP plays an audition's first child: the chosen take and the first swap what makes them a take
        # (asset, name, provenance line); the editor's markers and connected clips stay where they are.
        for attr in ("ref", "name"):
            a, b = doc.attr_span(first, attr), doc.attr_span(chosen, attr)
            assert a is not None and b is not None
            edits += [(a[0], a[1], doc.slice(*b)), (b[0], b[1], doc.slice(*a))]
        na, nb = _provenance_span(doc, first, pid), _provenance_span(doc, chosen, pid)
        if na is not None and nb is not None:
            edits += [(na[0], na[1], doc.slice(*nb)), (nb[0], nb[1], doc.slice(*na))]
    return edits


def _provenance_span(doc: XmlDoc, clip: Node, pid: str) -> tuple[int, int] | None:
    """Byte span of the ShotFill provenance line in a clip's note."""
    note = clip.find("note")
    if note is None or note.self_closing:
        return None
    raw = doc.slice(note.open_end, note.close_start)
    pos = 0
    for line in raw.split("\n"):
        if line.startswith("ShotFill ") and f"placeholder={pid}" in line:
            start = note.open_end + len(raw[:pos].encode("utf-8"))
            return start, start + len(line.encode("utf-8"))
        pos += len(line) + 1
    return None
