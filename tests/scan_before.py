"""THE SCAN AS IT WAS before its sparse walk (plugin/shotfill/scan/placeholders.py at 461a174), kept
as the oracle of tests/test_scan_sparse.py: its walk made an object for every item of every video
track, so whatever it found is what the scan must still find.  The walk is kept verbatim; the helpers
the sparse walk did not change are imported from the scan itself.  Not for use outside that test.

Find the placeholders in a timeline: the holes an editor marked with GEN:.

A placeholder is

1. a **gap** on a video track that a GEN: marker overlaps; the marker may sit
   on the gap, on its track, on a stack (the timeline's top-level stack is
   where FCP 7 XML and Resolve put sequence markers), or on a neighbouring
   clip whose range reaches into the gap;
2. a **placeholder clip**: a clip whose media is a generator (EDL ``BL``,
   slug, solid colour, bars) or missing, that carries a GEN: marker or whose
   name starts with ``GEN:``.

A marker on a stack fills only a real hole in the picture: a gap where no
video track of that stack shows a clip, taking the lowest such track.  Every
range is an integer number of frames at the timeline rate.  This module only
reads the timeline; it never changes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Optional

import opentimelineio as otio

from shotfill.model import Placeholder, ScanResult, TimelineInfo
from shotfill.scan.runon import checked
from shotfill.scan.placeholders import (  # what the sparse walk did not change: shared, not copied
    _GenMarker, _frames_of, _is_generator, _is_placeholder_media, _item_space_start, _neighbour, _overlaps,
    _own_gen_marker, _placeholder_id, _shows, long_hole_text, marker_text, too_long)
from shotfill.scan.notes import has_tag, is_gen_marker, note_text, parse_note
from shotfill.rates import frames_to_timecode

@dataclass(slots=True)   # one per item of the timeline: 200,000 of them are made in a big scan
class _Item:
    """An item of a video track, with its range in timeline frames (0 = timeline start)."""

    obj: otio.core.Item
    path: tuple[int, ...]
    lane: "_Lane"
    index: int
    start: int
    end: int
    candidate: bool
    #: the frames of it that show in the timeline: all of them, unless a nested stack (a compound
    #: clip, a nested sequence) shows only part of its content
    shown: tuple[int, int] = (0, 0)
    #: where it is in ``lane.items`` (a list.index would compare items field by field)
    pos: int = 0


@dataclass
class _Lane:
    """A video track, top-level or inside a nested stack."""

    track: otio.schema.Track
    label: str
    name: str
    top_index: int
    #: timeline frame where the track's own time 0 lands
    offset: int
    items: list[_Item] = field(default_factory=list)
    #: the timeline frames this track can show (a nested stack's range in its parent); None: all
    window: Optional[tuple[int, int]] = None
    #: the nested stack's name, for messages
    holder: str = ""


def _walk_lanes(stack: otio.schema.Stack, rate: Fraction, offset: Fraction, prefix: tuple[int, ...],
                label_prefix: str, top_index: Optional[int], lanes: list[_Lane],
                stacks: list[tuple[otio.schema.Stack, list[_Lane], Fraction, Optional[tuple[int, int]]]],
                window: Optional[tuple[int, int]] = None) -> None:
    """Collect the video tracks of ``stack`` (and of stacks nested in them).

    ``offset`` is the timeline frame at which this stack's time 0 lands; ``window`` the timeline
    frames it shows (a compound clip shows only its ref-clip's part of its content).
    """
    own: list[_Lane] = []
    stacks.append((stack, own, offset, window))
    video_no = 0
    for ti, track in enumerate(stack):
        if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Video:
            continue
        video_no += 1
        label = f"{label_prefix}V{video_no}"
        track_start = Fraction(_frames_of(track.source_range.start_time, rate)) if track.source_range else Fraction(0)
        lane = _Lane(track=track, label=label, name=track.name or "",
                     top_index=video_no - 1 if top_index is None else top_index,
                     offset=int(offset - track_start), window=window,
                     holder=stack.name or "")
        lanes.append(lane)
        own.append(lane)
        # Whole-frame offsets (nearly always) keep the arithmetic in ints: 200,000 items add up.
        base: Fraction | int = offset - track_start
        if base.denominator == 1:
            base = int(base)
        items = lane.items
        for ci, child, in_track, dur in _spans(track, rate):
            start = base + in_track
            path = prefix + (ti, ci)
            lo, hi = int(start), int(start) + dur
            shown = (max(lo, window[0]), min(hi, window[1])) if window is not None else (lo, hi)
            # Clips first: nearly every item is one (the three kinds are distinct classes).
            if isinstance(child, otio.schema.Clip):
                # A generator (slug, black) is a placeholder under any GEN: note; a clip
                # with missing media only under its own, because in an EDL every clip
                # has "missing" media and a timeline marker over a real shot is not a hole.
                if isinstance(child.media_reference, otio.schema.ExternalReference):
                    candidate = False       # a real file (most clips): neither a generator nor missing
                else:
                    candidate = _is_generator(child) or (_is_placeholder_media(child) and (
                        has_tag(child.name) or any(_own_gen_marker(child, m) for m in child.markers or ())))
            elif isinstance(child, otio.schema.Gap):
                candidate = True
            elif isinstance(child, otio.schema.Stack):
                inner_start = child.trimmed_range().start_time
                _walk_lanes(child, rate, Fraction(start - _frames_of(inner_start, rate)), path,
                            f"{label}>", lane.top_index, lanes, stacks, window=shown)
                candidate = False
            else:
                candidate = False
            if window is not None and not _shows(window, lo, hi if hi > lo else lo + 1):
                candidate = False           # content of a compound clip that its ref-clip does not show
            items.append(_Item(child, path, lane, ci, lo, hi, candidate, shown, len(items)))


def _spans(track: otio.schema.Track, rate: Fraction) -> Iterator[tuple[int, otio.core.Item, int, int]]:
    """Each item of ``track`` (not its transitions): (index, item, start in the track, length), in frames.

    While every item's length is a whole number of frames at ``rate`` (nearly always) the
    starts are the running sum of the lengths, in ints: exactly what OTIO's
    ``range_of_all_children`` gives then, at a fraction of the cost per item (its ranges are
    new Python objects for each item, each read twice).  From the first item that is not
    (or has no range), the rest come from OTIO's ranges, as before.
    """
    rf = float(rate)
    item_type, transition_type = otio.core.Item, otio.schema.Transition
    pos = 0
    resume = 0
    for ci, child in enumerate(track):
        if not isinstance(child, item_type):
            if isinstance(child, transition_type):
                continue
            resume = ci
            break
        try:
            d = child.duration()
        except Exception:  # noqa: BLE001 - no range: OTIO's ranges below say what they say
            resume = ci
            break
        dv = d.value
        if d.rate != rf or not dv.is_integer():
            resume = ci
            break
        n = int(dv)
        yield ci, child, pos, n
        pos += n
    else:
        return
    ranges = track.range_of_all_children()
    for ci, child in enumerate(track):
        if ci < resume or isinstance(child, transition_type):
            continue
        r = ranges[child]
        st, du = r.start_time, r.duration
        sv, dv = st.value, du.value
        start = int(sv) if st.rate == rf and sv.is_integer() else _frames_of(st, rate)
        yield ci, child, start, int(dv) if du.rate == rf and dv.is_integer() else _frames_of(du, rate)


def _collect_markers(lanes: list[_Lane],
                     stacks: list[tuple[otio.schema.Stack, list[_Lane], Fraction, Optional[tuple[int, int]]]],
                     rate: Fraction) -> Iterator[_GenMarker]:
    for stack, own_lanes, offset, window in stacks:
        for m in stack.markers:
            if is_gen_marker(*marker_text(m)):
                s = int(offset) + _frames_of(m.marked_range.start_time, rate)
                if not _shows(window, s, s + max(1, _frames_of(m.marked_range.duration, rate))):
                    continue        # a marker in a part of a nested stack that does not show
                yield _GenMarker(m, "stack", stack, s, s + max(1, _frames_of(m.marked_range.duration, rate)),
                                 stack_lanes=own_lanes)
    for lane in lanes:
        for m in lane.track.markers:
            if is_gen_marker(*marker_text(m)):
                s = lane.offset + _frames_of(m.marked_range.start_time, rate)
                if not _shows(lane.window, s, s + max(1, _frames_of(m.marked_range.duration, rate))):
                    continue
                yield _GenMarker(m, "track", lane.track, s, s + max(1, _frames_of(m.marked_range.duration, rate)), lane=lane)
        for item in lane.items:
            markers = item.obj.markers
            if not markers:   # nearly every item: iterating an empty OTIO list still costs ~10 us
                continue
            for m in markers:
                if is_gen_marker(*marker_text(m)):
                    s = item.start + _frames_of(m.marked_range.start_time, rate) - _item_space_start(item.obj, rate)
                    if lane.window is not None and item.shown[1] <= item.shown[0] < item.end:
                        continue        # the item's own marker, on an item its nested stack does not show
                    yield _GenMarker(m, "item", item, s, s + max(1, _frames_of(m.marked_range.duration, rate)),
                                     lane=lane)


def scan_timeline(timeline: otio.schema.Timeline, info: TimelineInfo, *,
                  media_search: Optional[list[Path]] = None) -> ScanResult:
    """Find every placeholder; never changes ``timeline``."""
    rate = info.rate
    lanes: list[_Lane] = []
    stacks: list[tuple[otio.schema.Stack, list[_Lane], Fraction, Optional[tuple[int, int]]]] = []
    _walk_lanes(timeline.tracks, rate, Fraction(0), (), "", None, lanes, stacks)
    search_dirs = [Path(info.path).resolve().parent] + [Path(d) for d in (media_search or [])]

    warnings: list[str] = []
    stray: list[str] = []
    claims: dict[int, list[_GenMarker]] = {}   # id(item) -> markers
    items_by_id: dict[int, _Item] = {}
    src = os.path.basename(info.path)

    def claim(item: _Item, gm: _GenMarker) -> None:
        items_by_id[id(item.obj)] = item
        claims.setdefault(id(item.obj), []).append(gm)

    def tc(frame: int) -> str:
        return frames_to_timecode(info.start_frame + frame, rate, info.drop_frame)

    for gm in _collect_markers(lanes, stacks, rate):
        found: list[_Item] = []
        if gm.on == "item":
            item = gm.owner
            assert isinstance(item, _Item)   # an item marker's owner is the item that carries it
            if item.candidate and _overlaps(gm.start, gm.end, item.start, item.end):
                found = [item]
            else:
                idx = item.pos
                for nb in item.lane.items[max(0, idx - 1): idx] + item.lane.items[idx + 1: idx + 2]:
                    if nb.candidate and isinstance(nb.obj, otio.schema.Gap) and _overlaps(gm.start, gm.end, nb.start, nb.end):
                        found.append(nb)
                if found:
                    gm.on = "neighbour"
        elif gm.on == "track":
            assert gm.lane is not None   # a track marker always knows its lane
            found = [it for it in gm.lane.items if it.candidate and _overlaps(gm.start, gm.end, it.start, it.end)]
        else:  # stack
            found = _holes_under(gm, gm.stack_lanes)
        if not found:
            name, _ = marker_text(gm.marker)
            msg = (f"{src}: GEN: marker '{name}' at {tc(gm.start)} ({gm.on} marker) covers no gap or "
                   "placeholder clip; move it onto the hole or the slug to fill")
            warnings.append(msg)
            stray.append(msg)
        for it in found:
            claim(it, gm)

    # Placeholder clips named "GEN: ..." need no marker.
    for lane in lanes:
        for it in lane.items:
            if it.candidate and isinstance(it.obj, otio.schema.Clip) and has_tag(it.obj.name) \
                    and id(it.obj) not in claims:
                items_by_id[id(it.obj)] = it
                claims[id(it.obj)] = []

    priority = {"item": 0, "name": 1, "neighbour": 2, "track": 3, "stack": 4}
    placeholders: list[Placeholder] = []
    for key, gms in claims.items():
        it = items_by_id[key]
        gms.sort(key=lambda g: (priority[g.on], g.start))
        if gms:
            name, comment = marker_text(gms[0].marker)
            text, on = note_text(name, comment), gms[0].on
            if on == "item":
                on = "gap" if isinstance(it.obj, otio.schema.Gap) else "clip"
        else:
            name, text, on = it.obj.name, note_text(it.obj.name, ""), "name"
        note = parse_note(text)
        problems = list(note.problems)
        start, duration = it.shown[0], it.shown[1] - it.shown[0]
        if it.shown != (it.start, it.end):
            problems.append(
                f"only {max(0, duration)} of its {it.end - it.start} frames show through the compound clip or "
                f"nested sequence '{it.lane.holder}' that holds it, and ShotFill fills whole holes only; "
                "trim the hole inside it to what shows, or open it and fill it in its own timeline")
        if duration <= 0:
            problems.append("the placeholder is zero frames long; give the gap a length in the edit")
        label = it.lane.label
        pid = _placeholder_id(label, tc(start))
        for extra in gms[1:]:
            en, _ = marker_text(extra.marker)
            warnings.append(f"{src}: {pid}: extra GEN: marker '{en}' at {tc(extra.start)} ignored; "
                            "the first one on the placeholder is used")
        siblings = it.lane.items
        idx = it.pos
        placeholders.append(checked(Placeholder(
            id=pid, track=label, track_name=it.lane.name, track_index=it.lane.top_index,
            item_path=it.path, kind="gap" if isinstance(it.obj, otio.schema.Gap) else "clip",
            start=start, duration=duration, rate=rate,
            record_frame=info.start_frame + start, timecode=tc(start),
            prompt=note.prompt, options=note.options, marker_name=name, marker_on=on,
            before=_neighbour(siblings[idx - 1] if idx > 0 else None, "before", search_dirs),
            after=_neighbour(siblings[idx + 1] if idx + 1 < len(siblings) else None, "after", search_dirs),
            problems=tuple(problems),
        )))
    placeholders.sort(key=lambda p: (p.start, p.track_index, p.track))
    warnings += [f"{src}: {long_hole_text(ph)}; `shotfill fill` refuses it without --allow-long"
                 for ph in placeholders if too_long(ph)]
    return ScanResult(info=info, placeholders=placeholders, warnings=warnings, stray=stray)


def _holes_under(gm: _GenMarker, lanes: list[_Lane]) -> list[_Item]:
    """Candidates a stack marker fills: on the lowest track, where no clip shows picture."""
    for lane in lanes:
        hits = [it for it in lane.items if it.candidate and _overlaps(gm.start, gm.end, it.start, it.end)]
        good = []
        for it in hits:
            if isinstance(it.obj, otio.schema.Clip):
                good.append(it)
                continue
            covered = any(
                not other.candidate and _overlaps(max(gm.start, it.start), min(gm.end, it.end), other.start, other.end)
                for ol in lanes if ol is not lane for other in ol.items
            )
            if not covered:
                good.append(it)
        if good:
            return good
    return []
