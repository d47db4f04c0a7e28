"""A Resolve snapshot as an OTIO timeline, so the command line's scan and plan run on it.

Frame conventions (see shared research, "Frame conventions"):

* item ``start``/``end`` are absolute; the timeline starts at ``start_frame``
  (``GetStartFrame()``), so an item sits ``start - start_frame`` frames in;
* a timeline marker's ``frame`` is already an offset from the timeline start;
* an item marker's ``frame`` counts in the item's *media* frames, so it lies
  ``frame - left_offset`` frames into the item.  This one is the least sure of
  the three; :func:`item_marker_offset` is the only place that knows it.

Timecode comes from ``start_timecode`` when the launcher could read it, so the
placeholders' timecodes are right whichever way a version numbers drop-frame
frames; placement always uses Resolve's own numbers (``start_frame`` + offset).

Markers ShotFill already filled (custom data ``shotfill:done:...`` whose text
still matches) are left out: they are ordinary markers now, so a second run
finds nothing to do.  The error ShotFill appended to a failed marker's note is
cut off again before the note is read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal, Optional

import opentimelineio as otio

from shotfill.errors import TimelineError
from shotfill.model import Placeholder, TimelineInfo
from shotfill.scan.notes import is_gen_marker
from shotfill_otio.colours import NAMED_RGB, marker_colour
from shotfill.rates import DROP_FRAME_RATES, normalize_rate, rational_time, timecode_to_frames
from shotfill.resolve.protocol import DONE_PREFIX, NOTE_ERROR_MARK, SnapItem, SnapMarker, Snapshot

#: metadata key on OTIO objects made from the snapshot
KEY = "shotfill_resolve"


def parse_resolve_rate(text: str) -> tuple[Fraction, bool]:
    """``"23.976"`` -> 24000/1001; ``"29.97 DF"`` -> (30000/1001, True)."""
    m = re.search(r"\d+(?:\.\d+)?", text or "")
    if not m:
        raise TimelineError(f"Resolve gave the timeline frame rate as '{text}', which is not a rate",
                            hint="check Timeline Settings > Format > Timeline frame rate")
    rate = normalize_rate(Fraction(m.group(0)))
    return rate, bool(re.search(r"\bDF\b|drop", text, re.I)) and rate in DROP_FRAME_RATES


def clean_note(note: str) -> str:
    """The note without the error a previous ShotFill run appended."""
    return (note or "").split(NOTE_ERROR_MARK, 1)[0].rstrip()


def text_hash(name: str, note: str) -> str:
    return hashlib.sha1(f"{name}\0{clean_note(note)}".encode("utf-8")).hexdigest()[:8]


def done_custom_data(request_hash: str, name: str, note: str) -> str:
    return f"{DONE_PREFIX}{request_hash[:16]}:{text_hash(name, note)}"


def is_done(m: SnapMarker, *, text: Optional[tuple[str, str]] = None) -> bool:
    """Filled by an earlier run, and not edited since (an edited prompt is a new request)."""
    cd = m.custom_data or ""
    if not cd.startswith(DONE_PREFIX):
        return False
    name, note = text if text is not None else (m.name, m.note)
    return cd.rsplit(":", 1)[-1] == text_hash(name, note)


def item_marker_offset(item: SnapItem, frame: float) -> int:
    """Frames from the item's first frame to a marker whose key is ``frame``."""
    return int(round(frame - (item.left_offset or 0)))


def item_marker_key(item: SnapItem, offset: int) -> float:
    """The marker key for a point ``offset`` frames into the item (inverse of :func:`item_marker_offset`)."""
    return float(offset + int(round(item.left_offset or 0)))


@dataclass
class MarkerSource:
    """A GEN: marker of the snapshot, with its range in timeline frames (0 = timeline start)."""

    marker: SnapMarker
    owner: Literal["timeline", "item"]
    start: int
    end: int
    track: Optional[int] = None   # Resolve track index (1-based)
    item: Optional[int] = None    # item index in the track (1-based)


