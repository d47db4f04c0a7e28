"""Write FCPXML back by editing the editor's own document.

OTIO's FCPXML writer cannot write NTSC rates (it writes ``frameDuration=""``),
drops the start timecode, gap markers, notes, keywords, roles, effects and
everything else it does not model.  So when FCPXML goes in and ``.fcpxml``
comes out, ShotFill edits the text instead (see :mod:`shotfill.timeline.xml.document`):

* a new ``<asset>`` per generated file is added to ``<resources>``: in the
  sequence's ``format``, ``start`` and ``duration`` the whole file's (the
  placement's available range; the asset-clip's ``start`` is the first frame
  shown, past the file's first with handles), with a
  ``<media-rep>`` from FCPXML 1.9 on and a ``src`` attribute before;
* a filled placeholder in the primary storyline (a ``<gap>``, a ``<title>``,
  a generator ``<video>``, or a clip whose media is missing) or a connected
  placeholder clip is replaced by an ``<asset-clip>`` with the same
  ``offset``, ``duration``, ``lane`` and ``enabled``.  It keeps the
  element's note, markers (chapter markers, keywords, ratings), video
  adjustments and filters, metadata, and the clips connected to it (a gap can
  hold connected clips): their times move from the old element's time to the
  asset-clip's, so every one stays at the same sequence time;
* a filled hole on a connected lane becomes a connected ``<asset-clip>`` on
  that lane, anchored to the primary-storyline item under its first frame;
* every time is an exact rational (``1001/24000s`` multiples), and every other
  byte of the document is as it was, but for the ``src`` of assets and
  ``<media-rep>``s that are relative when the output goes to another folder
  (rebased to it, see :mod:`shotfill.timeline.media_refs`).

Lanes become tracks as OTIO's reader makes them (lanes sorted by name, a lane
of audio only is an audio track).  Placeholders inside compound clips,
auditions or secondary storylines, or that only partly cover an element,
raise :class:`TimelineError`; the caller then writes with OTIO's writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import takewhile
from pathlib import Path
from typing import Callable, Optional

from shotfill.errors import TimelineError
from shotfill.model import Placement
from shotfill.timeline.fcpxml import audio
from shotfill.timeline.media_refs import Rebase
from shotfill.timeline.names import line_safe
from shotfill.rates import normalize_rate
from shotfill.timeline.xml.document import Edit, El, Node, Raw, XmlDoc, esc, file_url, provenance_line

_HINT = "the timeline is written with OpenTimelineIO's FCPXML writer instead"
_COMPOSABLE = ("video", "audio", "ref-clip", "asset-clip", "title")   # what ShotFill's reader turns into items
_TIMING = ("clip", "asset-clip", "ref-clip")                     # what times them
_MARKERS = ("marker", "chapter-marker", "rating", "keyword", "analysis-marker")
_VIDEO_ADJUST = ("object-tracker", "adjust-crop", "adjust-corners", "adjust-conform", "adjust-transform",
                 "adjust-blend", "adjust-stabilization", "adjust-rollingShutter", "adjust-360-transform",
                 "adjust-reorient", "adjust-orientation", "adjust-cinematic")
#: children a replaced placeholder hands on (besides its note and connected clips); in DTD order
_KEEP = set(_MARKERS) | set(_VIDEO_ADJUST) | {"filter-video", "filter-video-mask", "metadata"}
#: children that come after connected clips in every clip element's DTD
_AFTER_ANCHORS = set(_MARKERS) | {"audio-channel-source", "audio-role-source", "filter-video", "filter-video-mask",
                                  "filter-audio", "metadata", "sync-source", "reserved"}


def _fail(msg: str) -> TimelineError:
    return TimelineError(msg, hint=_HINT)


class CompoundClipError(TimelineError):
    """A placeholder inside a compound clip: OTIO's writer, the usual way out, would lose the
    compound's duration, format and uids, so the write is refused instead of falling back."""


def seconds(value: Optional[str]) -> Fraction:
    """FCPXML time (``"0s"``, ``"3600s"``, ``"1001/24000s"``) as exact seconds."""
    if not value:
        return Fraction(0)
    v = value.strip().removesuffix("s")
    try:
        if "/" in v:
            a, b = v.split("/", 1)
            return Fraction(int(a), int(b))
        return Fraction(v)
    except (ValueError, ZeroDivisionError):
        raise _fail(f"'{value}' is not an FCPXML time") from None


