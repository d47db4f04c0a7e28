"""An ``otio_aaf_post_write_transcribe`` hook of otio-aaf-adapter 2.x: markers (and right timecodes) into its AAF.

The adapter's writer writes no markers at all, so a filled timeline would lose
every ``GEN:`` note (and the editor's own markers).  This hook runs after the
writer has built its composition, on the same pyaaf2 handle, and adds the
markers as Media Composer keeps them: one ``EventMobSlot`` per video track,
holding ``DescriptiveMarker`` components at their record frame, each naming
the picture slot it describes (``DescribedSlots``) and sharing its
``PhysicalTrackNumber`` -- the structure the adapter's own reader reads
markers from.  It also sets each timecode's drop-frame flag as the timeline
counts (see :func:`fix_timecodes`).

Hooks are registered for the whole process through the plugin manifest, so
this one does nothing unless the writer was called with
``hook_function_argument_map={"shotfill_markers": True}``; the adapter also
runs its post-write hook name after every AAF *read* (a quirk of 2.0.0), where
it must hand the timeline back unchanged, as it does.

It imports nothing of ShotFill: this package is the OTIO plugin and ships alone.
"""

from __future__ import annotations

from typing import Any

ARG = "shotfill_markers"
#: whether the timeline counts drop-frame timecode
DROP = "shotfill_drop_frame"


def hook_function(in_timeline: Any, argument_map: Any = None) -> Any:
    args = argument_map or {}
    handle = args.get("aaf_handle")
    if args.get(ARG) and handle is not None and "write_filepath" in args:
        write_markers(in_timeline, handle)
        fix_timecodes(handle, bool(args.get(DROP)))
    return in_timeline


def fix_timecodes(f: Any, drop_frame: bool) -> None:
    """Drop frame as the timeline counts it, on every Timecode the writer made.

    The writer marks each tape's timecode drop-frame whenever the rate is not
    whole (so 23.976 comes out as "24 fps drop frame", which does not exist)
    and the composition's never (so a 29.97 DF cut comes out NDF).  Drop frame
    exists only at 30 and 60 fps nominal.
    """
    import aaf2

    for mob in f.content.mobs:
        for slot in mob.slots:
            seg = slot.segment
            if isinstance(seg, aaf2.components.Timecode):
                seg.drop = bool(drop_frame and seg.fps in (30, 60))


def _frames(t: Any, rate: float) -> int:
    return int(round(t.rescaled_to(rate).value))


def _track_markers(track: Any, rate: float) -> list[tuple[int, int, Any]]:
    """(record frame on the track, length, marker) for the track's own markers and its items'."""
    import opentimelineio as otio

    found = []
    for m in track.markers:
        found.append((_frames(m.marked_range.start_time, rate), _frames(m.marked_range.duration, rate), m))
    for item in track:
        if isinstance(item, otio.schema.Transition) or not getattr(item, "markers", None):
            continue
        at = item.range_in_parent().start_time
        first = item.trimmed_range().start_time
        for m in item.markers:
            start = at + (m.marked_range.start_time - first)
            found.append((_frames(start, rate), _frames(m.marked_range.duration, rate), m))
    return found


def _color(marker: Any) -> str:
    color = getattr(marker, "color", None)
    name = color if isinstance(color, str) else getattr(color, "name", None)
    return str(name or "RED").capitalize()


def write_markers(timeline: Any, f: Any) -> int:
    """Add the timeline's video markers to the top-level composition of the open AAF ``f``; returns how many."""
    import aaf2
    import opentimelineio as otio

    comp = next(iter(f.content.toplevel()), None)
    if comp is None:
        return 0
    rate = float(timeline.duration().rate)
    pictures = [s for s in comp.slots if isinstance(s, aaf2.mobslots.TimelineMobSlot)
                and getattr(s.segment, "media_kind", None) == "Picture"]
    # The writer makes one picture slot per non-empty video track, in track order.
    tracks = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video and len(t)]
    next_id = max((s.slot_id for s in comp.slots), default=0) + 1
    written = 0
    for number, (track, slot) in enumerate(zip(tracks, pictures), start=1):
        marks = _track_markers(track, rate)
        if number == 1:   # the timeline's own markers sit on the lowest video track, as in Media Composer
            marks += [(_frames(m.marked_range.start_time, rate), _frames(m.marked_range.duration, rate), m)
                      for m in timeline.tracks.markers]
        if not marks:
            continue
        if slot["PhysicalTrackNumber"].value is None:
            slot["PhysicalTrackNumber"].value = number
        event = f.create.EventMobSlot()
        event["EditRate"].value = slot.edit_rate
        event["SlotID"].value = next_id
        event["PhysicalTrackNumber"].value = slot["PhysicalTrackNumber"].value
        next_id += 1
        seq = f.create.Sequence(media_kind="DescriptiveMetadata")
        for position, length, m in sorted(marks, key=lambda x: x[0]):
            dm = f.create.DescriptiveMarker()
            dm["Position"].value = position
            dm["Length"].value = max(1, length)
            text = m.name if not m.comment else (f"{m.name} {m.comment}" if m.name else m.comment)
            dm["Comment"].value = text
            dm["CommentMarkerUser"].value = "ShotFill"
            dm["DescribedSlots"].value = {slot.slot_id}
            aaf2.misc.TaggedValueHelper(dm["CommentMarkerAttributeList"])["_ATN_CRM_COLOR"] = _color(m)
            seq.components.append(dm)
            written += 1
        event.segment = seq
        comp.slots.append(event)
    return written
