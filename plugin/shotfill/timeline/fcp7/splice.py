"""Write FCP 7 XML (xmeml) back by editing the editor's own document.

OTIO's FCP 7 writer rebuilds the file from the timeline: it reorders
elements, drops what it does not model (filters, labels, logging info, audio
levels, links), collapses identical clips into id back-references and writes
no gaps.  So when FCP 7 XML goes in and ``.xml`` comes out, ShotFill edits the
text instead (see :mod:`shotfill.timeline.xml.document`):

* a filled **slug** (a ``generatoritem``, or a ``clipitem`` whose media is
  missing) at exactly the placeholder's frames is replaced by a new
  ``clipitem`` for the generated file.  It keeps the slug's ``id`` (so links
  to it still hold), its markers (moved by the slug's in point, so they stay
  at the same sequence frame), filters, links and labels.  FCP 7 XML writes
  an element in full once and by id after that: if the slug held the full
  ``<file>`` that other items name by id, the first of those gets it;
* a filled **gap** becomes a new ``clipitem`` inserted in its track where it
  plays; the ``clipindex`` of links to later items on that track go up by one
  so they still name the same items;
* every other byte of the document is as it was, but for ``<pathurl>``s
  that are relative when the output goes to another folder (rebased to it,
  see :mod:`shotfill.timeline.media_refs`).

The sequence edited is the one the reader read: the first top-level
``<sequence>`` (root, then ``children`` of projects and bins).  Anything that
cannot be mapped exactly raises :class:`TimelineError` naming the file and the
placeholder; the caller then writes with OTIO's writer instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

from shotfill.errors import TimelineError
from shotfill.model import Placement
from shotfill.timeline.fcp7 import audio as fcp7_audio
from shotfill.timeline.media_refs import Rebase
from shotfill.timeline.names import line_safe
from shotfill.rates import frames_to_timecode, normalize_rate
from shotfill.timeline.xml.document import Edit, El, Node, Raw, XmlDoc, esc, file_url, leaf, provenance_line
from shotfill.media.probe import probe

_ITEM_TAGS = ("clipitem", "generatoritem", "transitionitem")
#: children of a replaced placeholder that the new clipitem takes over
_KEEP = ("filter", "marker", "link", "labels")
_HINT = "the timeline is written with OpenTimelineIO's FCP 7 XML writer instead"


@dataclass
class _Item:
    node: Node      # the child of <track>
    real: Node      # the element it stands for: itself, or the earlier one its id names
    start: int
    end: int
    number: int     # 1-based place among the track's items: the <clipindex> links use


def _fail(msg: str) -> TimelineError:
    return TimelineError(msg, hint=_HINT)


def _int(node: Node, tag: str, where: str) -> int:
    try:
        return int(node.child_text(tag) or "")
    except ValueError:
        raise _fail(f"{where}: <{node.tag}> has no whole-number <{tag}>") from None


def _sequence(doc: XmlDoc, deref, name: str) -> Node:
    """The sequence OTIO's reader turns into the (first) timeline."""
    root = doc.root
    found = [c for c in root.children if c.tag == "sequence"]
    found += [n for n in root.iter() if n.tag == "sequence" and n.parent is not None and n.parent.tag == "children"]
    if root.tag != "xmeml" or not found:
        raise _fail(f"{name}: holds no top-level <sequence> to edit")
    return deref(found[0])


def _rate_of(seq: Node, rate: Fraction, name: str) -> tuple[int, bool]:
    r = seq.find("rate")
    try:
        timebase = int(r.child_text("timebase") or "") if r is not None else 0
    except ValueError:
        timebase = 0
    ntsc = r is not None and (r.child_text("ntsc") or "").upper() == "TRUE"
    if timebase <= 0 or normalize_rate(Fraction(timebase) * (Fraction(1000, 1001) if ntsc else 1)) != rate:
        raise _fail(f"{name}: the sequence's <rate> is not the timeline rate {rate}")
    return timebase, ntsc


def _cut(tr: Node, where: str) -> int:
    """Where a transition cuts from one clip to the next (as OTIO's reader reckons it)."""
    s, e = _int(tr, "start", where), _int(tr, "end", where)
    align = tr.child_text("alignment") or ""
    if align in ("end", "end-black"):
        return e
    if align in ("start", "start-black"):
        return s
    return int((s + e) / 2)