@dataclass
class _Comp:
    """An element OTIO's reader makes a track item of, where the reader puts it."""

    el: Node
    timing: Node
    lane: str
    start: int       # frames from the sequence start
    end: int
    audio_only: bool


class _Seq:
    """The sequence being edited and its time base."""

    def __init__(self, doc: XmlDoc, rate: Fraction, name: str) -> None:
        root = doc.root
        if root.tag != "fcpxml":
            raise _fail(f"{name}: is not an FCPXML document")
        self.version = tuple(int(p) for p in (root.attrs.get("version", "1.8").split(".") + ["0"])[:2]
                             if p.isdigit()) or (1, 8)
        seq = _sequence(root)
        if seq is None:
            raise _fail(f"{name}: holds no project sequence to edit")
        self.seq = seq
        resources = root.find("resources")
        if resources is None:
            raise _fail(f"{name}: has no <resources>")
        self.resources = resources
        self.assets = {n.attrs.get("id"): n for n in self.resources.findall("asset")}
        self.format_id = self.seq.attrs.get("format", "")
        fmt = next((n for n in self.resources.findall("format") if n.attrs.get("id") == self.format_id), None)
        fd_text = (fmt.attrs.get("frameDuration") or "") if fmt is not None else ""
        self.fd = seconds(fd_text)
        if self.fd <= 0 or normalize_rate(1 / self.fd) != rate:
            raise _fail(f"{name}: the sequence's format frameDuration '{fd_text}' is not the timeline rate {rate}")
        self.rate = 1 / self.fd
        den = fd_text.strip().removesuffix("s").partition("/")[2]
        self.fd_den = int(den) if den.isdigit() else self.fd.denominator
        self.tc_start = seconds(self.seq.attrs.get("tcStart"))
        self.origin = round(self.tc_start * self.rate)
        spine = self.seq.find("spine")
        if spine is None:
            raise _fail(f"{name}: the sequence has no <spine>")
        self.spine = spine

    def t(self, x: Fraction) -> str:
        """Exact FCPXML time, in the format's frameDuration denominator when it divides."""
        if x.denominator == 1:
            return f"{x.numerator}s"
        if self.fd_den % x.denominator == 0:
            return f"{x.numerator * (self.fd_den // x.denominator)}/{self.fd_den}s"
        return f"{x.numerator}/{x.denominator}s"

    def frames(self, x: Fraction) -> int:
        return round(x * self.rate)

    # ---------------------------------------------------------------- OTIO's reader's view
    def composables(self) -> list[_Comp]:
        out = []
        for el in self.seq.iter():
            if el.tag not in _COMPOSABLE or self._inactive_pick(el):
                continue
            timing = el if el.tag == "title" else next((n for n in [el, *el.ancestors()] if n.tag in _TIMING), el)
            parent = timing.parent
            assert parent is not None
            if parent.tag == "spine" and parent.attrs.get("lane"):
                lane, parent, in_spine = parent.attrs["lane"], parent.parent, True
                assert parent is not None   # a lane's spine sits inside the clip it is connected to
            else:
                lane, in_spine = timing.attrs.get("lane", "0"), False
            at = seconds(timing.attrs.get("offset"))
            if not in_spine:
                at -= seconds(parent.attrs.get("start"))
            at += seconds(parent.attrs.get("offset"))
            start = self.frames(at) - self.origin
            out.append(_Comp(el, timing, lane, start, start + self.frames(seconds(timing.attrs.get("duration"))),
                             self._audio_only(el)))
        return out

    @staticmethod
    def _inactive_pick(el: Node) -> bool:
        node = el
        while node.parent is not None:
            if node.parent.tag == "audition" and node.parent.children[0] is not node:
                return True
            node = node.parent
        return False

    def _audio_only(self, el: Node) -> bool:
        if el.tag == "audio":
            return True
        if el.tag == "asset-clip":
            asset = self.assets.get(el.attrs.get("ref"))
            # the reader tests an ElementTree element for truth: an asset without children is "no asset"
            return asset is not None and bool(asset.children) and asset.attrs.get("hasVideo", "0") == "0"
        return el.tag == "ref-clip" and el.attrs.get("srcEnable") == "audio"

    def span(self, n: Node) -> tuple[Fraction, Fraction]:
        """Sequence time of a primary-storyline element, or of one connected to it."""
        if n.parent is self.spine:
            a = seconds(n.attrs.get("offset"))
        else:
            anchor = n.parent
            assert anchor is not None
            a = seconds(anchor.attrs.get("offset")) - seconds(anchor.attrs.get("start")) \
                + seconds(n.attrs.get("offset"))
        return a, a + seconds(n.attrs.get("duration"))


