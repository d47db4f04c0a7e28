"""Reading a CMX 3600 EDL into a Timeline with its real start, leading gaps and markers.

OTIO's ``cmx_3600`` reader fails on, or silently misreads, much of what
editors' EDLs hold, so the text goes through :mod:`shotfill.timeline.edl.text` first
(drop-frame timecode, a frame equal to the rate, durations that disagree,
overlapping events, a transition opening a track, Latin-1 text).  What the
reader then returns is put right: its negative ``track.source_range`` becomes
a real ``global_start_time`` plus leading Gaps, each clip is tagged with its
event number and line, and the ``* LOC:`` markers (taken out of the text by
:mod:`shotfill.timeline.edl.text`) are placed in the clip's own source time at their
record frame (OTIO #169/#345), drop-frame ``LOC`` lines included (the stock
regex skips them).  An EDL does not carry its frame rate: the caller gives it.

The timeline is then built from the events :mod:`shotfill.timeline.edl.text` already
tokenised (:mod:`shotfill.timeline.edl.build`: the same objects the reader would
make of the cleaned text, laid out as above), so the file is parsed once; the
reader runs only where the builder leaves a file to it.
"""

from __future__ import annotations

import contextlib
import io
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from shotfill.system.bounded import read_bytes
from shotfill.timeline.edl import text as edl_text
from shotfill.timeline.edl.build import Unsupported, build_timeline, locator_markers, locator_warnings
from shotfill.errors import TimelineError, UsageError
from shotfill.timeline.formats import EXPORT_HINT
from shotfill.rates import DROP_FRAME_RATES
from shotfill.model import ReadResult
from shotfill.timeline.adapters import adapter_error, call_adapter, read_string
from shotfill_otio.colours import marker_colour


def read_edl(p: Path, shown: str, rate: Fraction | None, *, by_order: bool = True,
             otio_reader: bool = False) -> ReadResult:
    """The EDL at ``p`` read at ``rate`` (required: :class:`UsageError` without it).

    The timeline is built from ShotFill's own tokens (:mod:`shotfill.timeline.edl.build`)
    unless the builder says OTIO's ``cmx_3600`` reader must decide, or
    ``otio_reader`` asks for that reader (the tests compare the two).
    ``by_order=False`` always matches the reader's clips to events by tags
    (slower; the tests compare the two ways on the corpus).
    """
    if rate is None:
        raise UsageError(
            f"{shown}: an EDL does not say its frame rate",
            hint="pass it with --rate, e.g. --rate 23.976 (or 24, 25, 29.97, 30, 50, 59.94, 60)")
    data = read_bytes(p, shown=shown)
    text, encoding, enc_warning = edl_text.decode_edl_bytes(data)
    warnings = [f"{shown}: {enc_warning}"] if enc_warning else []
    try:
        prep = edl_text.prepare_edl(text, rate)
    except edl_text.EdlTextError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        hint = ("pass the EDL's real frame rate with --rate (e.g. 25 or 29.97)"
                if "fps" in str(exc) else "fix that line in a text editor, or export the EDL again")
        raise TimelineError(f"{shown}: {where}{exc}", hint=hint) from None
    warnings += [f"{shown}: {w}" for w in prep.warnings]
    if not prep.events:
        if prep.title is None and prep.header_drop_frame is None:
            raise TimelineError(f"{shown}: has no EDL events and no EDL header: it is empty or "
                                "not an EDL", hint=EXPORT_HINT)
        warnings.append(f"{shown}: the EDL has no events")
    timeline = None if otio_reader else _build(prep, rate, shown, warnings)
    if timeline is None:
        timeline = _read_with_otio(prep, rate, shown, warnings, by_order=by_order)
    if prep.header_drop_frame is not None:
        drop = prep.header_drop_frame
    else:
        drop = prep.record_semicolons
    start = int(round(timeline.global_start_time.value)) if timeline.global_start_time else 0
    return ReadResult(
        timeline=timeline, format="edl", rate=rate, drop_frame=bool(drop and rate in DROP_FRAME_RATES),
        start_frame=start, width=None, height=None, warnings=warnings,
        source_text=text, encoding=encoding, adapter="cmx_3600",
    )


def _build(prep: edl_text.PreparedEdl, rate: Fraction, shown: str,
           warnings: list[str]) -> otio.schema.Timeline | None:
    """The builder's timeline, or None where OTIO's reader must read the file (it says why)."""
    try:
        return build_timeline(prep, rate, shown, warnings)
    except Unsupported:
        # Something only the reader decides (an overlap it shifts, an image sequence, a line
        # it refuses): it reads the file, and refuses or warns as it always did.
        return None


def _read_with_otio(prep: edl_text.PreparedEdl, rate: Fraction, shown: str, warnings: list[str], *,
                    by_order: bool) -> otio.schema.Timeline:
    """The timeline of OTIO's ``cmx_3600`` reader on ``prep.reader_text``, laid out."""
    base_warnings = len(warnings)
    timeline, order = _read_text(prep, rate, shown, warnings, by_order=by_order)
    if by_order and order is None:
        # The reader's clips do not line up with the events: read again with a tag on each.
        del warnings[base_warnings:]
        timeline, order = _read_text(prep, rate, shown, warnings, by_order=False)
    try:
        _normalise_edl(timeline, prep, rate, shown, warnings, order)
    except TimelineError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TimelineError(f"{shown}: the EDL could not be laid out ({type(exc).__name__}: {exc})",
                            hint=EXPORT_HINT) from None
    return timeline