def _items(track: Node, deref, where: str) -> list[_Item]:
    items: list[_Item] = []
    head: Optional[Node] = None
    kids = track.children
    for i, child in enumerate(kids):
        if child.tag not in _ITEM_TAGS:
            continue
        real = deref(child)
        s, e = _int(real, "start", where), _int(real, "end", where)
        if s == -1:
            if head is None:
                raise _fail(f"{where}: an item starts at a transition that is not there")
            s = _cut(head, where)
        if e == -1:
            nxt = deref(kids[i + 1]) if i + 1 < len(kids) else None
            if nxt is None or nxt.tag != "transitionitem":
                raise _fail(f"{where}: an item ends at a transition that is not there")
            e = _cut(nxt, where)
        items.append(_Item(child, real, s, e, len(items) + 1))
        if real.tag == "transitionitem":
            head = real
    return items


def _new_id(prefix: str, used: set[str]) -> str:
    n = 1 + max([int(i[len(prefix) + 1:]) for i in used
                 if i.startswith(prefix + "-") and i[len(prefix) + 1:].isdigit()] + [0])
    while f"{prefix}-{n}" in used:
        n += 1
    used.add(f"{prefix}-{n}")
    return f"{prefix}-{n}"


def _frame_size(pl: Placement, seq: Node) -> Optional[tuple[int, int]]:
    """The generated file's size: probed, else the sequence's format (conform matched it)."""
    try:
        info = probe(pl.media_path)
        return info.width, info.height
    except Exception:  # noqa: BLE001 - no ffprobe or no file (unit tests): use the sequence's
        pass
    node: Optional[Node] = seq
    for tag in ("media", "video", "format", "samplecharacteristics"):
        node = node.find(tag) if node is not None else None
    if node is not None:
        try:
            return int(node.child_text("width") or ""), int(node.child_text("height") or "")
        except ValueError:
            return None
    return None


#: a take listed in a clip's log note, so that ``shotfill pick`` can swap it in (FCP 7 XML has no takes)
TAKE_LINE = re.compile(r"^take (?P<take>\d+)(?P<active> \(active\))?: (?P<url>\S+)$")


def take_line(take: int, url: str, active: bool) -> str:
    return f"take {take}{' (active)' if active else ''}: {url}"


def _clipitem(pl: Placement, *, cid: str, fid: str, timebase: int, ntsc: bool, rate: Fraction, drop: bool,
              size: Optional[tuple[int, int]], url: str, kept: list[Raw], enabled: Optional[str],
              take_urls: Sequence[tuple[int, str]] = (), sound: Optional[fcp7_audio.Sound] = None,
              linked: bool = True) -> El:
    ph = pl.placeholder
    d = ph.duration
    # The file may be longer than the hole (handles, a neighbour's own media): <file> describes all of it,
    # its timecode its first frame; the clipitem's in/out pick the hole's frames out of it.
    media_start, media_frames = pl.available
    src_in = pl.source_in

    def rate_el() -> El:
        return El("rate", children=[leaf("timebase", timebase), leaf("ntsc", "TRUE" if ntsc else "FALSE")])

    sc: list[El | Raw] = [rate_el()]
    if size:
        sc += [leaf("width", size[0]), leaf("height", size[1])]
    sc += [leaf("anamorphic", "FALSE"), leaf("pixelaspectratio", "square"), leaf("fielddominance", "none")]
    file_el = El("file", [("id", fid)], [
        leaf("name", line_safe(Path(pl.media_path).name)),
        leaf("pathurl", url),
        rate_el(),
        leaf("duration", media_frames),
        El("timecode", children=[rate_el(), leaf("string", frames_to_timecode(media_start, rate, drop)),
                                 leaf("frame", media_start), leaf("displayformat", "DF" if drop else "NDF")]),
        El("media", children=[El("video", children=[leaf("duration", media_frames),
                                                    El("samplecharacteristics", children=sc)]),
                              *(fcp7_audio.file_media(pl) if sound else [])]),
    ])
    children: list[El | Raw] = [
        leaf("name", f"GEN {ph.id}"), leaf("duration", media_frames), rate_el(),
        leaf("start", ph.start), leaf("end", ph.start + d), leaf("in", src_in), leaf("out", src_in + d),
    ]
    if enabled is not None:
        children.append(leaf("enabled", enabled))
    children += [file_el, El("sourcetrack", children=[leaf("mediatype", "video"), leaf("trackindex", 1)])]
    children += kept
    if sound and linked:
        children += fcp7_audio.links(cid, sound)
    # Premiere shows logginginfo as Description / Log Note; FCP 7 and Resolve ignore what they do not use.
    children.append(El("logginginfo", children=[
        leaf("description", str(pl.provenance.get("prompt") or ph.prompt)), leaf("scene", ""),
        leaf("shottake", f"take {pl.active}" if take_urls else ""),
        leaf("lognote", "\n".join([provenance_line(ph.id, pl.provenance)]
                                  + [take_line(n, u, n == pl.active) for n, u in take_urls]))]))
    return El("clipitem", [("id", cid)], children)