def _sequence(root: Node) -> Optional[Node]:
    """The sequence OTIO's reader turns into the (first) timeline."""
    library = root.find("library")
    event = library.find("event") if library is not None else root.find("event")
    projects = event.findall("project") if event is not None else root.findall("project")
    for project in projects:
        seq = project.find("sequence")
        if seq is not None:
            return seq
    return None


def _new_id(used: set[str]) -> str:
    n = 1 + max([int(i[1:]) for i in used if i[:1] == "r" and i[1:].isdigit()] + [0])
    while f"r{n}" in used:
        n += 1
    used.add(f"r{n}")
    return f"r{n}"


def splice_fcpxml(xml_text: str, placements: list[Placement], *, rate: Fraction, drop_frame: bool,
                  source_name: str, relative_to: Optional[Path] = None, rebase: Optional[Rebase] = None) -> str:
    """The document with every placement spliced in; TimelineError if one cannot be."""
    if not placements and rebase is None:
        return xml_text
    doc = XmlDoc(xml_text, source_name)
    moved = rebase_sources(doc, rebase)
    if not placements:
        return doc.apply(moved)
    sq = _Seq(doc, rate, source_name)
    comps = sq.composables()
    by_lane: dict[str, list[_Comp]] = {}
    for c in comps:
        by_lane.setdefault(c.lane, []).append(c)
    video_lanes = [lane for lane in sorted(by_lane) if not all(c.audio_only for c in by_lane[lane])]
    used = set(doc.ids())

    replaces: list[tuple[Placement, Node]] = []
    connects: list[tuple[Placement, Node, str]] = []      # (placement, anchor, lane)
    for pl in sorted(placements, key=lambda p: (p.placeholder.track_index, p.placeholder.start)):
        ph = pl.placeholder
        where = f"{source_name}: {ph.id} ({ph.track} at {ph.timecode})"
        if len(ph.item_path) != 2:
            raise CompoundClipError(
                f"{where} is inside a compound clip, which ShotFill cannot edit in place, and OTIO's FCPXML "
                "writer would lose the compound's duration, format and ids",
                hint="break the compound clip apart in Final Cut Pro (Clip > Break Apart Clip Items) and export "
                     "again, or write the output as .otio; nothing was generated")
        if ph.track_index >= len(video_lanes):
            raise _fail(f"{where}: the project has only {len(video_lanes)} video lane(s)")
        lane = video_lanes[ph.track_index]
        s, e = ph.start, ph.start + ph.duration
        a0, a1 = sq.tc_start + s * sq.fd, sq.tc_start + e * sq.fd
        if ph.kind == "clip":
            hits = {id(c.timing): c for c in by_lane[lane] if (c.start, c.end) == (s, e)}
            if len(hits) != 1:
                raise _fail(f"{where}: no single clip on lane {lane} at exactly frames {s}-{e}")
            [c] = hits.values()
            t = c.timing
            between = list(takewhile(lambda n: n is not t, [c.el, *c.el.ancestors()]))
            if c.el is not t and (t.tag != "clip" or any("lane" in n.attrs or n.tag in ("spine", "clip", "gap")
                                                          for n in between)):
                raise _fail(f"{where}: the placeholder sits inside another clip, which the reader times wrongly")
            connected = "lane" in t.attrs and t.parent is not None and t.parent.parent is sq.spine
            if t.parent is not sq.spine and not connected:
                raise _fail(f"{where}: the placeholder is inside a secondary storyline, audition or compound "
                            "clip, which is not edited in place")
            if sq.span(t) != (a0, a1):
                raise _fail(f"{where}: the placeholder does not lie on whole frames at frames {s}-{e}")
            replaces.append((pl, t))
        elif lane == "0":
            under = [n for n in sq.spine.children if n.tag != "transition"
                     and sq.span(n)[0] < a1 and a0 < sq.span(n)[1]]
            if len(under) != 1 or under[0].tag not in ("gap", "title") or sq.span(under[0]) != (a0, a1):
                raise _fail(f"{where}: no single <gap> in the primary storyline at exactly frames {s}-{e} "
                            f"(the gap there is {'/'.join(n.tag for n in under) or 'missing'}, or only partly covered)")
            replaces.append((pl, under[0]))
        else:
            if any(c.start < e and s < c.end for c in by_lane[lane]):
                raise _fail(f"{where}: clips on lane {lane} overlap frames {s}-{e}")
            for n in sq.spine.iter():
                if n.tag == "spine" and n.attrs.get("lane") == lane and n.parent is not None \
                        and n.parent.parent is sq.spine:
                    start = sq.span(n)[0]
                    length = sum((seconds(k.attrs.get("duration")) for k in n.children if k.tag != "transition"),
                                 Fraction(0))
                    if start < a1 and a0 < start + length:
                        raise _fail(f"{where}: the hole is inside a secondary storyline on lane {lane}")
            anchor = next((n for n in sq.spine.children if n.tag != "transition"
                           and sq.span(n)[0] <= a0 < sq.span(n)[1]), None)
            if anchor is None or anchor.tag == "audition":
                raise _fail(f"{where}: no primary-storyline clip under frame {s} to connect the new clip to")
            connects.append((pl, anchor, lane))

    replaced = {id(n) for _, n in replaces}
    for pl, anchor, _ in connects:
        if id(anchor) in replaced:
            raise _fail(f"{source_name}: {pl.placeholder.id} would connect to a placeholder that is also replaced")

    edits: list[Edit] = []
    assets: list[El] = []
    tc_format = sq.seq.attrs.get("tcFormat")

    def new_asset(pl: Placement, media: Optional[Path] = None) -> str:
        media = Path(media or pl.media_path)
        aid = _new_id(used)
        url = file_url(media, relative_to=relative_to)
        attrs = [("id", aid), ("name", line_safe(media.stem))]
        if sq.version < (1, 9):
            attrs.append(("src", url))
        # The asset is the whole file (longer than the hole with handles or a neighbour's own media).
        first, length = pl.available
        attrs += [("start", sq.t(first * sq.fd)), ("duration", sq.t(length * sq.fd)),
                  ("hasVideo", "1"), ("format", sq.format_id), ("videoSources", "1"), *audio.asset_attrs(pl)]
        kids: list[El | Raw] = [El("media-rep", [("kind", "original-media"), ("src", url)])] \
            if sq.version >= (1, 9) else []
        assets.append(El("asset", attrs, kids))
        return aid

    for pl, old in replaces:
        ph = pl.placeholder
        aid = new_asset(pl)
        start = pl.source[0] * sq.fd       # the first frame shown, in the asset's own time
        delta = start - seconds(old.attrs.get("start"))
        note = provenance_line(ph.id, pl.provenance)
        kids: list[El | Raw] = []
        for child in old.children:
            if child.tag == "note":
                kids.append(El("note", text=f"{child.text}\n{note}" if child.text else note))
                note = ""
            elif "lane" in child.attrs:
                kids.append(Raw(_shifted(doc, sq, child, "offset", delta)))
            elif child.tag in _MARKERS:
                kids.append(Raw(_shifted(doc, sq, child, "start", delta)))
            elif child.tag in _KEEP:
                kids.append(Raw(doc.source(child)))
        if note:
            kids.insert(0, El("note", text=note))
        if audio.detaches(pl):   # after the note, before markers: where the DTD puts connected items
            kids.insert(1 if note or any(c.tag == "note" for c in old.children) else 0,
                        audio.connected_audio(pl, aid, sq.t(start), old.attrs["duration"]))
        attrs = [("ref", aid)]
        attrs += [(k, old.attrs[k]) for k in ("lane", "offset") if k in old.attrs]
        attrs += [("name", f"GEN {ph.id}"), ("start", sq.t(start)), ("duration", old.attrs["duration"])]
        if old.attrs.get("enabled") == "0":
            attrs.append(("enabled", "0"))
        if tc_format:
            attrs.append(("tcFormat", tc_format))
        attrs += audio.clip_attrs(pl)
        clip = _auditioned(El("asset-clip", attrs, kids), pl, new_asset)
        edits.append((old.start, old.end, doc.render(clip, doc.indent(old))))

    by_anchor: dict[int, tuple[Node, list[El]]] = {}
    for pl, anchor, lane in connects:
        ph = pl.placeholder
        aid = new_asset(pl)
        a0 = sq.tc_start + ph.start * sq.fd
        offset = seconds(anchor.attrs.get("start")) + a0 - seconds(anchor.attrs.get("offset"))
        attrs = [("ref", aid), ("lane", lane), ("offset", sq.t(offset)), ("name", f"GEN {ph.id}"),
                 ("start", sq.t(pl.source[0] * sq.fd)), ("duration", sq.t(ph.duration * sq.fd))]
        if tc_format:
            attrs.append(("tcFormat", tc_format))
        el = _auditioned(El("asset-clip", attrs, [El("note", text=provenance_line(ph.id, pl.provenance))]), pl,
                         new_asset)
        by_anchor.setdefault(id(anchor), (anchor, []))[1].append(el)
    for anchor, els in by_anchor.values():
        after = next((c for c in anchor.children if c.tag in _AFTER_ANCHORS), None)
        if after is None:
            edits.append(doc.append_children(anchor, els))
        else:
            edits += [doc.insert_before(after, el) for el in els]

    edits.append(doc.append_children(sq.resources, assets))
    return doc.apply(edits + [e for e in moved if not any(old.start <= e[0] < old.end for _, old in replaces)])


