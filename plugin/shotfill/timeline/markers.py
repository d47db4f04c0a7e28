"""Markers from a second file, merged onto a timeline: ``--markers FILE``.

This is how markers kept apart from the cut reach the batch path: Resolve's
free edition exports its timeline markers only as a "Timeline Markers to
EDL" file, beside the cut's own EDL.  Any timeline ShotFill reads works as a
marker source too (OTIO, FCP 7 XML, an EDL's ``* LOC:`` lines ...).

Every marker of the source (on its stack, tracks or items) is placed on the
target's top-level stack, as a timeline marker, at the same absolute
timecode: both files' start timecodes are accounted for.  Nothing else in the
target changes; the merged markers then go through the usual scan rules.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Optional

import opentimelineio as otio

from shotfill.system.bounded import read_bytes, read_head
from shotfill.errors import TimelineError
from shotfill.rates import frames_to_timecode, rational_time, to_frames
from shotfill.timeline.read import read_timeline
from shotfill_otio.resolve_marker_edl import ResolveMarkerEDLError, looks_like_marker_edl, read_from_string

#: metadata key on each merged marker: where it came from
MERGED_KEY = "shotfill_markers"


def is_marker_edl(path: Path) -> bool:
    """True for Resolve's "Timeline Markers to EDL" export, whatever its suffix."""
    try:
        head = read_head(path, 256 * 1024)
    except TimelineError:
        return False
    return looks_like_marker_edl(head.decode("utf-8", errors="replace"))


def read_marker_source(path: Path, *, rate: Fraction, start_frame: int) -> tuple[list[tuple[int, otio.schema.Marker]], list[str]]:
    """The markers of ``path`` with their absolute record frames at ``rate``.

    A Resolve marker EDL is read with ShotFill's adapter (at the target's rate;
    its start is taken to be the target's start); anything else with
    :func:`shotfill.timeline_io.read_timeline`.
    """
    shown = str(path)
    if not path.exists():
        raise TimelineError(f"{shown}: no such file", hint="check the path given to --markers")
    if path.is_file() and is_marker_edl(path):
        data = read_bytes(path, what="marker file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
        try:
            tl = read_from_string(text, rate=rate,
                                  start_timecode=frames_to_timecode(start_frame, rate))
        except ResolveMarkerEDLError as exc:
            raise TimelineError(f"{shown}: {exc}", hint="export the markers again from Resolve "
                                "(Timeline > Export > Timeline Markers to EDL)") from None
        src_start, src_rate, warnings = start_frame, rate, []
    else:
        read = read_timeline(path, rate=rate)
        tl, src_start, src_rate, warnings = read.timeline, read.start_frame, read.rate, list(read.warnings)
    out: list[tuple[int, otio.schema.Marker]] = []
    stack = tl.tracks
    for m in stack.markers:
        out.append((src_start + to_frames(m.marked_range.start_time, src_rate), m))
    for item in stack.find_children():
        for m in getattr(item, "markers", []):
            try:
                rng = item.transformed_time_range(m.marked_range, stack)
            except Exception:  # noqa: BLE001 - a marker OTIO cannot place in timeline time
                warnings.append(f"{shown}: marker '{m.name}' on '{item.name}' cannot be placed; skipped")
                continue
            out.append((src_start + to_frames(rng.start_time, src_rate), m))
    if src_rate != rate:
        out = [(round(Fraction(f) * rate / src_rate), m) for f, m in out]
    return out, warnings


def merge_markers(timeline: otio.schema.Timeline, path: Path, *, rate: Fraction, start_frame: int,
                  drop_frame: Optional[bool] = None) -> list[str]:
    """Add the markers of ``path`` to ``timeline``'s stack, in place; returns warnings."""
    found, warnings = read_marker_source(path, rate=rate, start_frame=start_frame)
    try:
        length = to_frames(timeline.tracks.duration(), rate)
    except Exception:  # noqa: BLE001 - an empty stack
        length = 0
    added = 0
    for absolute, m in sorted(found, key=lambda fm: fm[0]):
        at = absolute - start_frame
        tc = frames_to_timecode(absolute, rate, drop_frame)
        if at < 0 or (length and at >= length):
            warnings.append(f"{path.name}: marker '{m.name}' at {tc} is outside the timeline; skipped")
            continue
        d = m.marked_range.duration
        dur = round(Fraction(d.value) * rate / Fraction(d.rate)) if d.rate else 0
        new = m.clone()
        new.marked_range = otio.opentime.TimeRange(rational_time(at, rate), rational_time(dur, rate))
        new.metadata[MERGED_KEY] = {"file": path.name, "record_frame": absolute}
        timeline.tracks.markers.append(new)
        added += 1
    if not found:
        warnings.append(f"{path.name}: holds no markers")
    return warnings
