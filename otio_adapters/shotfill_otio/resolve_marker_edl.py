"""OpenTimelineIO adapter for DaVinci Resolve's "Timeline Markers to EDL" export.

Resolve writes one CMX-looking event per timeline marker, one frame long,
followed by a line holding the marker itself::

    TITLE: Timeline 1
    FCM: NON-DROP FRAME

    001  001      V     C        01:00:02:03 01:00:02:04 01:00:02:03 01:00:02:04
    GEN: a red fox in snow |C:ResolveColorPurple |M:Marker 1 |D:48

The second line is the note, then ``|C:`` the colour, ``|M:`` the name and
``|D:`` the duration in frames.  The stock ``cmx_3600`` adapter reads these
as one-frame clips and chokes on a note that starts with a digit, so this
adapter has its own name, ``resolve_marker_edl``, and suffix, ``redl``; it
never claims ``edl``.  Pass ``-I resolve_marker_edl`` (``otioconvert``) or
``adapter_name="resolve_marker_edl"`` to read a ``.edl`` export in place.

Reading gives a Timeline with no tracks whose top-level stack holds one
Marker per event: ``name`` from ``|M:``, ``comment`` the note, ``color``
mapped to OTIO's eleven colours (the Resolve colour is kept in
``metadata["resolve_marker_edl"]["color"]``), the range from the record
timecode and ``|D:``, in timeline time (0 = the timeline's first frame).

Arguments:

``rate``
    the timeline rate (an EDL carries none): ``24``, ``23.976``, ``"24000/1001"``;
    rates near an NTSC rate are snapped to it.  Default 24.
``start_timecode``
    the timeline's start timecode (``"01:00:00:00"``).  Default: the hour of
    the earliest marker, which is Resolve's default start for a timeline.

Writing takes every marker of a timeline (on its stack, tracks and items),
in timeline time, and writes the same form.  This module imports nothing of
ShotFill's, so it can ship on its own.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Iterator, Optional, Union

import opentimelineio as otio

from shotfill_otio.colours import colour_name, marker_colour

__all__ = ["ResolveMarkerEDLError", "read_from_string", "write_to_string",
           "RESOLVE_TO_OTIO_COLOR", "OTIO_TO_RESOLVE_COLOR", "looks_like_marker_edl"]

METADATA_KEY = "resolve_marker_edl"

#: Resolve's sixteen marker colours -> the nearest of OTIO's eleven
RESOLVE_TO_OTIO_COLOR = {
    "Blue": "BLUE", "Cyan": "CYAN", "Green": "GREEN", "Yellow": "YELLOW", "Red": "RED",
    "Pink": "PINK", "Purple": "PURPLE", "Fuchsia": "MAGENTA", "Rose": "PINK", "Lavender": "PURPLE",
    "Sky": "CYAN", "Mint": "GREEN", "Lemon": "YELLOW", "Sand": "ORANGE", "Cocoa": "BLACK",
    "Cream": "WHITE",
}
#: OTIO colour -> the Resolve colour written for it (when the marker has no Resolve colour of its own)
OTIO_TO_RESOLVE_COLOR = {
    "BLUE": "Blue", "CYAN": "Cyan", "GREEN": "Green", "YELLOW": "Yellow", "RED": "Red", "PINK": "Pink",
    "PURPLE": "Purple", "MAGENTA": "Fuchsia", "ORANGE": "Sand", "BLACK": "Cocoa", "WHITE": "Cream",
}

_NTSC = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(48000, 1001), Fraction(60000, 1001),
         Fraction(120000, 1001))
_TC = r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.]\d{2,3}"
_EVENT = re.compile(
    rf"^\s*(?P<num>\d+)\s+(?P<reel>\S+)\s+(?P<track>\S+)\s+(?P<trans>\S+)\s+"
    rf"(?P<src_in>{_TC})\s+(?P<src_out>{_TC})\s+(?P<rec_in>{_TC})\s+(?P<rec_out>{_TC})\s*$")
_FIELD = re.compile(r" ?\|(?=[CMD]:)")


class ResolveMarkerEDLError(otio.exceptions.OTIOError):
    """A Resolve marker EDL that cannot be read, or a timeline that cannot be written as one."""


def looks_like_marker_edl(text: str) -> bool:
    """True when ``text`` has Resolve marker lines (``|C:ResolveColor... |M:... |D:...``)."""
    return bool(re.search(r"\|C:ResolveColor\w*.*\|M:.*\|D:\s*\d+", text))


# --------------------------------------------------------------------------- rates, timecode


def _rate(value: Union[str, int, float, Fraction, None]) -> Fraction:
    """An exact rate from whatever ``otioconvert -a rate=...`` hands over."""
    if value is None:
        return Fraction(24)
    try:
        if isinstance(value, str):
            text = value.strip().lower().removesuffix("fps").strip()
            if "/" in text:
                num, den = text.split("/", 1)
                r = Fraction(int(num), int(den))
            else:
                r = Fraction(text)
        else:
            r = Fraction(value)
    except (ValueError, ZeroDivisionError, TypeError):
        raise ResolveMarkerEDLError(f"'{value}' is not a frame rate; pass e.g. rate=24 or rate=24000/1001")
    if r <= 0:
        raise ResolveMarkerEDLError(f"frame rate must be positive, got {value}")
    for ntsc in _NTSC:
        if abs(float(r) - float(ntsc)) < 0.01:
            return ntsc
    return r if r.denominator == 1 else Fraction(round(float(r) * 1000), 1000)


def _nominal(rate: Fraction) -> int:
    return round(float(rate))


def _tc_to_frames(tc: str, rate: Fraction, drop: bool) -> int:
    parts = re.split(r"[:;.]", tc.strip())
    hh, mm, ss, ff = (int(p) for p in parts)
    fps = _nominal(rate)
    drop = drop or ";" in tc
    if ff >= fps or mm > 59 or ss > 59:
        raise ResolveMarkerEDLError(f"timecode {tc} is not valid at {float(rate):g} fps")
    frames = ((hh * 60 + mm) * 60 + ss) * fps + ff
    if drop and rate.denominator == 1001 and fps in (30, 60):
        per = fps // 15          # 2 at 29.97, 4 at 59.94
        minutes = hh * 60 + mm
        frames -= per * (minutes - minutes // 10)
    return frames


def _frames_to_tc(frames: int, rate: Fraction, drop: bool) -> str:
    fps = _nominal(rate)
    drop = drop and rate.denominator == 1001 and fps in (30, 60)
    if drop:
        per = fps // 15
        per_10min = fps * 600 - per * 9
        per_min = fps * 60 - per
        tens, rem = divmod(frames, per_10min)
        extra = 0 if rem < per else per * ((rem - per) // per_min)
        frames += per * 9 * tens + extra
    ff = frames % fps
    total = frames // fps
    sep = ";" if drop else ":"
    return f"{total // 3600 % 24:02d}:{total // 60 % 60:02d}:{total % 60:02d}{sep}{ff:02d}"


def _rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


# --------------------------------------------------------------------------- reading


def _marker_fields(line: str) -> dict[str, str]:
    """``note |C:colour |M:name |D:frames`` -> its parts (any of them may be missing)."""
    parts = _FIELD.split(line.rstrip("\r\n"))
    out = {"note": parts[0].strip()}
    for part in parts[1:]:
        key, _, value = part.partition(":")
        out[{"C": "color", "M": "name", "D": "duration"}[key]] = value.strip()
    return out


def read_from_string(input_str: str, rate: Any = 24, start_timecode: Optional[str] = None) -> otio.schema.Timeline:
    """Read a Resolve marker EDL; see the module doc."""
    r = _rate(rate)
    title = ""
    drop = False
    events: list[dict[str, Any]] = []
    current: Optional[dict[str, Any]] = None
    for lineno, raw in enumerate(input_str.splitlines(), start=1):
        line = raw.strip("\ufeff")
        if not line.strip():
            continue
        upper = line.strip().upper()
        if upper.startswith("TITLE:"):
            title = line.split(":", 1)[1].strip()
            continue
        if upper.startswith("FCM:"):
            drop = "NON" not in upper and "DROP" in upper
            continue
        m = _EVENT.match(line)
        if m:
            try:
                rec_in = _tc_to_frames(m["rec_in"], r, drop)
                rec_out = _tc_to_frames(m["rec_out"], r, drop)
            except ResolveMarkerEDLError as exc:
                raise ResolveMarkerEDLError(f"line {lineno}: {exc}") from None
            current = {"number": int(m["num"]), "rec_in": rec_in, "rec_out": rec_out, "line": lineno,
                       "fields": None}
            events.append(current)
            continue
        if current is not None and current["fields"] is None and "|C:" in line:
            current["fields"] = _marker_fields(line)
            continue
        if current is not None and line.lstrip().startswith("*"):
            current.setdefault("comments", []).append(line.strip())
            continue
        if current is None:
            raise ResolveMarkerEDLError(
                f"line {lineno}: '{line.strip()[:60]}' is neither an EDL header nor a marker event")
        # A line Resolve did not write: keep it with the note it follows.
        if current["fields"] is not None:
            current["fields"]["note"] = (current["fields"]["note"] + "\n" + line.strip()).strip()
        else:
            raise ResolveMarkerEDLError(
                f"line {lineno}: event {current['number']:03d} has no marker line (|C:... |M:... |D:...); "
                "this does not look like Resolve's 'Timeline Markers to EDL' export")

    if start_timecode:
        try:
            start = _tc_to_frames(str(start_timecode), r, drop)
        except (ValueError, ResolveMarkerEDLError):
            raise ResolveMarkerEDLError(f"start_timecode '{start_timecode}' is not a timecode") from None
    elif events:
        hour = _frames_to_tc(min(e["rec_in"] for e in events), r, drop)[:2]
        start = _tc_to_frames(f"{hour}:00:00:00", r, drop)
    else:
        start = 0

    timeline = otio.schema.Timeline(name=title, global_start_time=_rt(start, r))
    timeline.metadata[METADATA_KEY] = {"title": title, "drop_frame": drop}
    for ev in events:
        fields = ev["fields"]
        if fields is None:
            raise ResolveMarkerEDLError(
                f"line {ev['line']}: event {ev['number']:03d} has no marker line (|C:... |M:... |D:...)")
        raw_color = fields.get("color", "")
        short = raw_color[len("ResolveColor"):] if raw_color.startswith("ResolveColor") else raw_color
        color = RESOLVE_TO_OTIO_COLOR.get(short, "RED")
        try:
            duration = int(fields["duration"]) if fields.get("duration") else max(1, ev["rec_out"] - ev["rec_in"])
        except ValueError:
            raise ResolveMarkerEDLError(f"line {ev['line'] + 1}: |D:{fields['duration']} is not a frame count") from None
        md: dict[str, Any] = {"color": raw_color, "event": ev["number"], "record_frame": ev["rec_in"]}
        if ev.get("comments"):
            md["comments"] = ev["comments"]
        marker = otio.schema.Marker(
            name=fields.get("name", ""),
            marked_range=otio.opentime.TimeRange(_rt(ev["rec_in"] - start, r), _rt(duration, r)),
            color=marker_colour(color), comment=fields["note"], metadata={METADATA_KEY: md})
        timeline.tracks.markers.append(marker)
    return timeline


# --------------------------------------------------------------------------- writing


def _timeline_markers(timeline: otio.schema.Timeline, rate: Fraction) -> Iterator[tuple[int, otio.schema.Marker]]:
    """Every marker with its start in timeline frames (0 = first frame)."""
    def frames(t: otio.opentime.RationalTime) -> int:
        return round(Fraction(t.value) * rate / Fraction(t.rate)) if t.rate else 0

    stack = timeline.tracks
    for m in stack.markers:
        yield frames(m.marked_range.start_time), m
    for item in stack.find_children():
        for m in getattr(item, "markers", []):
            try:
                rng = item.transformed_time_range(m.marked_range, stack)
            except Exception as exc:  # noqa: BLE001 - a marker OTIO cannot place
                raise ResolveMarkerEDLError(f"marker '{m.name}' on '{item.name}' cannot be placed "
                                            f"in timeline time ({exc})") from None
            yield frames(rng.start_time), m


def write_to_string(input_otio: otio.schema.Timeline, rate: Any = None, start_timecode: Optional[str] = None,
                    drop_frame: Optional[bool] = None) -> str:
    """Write every marker of a timeline as Resolve's marker EDL."""
    if not isinstance(input_otio, otio.schema.Timeline):
        raise ResolveMarkerEDLError(f"can only write a Timeline, not a {type(input_otio).__name__}")
    gst = input_otio.global_start_time
    r = _rate(rate if rate is not None else (gst.rate if gst is not None and gst.rate else 24))
    md = input_otio.metadata.get(METADATA_KEY)
    if drop_frame is None:
        drop_frame = bool(md.get("drop_frame")) if md is not None and hasattr(md, "get") else \
            r in (Fraction(30000, 1001), Fraction(60000, 1001))
    if start_timecode:
        start = _tc_to_frames(str(start_timecode), r, drop_frame)
    elif gst is not None and gst.rate:
        start = round(Fraction(gst.value) * r / Fraction(gst.rate))
    else:
        start = 0
    lines = [f"TITLE: {input_otio.name or 'Timeline'}",
             f"FCM: {'DROP FRAME' if drop_frame else 'NON-DROP FRAME'}", ""]
    markers = sorted(_timeline_markers(input_otio, r), key=lambda fm: fm[0])
    for number, (at, m) in enumerate(markers, start=1):
        rec_in = start + at
        tc_in, tc_out = _frames_to_tc(rec_in, r, drop_frame), _frames_to_tc(rec_in + 1, r, drop_frame)
        own = m.metadata.get(METADATA_KEY)
        raw = own.get("color") if own is not None and hasattr(own, "get") else None
        color = str(raw) if raw else "ResolveColor" + OTIO_TO_RESOLVE_COLOR.get(colour_name(m.color), "Blue")
        d = m.marked_range.duration
        dur = max(1, round(Fraction(d.value) * r / Fraction(d.rate)) if d.rate else 1)
        note = " ".join((m.comment or "").splitlines())
        name = " ".join((m.name or "").splitlines())
        lines.append(f"{number:03d}  001      V     C        {tc_in} {tc_out} {tc_in} {tc_out}  ")
        lines.append(f"{note} |C:{color} |M:{name} |D:{dur}")
        lines.append("")
    return "\n".join(lines)