def rebase_sources(doc: XmlDoc, rebase: Optional[Rebase]) -> list[Edit]:
    """Edits that rebase every relative media ``src`` (asset, media-rep) to the output's folder."""
    edits: list[Edit] = []
    if rebase is None:
        return edits
    for n in doc.root.iter():
        if n.tag in ("asset", "media-rep") and n.attrs.get("src"):
            new = rebase.url(n.attrs["src"])
            span = doc.attr_span(n, "src")
            if new is not None and span is not None:
                edits.append((span[0], span[1], esc(new, True)))
    return edits


def take_name(placeholder_id: str, take: int) -> str:
    """The name of a take's clip in an audition: how ``shotfill pick`` finds it."""
    return f"GEN {placeholder_id} take {take}"


def _auditioned(clip: El, pl: Placement, new_asset: Callable[[Placement, Path], str]) -> El:
    """With several takes, an ``<audition>`` where the clip was: the active take first, then the others.

    FCP plays an audition's first child and offers the rest as alternates.  The
    audition takes the clip's place in its storyline (``lane``, ``offset``); the
    editor's markers, note and connected clips stay on the active one.
    """
    if len(pl.takes) <= 1:
        return clip
    ph = pl.placeholder
    placed = [(k, v) for k, v in clip.attrs if k not in ("lane", "offset")]
    first = El("asset-clip", [(k, take_name(ph.id, pl.active) if k == "name" else v) for k, v in placed],
               clip.children)
    others = []
    for t in pl.takes:
        if t.number == pl.active:
            continue
        attrs = [(k, take_name(ph.id, t.number) if k == "name" else new_asset(pl, t.media_path) if k == "ref"
                  else v) for k, v in placed]
        others.append(El("asset-clip", attrs, [El("note", text=provenance_line(ph.id, t.provenance))]))
    return El("audition", [(k, v) for k, v in clip.attrs if k in ("lane", "offset")], [first, *others])


def _shifted(doc: XmlDoc, sq: _Seq, node: Node, attr: str, delta: Fraction) -> str:
    """The element's text with one time attribute moved by ``delta`` seconds."""
    span = doc.attr_span(node, attr)
    if span is None or delta == 0:
        return doc.source(node)
    return doc.source(node, [(span[0], span[1], sq.t(seconds(node.attrs[attr]) + delta))])