def splice_fcp7(xml_text: str, placements: list[Placement], *, rate: Fraction, drop_frame: bool,
                source_name: str, relative_to: Optional[Path] = None, rebase: Optional[Rebase] = None) -> str:
    """The document with every placement spliced in; TimelineError if one cannot be."""
    if not placements and rebase is None:
        return xml_text
    doc = XmlDoc(xml_text, source_name)
    moved = rebase_pathurls(doc, rebase)
    if not placements:
        return doc.apply(moved)
    ids = doc.ids()
    first = {k: v[0] for k, v in ids.items()}

    def deref(n: Node) -> Node:
        return first.get(n.attrs["id"], n) if "id" in n.attrs else n

    seq = _sequence(doc, deref, source_name)
    timebase, ntsc = _rate_of(seq, rate, source_name)
    media = seq.find("media")
    media = deref(media) if media is not None else None
    tracks = [deref(t) for v in (media.findall("video") if media is not None else []) for t in v.findall("track")]
    used = set(ids)

    replaces: list[tuple[Placement, _Item]] = []
    inserts: list[tuple[Placement, list[_Item], int]] = []   # (placement, track items, index it goes before)
    shifts: dict[int, list[int]] = {}                        # video track no. -> clipindex of each new item
    at: dict[str, tuple[int, int, bool]] = {}                # placeholder id -> where its clipitem goes (audio links)
    for pl in sorted(placements, key=lambda p: (p.placeholder.track_index, p.placeholder.start)):
        ph = pl.placeholder
        where = f"{source_name}: {ph.id} ({ph.track} at {ph.timecode})"
        if len(ph.item_path) != 2:
            raise _fail(f"{where} is inside a nested sequence, which is not edited in place")
        if ph.track_index >= len(tracks):
            raise _fail(f"{where}: the sequence has only {len(tracks)} video track(s)")
        items = _items(tracks[ph.track_index], deref, where)
        s, e = ph.start, ph.start + ph.duration
        overlapping = [it for it in items if it.start < e and s < it.end]
        if ph.kind == "clip":
            exact = [it for it in overlapping if (it.start, it.end) == (s, e) and it.real.tag != "transitionitem"]
            if len(exact) != 1 or len(overlapping) != 1:
                raise _fail(f"{where}: no single clip item at exactly frames {s}-{e} on that track")
            it = exact[0]
            if it.node is not it.real:
                raise _fail(f"{where}: the slug is a reference to another item (id {it.node.attrs.get('id')})")
            if _int(it.real, "start", where) < 0 or _int(it.real, "end", where) < 0:
                raise _fail(f"{where}: a transition touches the slug")
            own_id = it.real.attrs.get("id")
            if own_id and len(ids[own_id]) > 1:
                raise _fail(f"{where}: other items refer to the slug by its id \"{own_id}\"")
            replaces.append((pl, it))
            at[ph.id] = (ph.track_index + 1, items.index(it), False)
        else:
            if overlapping:
                raise _fail(f"{where}: items overlap the gap at frames {s}-{e}")
            k = next((i for i, it in enumerate(items) if it.start >= e), len(items))
            before, after = items[:k], items[k:]
            if any(it.end > s for it in before) or max([it.end for it in before] + [0]) != s \
                    or (after and after[0].start != e) or not items:
                raise _fail(f"{where}: the track has no hole at exactly frames {s}-{e}")
            inserts.append((pl, items, k))
            at[ph.id] = (ph.track_index + 1, k, True)
            shifts.setdefault(ph.track_index + 1, []).append(k + 1)

    link_edits = _relink(seq, shifts)
    edits: list[Edit] = _hand_over(doc, ids, [it.real for _, it in replaces], source_name, moved)

    sounds = fcp7_audio.plan(placements, at, media, used, _new_id)
    sound_items: list[El] = []

    def new_clip(pl: Placement, cid: str, kept: list[Raw], enabled: Optional[str], linked: bool = True) -> El:
        sound = sounds.get(pl.placeholder.id)
        if sound:
            sound_items.append(fcp7_audio.clipitem(pl, sound, video_id=cid, rate=El("rate", children=[
                leaf("timebase", timebase), leaf("ntsc", "TRUE" if ntsc else "FALSE")]), linked=linked))
        return _clipitem(pl, cid=cid, fid=sound.file_id if sound else _new_id("file", used), timebase=timebase,
                         ntsc=ntsc, rate=rate, drop=drop_frame, size=_frame_size(pl, seq), kept=kept, enabled=enabled,
                         url=file_url(Path(pl.media_path), relative_to=relative_to, host="localhost"),
                         take_urls=[(t.number, file_url(Path(t.media_path), relative_to=relative_to,
                                                        host="localhost")) for t in pl.takes],
                         sound=sound, linked=linked)

    for pl, it in replaces:
        old = it.real
        # Clip markers count from the media's first frame: they move by the new in point less the old one.
        inner = list(link_edits) + moved + _marker_shift(old, pl.source_in - _int(old, "in", source_name))
        kept = [Raw(doc.source(c, inner)) for c in old.children if c.tag in _KEEP]
        el = new_clip(pl, old.attrs.get("id") or _new_id("clipitem", used), kept, old.child_text("enabled"),
                      linked=not any(c.tag == "link" for c in old.children))
        edits.append((old.start, old.end, doc.render(el, doc.indent(old))))
    for pl, items, k in inserts:
        el = new_clip(pl, _new_id("clipitem", used), [], None)
        edits.append(doc.insert_before(items[k].node, el) if k < len(items) else doc.insert_after(items[-1].node, el))
    edits += [e for e in link_edits + moved if not any(it.real.start <= e[0] < it.real.end for _, it in replaces)]
    edits += fcp7_audio.track_edits(doc, media, sound_items)
    return doc.apply(edits)