@dataclass
class Built:
    snapshot: Snapshot
    timeline: otio.schema.Timeline
    info: TimelineInfo
    #: ``GetStartFrame()``: what record frames are counted from
    resolve_start: int
    gen_markers: list[MarkerSource] = field(default_factory=list)
    #: GEN: markers already filled (described for the report)
    done: list[str] = field(default_factory=list)
    #: (track, item) of items carrying a ShotFill "done" marker
    done_items: set[tuple[int, int]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def resolve_track_index(self, ph: Placeholder) -> int:
        return self.snapshot.timeline.video_tracks[ph.track_index].index

    def item_of(self, ph: Placeholder) -> Optional[SnapItem]:
        if ph.kind != "clip":
            return None
        clip = self.timeline.tracks[ph.item_path[0]][ph.item_path[1]]
        md = clip.metadata.get(KEY)
        if md is None:
            return None
        track = self.snapshot.timeline.video_tracks[ph.track_index]
        return next((it for it in track.items if it.index == int(md["item"])), None)


def _clip_for(item: SnapItem, dur: int, rate: Fraction) -> otio.schema.Clip:
    left = int(round(item.left_offset or 0))
    rng = otio.opentime.TimeRange(rational_time(left, rate), rational_time(dur, rate))
    if not item.has_media_pool_item:
        # Generators, titles, solid colours: no media pool item behind them.
        ref: otio.core.MediaReference = otio.schema.GeneratorReference(
            name=item.name, generator_kind=item.name or "generator")
    elif item.file_path:
        # The media runs on past the out point by GetRightOffset() frames: the shot before's run-on
        # (source=handles) can fill a hole after it.  Unknown (an older launcher): only what the item shows.
        right = max(0, int(round(item.right_offset))) if item.right_offset is not None else 0
        ref = otio.schema.ExternalReference(
            target_url=otio.url_utils.url_from_filepath(item.file_path),
            available_range=otio.opentime.TimeRange(rational_time(0, rate), rational_time(left + dur + right, rate)))
    else:
        ref = otio.schema.MissingReference()
    return otio.schema.Clip(name=item.name, media_reference=ref, source_range=rng)


def _otio_marker(m: SnapMarker, start: int, rate: Fraction, md: dict[str, str | int]) -> otio.schema.Marker:
    color = (m.color or "").upper()
    if color not in NAMED_RGB:
        color = "RED"
    return otio.schema.Marker(
        name=m.name, comment=clean_note(m.note), color=marker_colour(color),
        marked_range=otio.opentime.TimeRange(rational_time(start, rate),
                                             rational_time(max(0, int(round(m.duration))), rate)),
        metadata={KEY: {**md, "frame": m.frame, "color": m.color, "custom_data": m.custom_data}})


def build(snapshot: Snapshot, path: Path) -> Built:
    """The snapshot as an OTIO timeline and its TimelineInfo; ``path`` names it in messages and media."""
    tl = snapshot.timeline
    rate, df_in_rate = parse_resolve_rate(tl.rate)
    drop = (tl.drop_frame or df_in_rate) and rate in DROP_FRAME_RATES
    resolve_start = int(tl.start_frame)
    start = resolve_start
    warnings: list[str] = []
    if tl.start_timecode:
        tc = tl.start_timecode.strip()
        if drop and ";" not in tc:
            tc = tc[:8] + ";" + tc[9:]
        try:
            start = timecode_to_frames(tc, rate)
        except (ValueError, TypeError):
            warnings.append(f"{tl.name}: start timecode '{tl.start_timecode}' cannot be read; "
                            "timecodes are counted from the start frame")
    otl = otio.schema.Timeline(name=tl.name, global_start_time=rational_time(start, rate))
    built = Built(snapshot=snapshot, timeline=otl, info=TimelineInfo(
        path=str(path), format="resolve", name=tl.name, rate=rate, drop_frame=drop, start_frame=start,
        width=tl.width, height=tl.height), resolve_start=resolve_start, warnings=warnings)

    for strack in tl.video_tracks:
        track = otio.schema.Track(name=strack.name or f"Video {strack.index}", kind=otio.schema.TrackKind.Video)
        track.metadata[KEY] = {"track": strack.index}
        pos = 0
        for item in sorted(strack.items, key=lambda it: it.start):
            at = int(round(item.start)) - resolve_start
            dur = int(round(item.end)) - int(round(item.start))
            if at < pos or dur <= 0:
                warnings.append(f"{tl.name}: item '{item.name}' on video track {strack.index} overlaps "
                                "another or starts before the timeline; left out of the scan")
                continue
            if at > pos:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    rational_time(0, rate), rational_time(at - pos, rate))))
            clip = _clip_for(item, dur, rate)
            clip.metadata[KEY] = {"track": strack.index, "item": item.index, "unique_id": item.unique_id}
            left = int(round(item.left_offset or 0))
            for m in item.markers:
                gen = is_gen_marker(m.name, clean_note(m.note))
                if is_done(m) or (not gen and is_done(m, text=(item.name, ""))):
                    built.done_items.add((strack.index, item.index))
                    if gen:
                        built.done.append(f"'{m.name}' on '{item.name}' (video track {strack.index})")
                    continue
                off = item_marker_offset(item, m.frame)
                clip.markers.append(_otio_marker(m, left + off, rate,
                                                 {"owner": "item", "track": strack.index, "item": item.index}))
                if gen:
                    built.gen_markers.append(MarkerSource(m, "item", at + off, at + off + max(1, int(round(m.duration))),
                                                          strack.index, item.index))
            track.append(clip)
            pos = at + dur
        otl.tracks.append(track)

    for m in tl.markers:
        if is_done(m):
            if is_gen_marker(m.name, clean_note(m.note)):
                built.done.append(f"'{m.name}' (timeline marker at frame {int(m.frame)})")
            continue
        at = int(round(m.frame))
        otl.tracks.markers.append(_otio_marker(m, at, rate, {"owner": "timeline"}))
        if is_gen_marker(m.name, clean_note(m.note)):
            built.gen_markers.append(MarkerSource(m, "timeline", at, at + max(1, int(round(m.duration)))))
    return built


def marker_for(built: Built, ph: Placeholder) -> Optional[MarkerSource]:
    """The GEN: marker the scan used for ``ph`` (None for a clip named ``GEN:``)."""
    if ph.marker_on == "name":
        return None
    end = ph.start + max(1, ph.duration)
    track = built.resolve_track_index(ph)
    own = built.item_of(ph)

    def overlaps(ms: MarkerSource) -> bool:
        if ph.duration == 0:
            return ms.start <= ph.start < ms.end
        return ms.start < end and ph.start < ms.end

    cands = [ms for ms in built.gen_markers if ms.marker.name == ph.marker_name and overlaps(ms)]

    def rank(ms: MarkerSource) -> tuple[int, int]:
        if ms.owner == "item" and own is not None and ms.track == track and ms.item == own.index:
            return (0, ms.start)
        if ms.owner == "item" and ms.track == track:
            return (1, ms.start)
        return (2 if ms.owner == "timeline" else 3, ms.start)

    cands.sort(key=rank)
    return cands[0] if cands else None