def _read_text(prep: edl_text.PreparedEdl, rate: Fraction, shown: str, warnings: list[str], *,
               by_order: bool) -> tuple[otio.schema.Timeline, dict[str, list[int]] | None]:
    """The stock reader's timeline, and (``by_order``) each track's event indexes in clip order.

    The order is None when the clips do not line up with the events; the
    timeline then has to be read again from the tagged text.
    """
    text = prep.reader_text if by_order else prep.tagged_reader_text

    def run(ignore: bool) -> object:   # checked to be a Timeline below
        return read_string(text, "cmx_3600", rate=float(rate), ignore_timecode_mismatch=ignore)

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            obj = run(prep.needs_ignore_mismatch)
    except Exception as first:  # noqa: BLE001 - the reader raises many kinds
        if prep.needs_ignore_mismatch:
            raise adapter_error(shown, "edl", first) from None
        obj = call_adapter(shown, "edl", "cmx_3600", lambda: run(True))
        warnings.append(
            f"{shown}: the EDL reader could not place every event ({first}); it was read "
            "again allowing that, so record times after that point may be off")
    if not isinstance(obj, otio.schema.Timeline):
        raise TimelineError(f"{shown}: the EDL reader returned no timeline", hint=EXPORT_HINT)
    return obj, (_events_by_track(obj, prep) if by_order else None)


def _events_by_track(timeline: otio.schema.Timeline, prep: edl_text.PreparedEdl) -> dict[str, list[int]] | None:
    """Event indexes per reader track, in the order the reader appended their clips; None if they disagree.

    The reader adds each event's clip to every track its channel names
    (``edl_text.CHANNEL_MAP``), appending, in file order.
    """
    order: dict[str, list[int]] = {}
    for ev in prep.events:
        for name in edl_text.CHANNEL_MAP.get(ev.reader_channel, [ev.reader_channel]):
            order.setdefault(name, []).append(ev.index)
    names = set()
    for track in timeline.tracks:
        name = track.name
        if name in names:
            return None
        names.add(name)
        clips = sum(1 for item in track if isinstance(item, otio.schema.Clip))
        if clips != len(order.get(name, ())):
            return None
    return order if names == set(order) else None


def _pop_event_tag(clip: otio.schema.Clip) -> int | None:
    md = clip.metadata
    cm = md.get("cmx_3600")
    if cm is None:
        return None
    comments = cm.get("comments")
    if not comments:
        return None
    tag = None
    keep = []
    prefix = edl_text.EVENT_TAG + " "
    for c in comments:
        if tag is None and isinstance(c, str) and c.startswith(prefix):
            try:
                tag = int(c[len(prefix):].strip())
                continue
            except ValueError:
                pass
        keep.append(c)
    if tag is None:
        return None
    if keep:
        cm["comments"] = keep
    else:
        del cm["comments"]
    if len(cm) == 0:
        del md["cmx_3600"]
    return tag


def _normalise_edl(timeline: otio.schema.Timeline, prep: edl_text.PreparedEdl,
                   rate: Fraction, shown: str, warnings: list[str],
                   order: dict[str, list[int]] | None = None) -> None:
    """Real start time, leading gaps, LOC markers in clip time, event metadata."""
    rf = float(rate)
    tracks = list(timeline.tracks)
    # 1. each track's first record frame: the reader keeps it as a negative offset
    firsts = []
    for track in tracks:
        sr = track.source_range
        firsts.append(int(round(-sr.start_time.rescaled_to(rf).value)) if sr is not None else 0)
    if firsts:
        t0 = min(firsts)
    elif prep.events:
        t0 = min(e.record_in for e in prep.events)
    else:
        t0 = 0
    for track, first in zip(tracks, firsts):
        track.source_range = None
        lead = first - t0
        if lead > 0:
            track.insert(0, otio.schema.Gap(source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, rf), otio.opentime.RationalTime(lead, rf))))
    timeline.global_start_time = otio.opentime.RationalTime(t0, rf)

    # 2. clips by event, with their absolute record start
    placed: dict[int, list[tuple[otio.schema.Clip, int]]] = {}
    for track in tracks:
        pos = 0
        by_order = iter(order[track.name]) if order is not None else None
        for item in track:
            if isinstance(item, otio.schema.Transition):
                continue
            if isinstance(item, otio.schema.Clip):
                tag = next(by_order) if by_order is not None else _pop_event_tag(item)
                if tag is not None:
                    placed.setdefault(tag, []).append((item, t0 + pos))
            pos += int(round(item.duration().rescaled_to(rf).value))

    # 3. event metadata and LOC markers
    in_source: list[str] = []
    outside: list[str] = []
    for ev in prep.events:
        for clip, rec_start in placed.get(ev.index, []):
            sf = clip.metadata.get("shotfill")
            if sf is None:
                clip.metadata["shotfill"] = {"edl_event": ev.number, "edl_line": ev.line}
            else:
                sf["edl_event"] = ev.number
                sf["edl_line"] = ev.line
            if not ev.locators:
                continue
            sr = clip.source_range
            src_start = int(round(sr.start_time.rescaled_to(rf).value))
            length = int(round(sr.duration.rescaled_to(rf).value))
            for m in locator_markers(ev, src_start, length, rec_start, in_source, outside):
                clip.markers.append(otio.schema.Marker(
                    name=m.name,
                    marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(m.frame, rf),
                                                         otio.opentime.RationalTime(0, rf)),
                    color=marker_colour(m.color), metadata=m.metadata))
    warnings += locator_warnings(shown, in_source, outside)