def rebase_pathurls(doc: XmlDoc, rebase: Optional[Rebase]) -> list[Edit]:
    """Edits that rebase every relative ``<pathurl>`` of the document to the output's folder."""
    edits: list[Edit] = []
    if rebase is None:
        return edits
    for n in doc.root.iter():
        if n.tag == "pathurl" and not n.self_closing:
            new = rebase.url(n.text, host="localhost")
            if new is not None:
                edits.append((n.open_end, n.close_start, esc(new, False)))
    return edits


def _hand_over(doc: XmlDoc, ids: dict[str, list[Node]], removed: list[Node], name: str,
               moved: list[Edit]) -> list[Edit]:
    """Keep definitions that leave with a replaced slug (its <file>, say) for the items that refer to them.

    FCP 7 XML writes an element in full once and then as ``<file id="file-7"/>``; when the
    full one goes with a slug, the first reference left becomes the full element.
    """
    edits: list[Edit] = []
    for old in removed:
        for n in old.iter():
            same = ids.get(n.attrs.get("id", ""), [])
            if n is old or not same or same[0] is not n:
                continue
            rest = [o for o in same if not old.contains(o)]
            if not rest:
                continue
            ref = rest[0]
            if ref.children or any(r.contains(ref) for r in removed):
                raise _fail(f"{name}: <{n.tag} id=\"{n.attrs['id']}\"> inside a replaced slug is used elsewhere")
            edits.append((ref.start, ref.end, doc.source(n, moved)))
    return edits


def _marker_shift(item: Node, delta: int) -> list[Edit]:
    """Move an item's markers by ``delta`` frames (their in/out count from the media start)."""
    if delta == 0:
        return []
    edits: list[Edit] = []
    for m in item.findall("marker"):
        for tag in ("in", "out"):
            n = m.find(tag)
            if n is None or n.self_closing:
                continue
            try:
                v = int(n.text)
            except ValueError:
                continue
            if v >= 0:
                edits.append((n.open_end, n.close_start, str(v + delta)))
    return edits


def _relink(seq: Node, shifts: dict[int, list[int]]) -> list[Edit]:
    """Raise the <clipindex> of links that name items after a new one on the same video track."""
    edits: list[Edit] = []
    if not shifts:
        return edits
    for n in seq.iter():
        if n.tag != "link" or (n.child_text("mediatype") or "").lower() != "video":
            continue
        nested = False
        for a in n.ancestors():
            if a is seq:
                break
            nested = nested or a.tag == "sequence"
        ci = n.find("clipindex")
        try:
            track, index = int(n.child_text("trackindex") or ""), int(ci.text if ci is not None else "")
        except ValueError:
            continue
        up = sum(1 for p in shifts.get(track, []) if p <= index)
        if up and not nested and ci is not None:
            edits.append((ci.open_end, ci.close_start, str(index + up)))
    return edits
