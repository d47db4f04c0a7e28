"""The OTIO timeline of an EDL, built from ShotFill's own tokens of it: the text is parsed once.

:mod:`shotfill.timeline.edl.text` already splits every event into its fields
(for the byte-preserving splice and to clean the text for OTIO's ``cmx_3600``
reader).  Handing that cleaned text to the reader parsed the file a second
time, and the reader's per-line regular expressions, deep copies and
metadata writes were most of a scan's time.  :func:`build_timeline` makes,
from the events, the very objects the reader would make of
``PreparedEdl.reader_text`` (same Timeline, Tracks, Clips, Gaps,
Transitions, media references, effects and ``cmx_3600`` metadata: the
comments, reel, CDL and transition blocks users and the scan rely on), laid
out as :func:`shotfill.timeline.edl.read.read_edl` lays them out (the real
start time, leading gaps, ``shotfill`` event metadata and ``* LOC:``
markers in clip time).  ``tests/test_edl_build.py`` compares the two on
every EDL in the repository and the corpus.

What the reader would refuse, or where matching it exactly would be a guess
(an overlap it shifts, an image-sequence reference, a rate its timecode
does not support, a malformed CDL or speed line, a transition whose a-side
is not a cut line), raises :class:`Unsupported`: the caller then reads the
file with OTIO's reader as before, which refuses or warns as it always did.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import opentimelineio as otio

from shotfill.timeline.edl import text as edl_text
from shotfill_otio.colours import marker_colour

# The reader's comment kinds, in its order (otio_cmx3600_adapter.cmx_3600.CommentHandler.comment_id_map):
# the first that matches a comment wins; ``FROM CLIP NAME`` must come before ``FROM CLIP``.
_COMMENT_KINDS = [(re.compile(r"\*?\s*" + ident + r":?\s*(?P<comment_body>.*)"), kind) for ident, kind in (
    ("FROM CLIP NAME", "clip_name"),
    ("TO CLIP NAME", "dest_clip_name"),
    ("FROM CLIP", "media_reference"),
    ("FROM FILE", "media_reference"),
    ("LOC", "locators"),
    ("ASC_SOP", "asc_sop"),
    ("ASC_SAT", "asc_sat"),
    ("M2", "motion_effect"),
    ("\\* FREEZE FRAME", "freeze_frame"),
    ("\\* OTIO REFERENCE [a-zA-Z]+", "media_reference"),
)]
# The reader's own patterns, so that what it accepts (and refuses) is the same.
_SPEED_RE = re.compile(r"(?P<name>.*?)\s*(?P<speed>-?[0-9\.]*)\s*(?P<tc>[0-9:]{11})$")
_IMAGE_SEQUENCE_RE = re.compile(r".*\.(?P<range>\[(?P<start>[0-9]+)-(?P<end>[0-9]+)\])\.\w+$")
_TRIPLE = r"([-+]?[\d.]+),? ([-+]?[\d.]+),? ([-+]?[\d.]+),?"
_ASC_SOP_RE = re.compile(r"\(" + _TRIPLE + r"\)\s*\(" + _TRIPLE + r"\)\s*\(" + _TRIPLE + r"\)")
_WIPE_RE = re.compile(r"W(\d{3})")


class Unsupported(Exception):
    """The EDL holds something only OTIO's reader should decide on; read it with that reader."""


def _exact(v: float) -> float:
    """``v``, if OTIO's JSON reader reads it back exactly (15 significant digits do; it rounds some longer ones)."""
    if v != float(f"{v:.15g}"):
        raise Unsupported(f"a number ({v!r}) OTIO's JSON reader would round")
    return v


def _comment_data(comments: list[str]) -> tuple[dict[str, Any], list[str]]:
    """What the reader's CommentHandler makes of an event's comments: (handled, unhandled)."""
    handled: dict[str, Any] = {}
    unhandled: list[str] = []
    for comment in comments:
        for regex, kind in _COMMENT_KINDS:
            m = regex.match(comment)
            if m:
                body = m.group("comment_body").strip()
                if kind == "locators":
                    handled.setdefault(kind, []).append(body)
                else:
                    handled[kind] = body
                break
        else:
            stripped = comment.lstrip("*").strip()
            if stripped:
                unhandled.append(stripped)
    return handled, unhandled


def _cdl(asc_sop: str | None, asc_sat: str | None) -> dict[str, Any]:
    slope: Any = (1, 1, 1)
    offset: Any = (0, 0, 0)
    power: Any = (1, 1, 1)
    sat = 1.0
    if asc_sop:
        m = _ASC_SOP_RE.match(asc_sop)
        if not m:
            raise Unsupported("an ASC_SOP line the reader refuses")
        floats = [_exact(float(g)) for g in m.groups()]
        slope, offset, power = floats[0:3], floats[3:6], floats[6:9]
    if asc_sat:
        try:
            sat = _exact(float(asc_sat))
        except ValueError:
            raise Unsupported("an ASC_SAT line the reader refuses") from None
    return {"asc_sat": sat, "asc_sop": {"slope": slope, "offset": offset, "power": power}}


def _rt(value: float, rf: float) -> dict[str, Any]:
    return {"OTIO_SCHEMA": "RationalTime.1", "rate": rf, "value": float(value)}


def _tr(start: float, duration: float, rf: float) -> dict[str, Any]:
    return {"OTIO_SCHEMA": "TimeRange.1", "start_time": _rt(start, rf), "duration": _rt(duration, rf)}


@functools.cache
def _template(schema: str) -> dict[str, Any]:
    """A default object of ``schema`` as this OTIO writes it: every field its JSON reader expects."""
    obj = {"Timeline": otio.schema.Timeline, "Stack": otio.schema.Stack, "Track": otio.schema.Track,
           "Gap": otio.schema.Gap, "Clip": otio.schema.Clip, "Transition": otio.schema.Transition,
           "Marker": otio.schema.Marker, "MissingReference": otio.schema.MissingReference,
           "ExternalReference": otio.schema.ExternalReference,
           "GeneratorReference": otio.schema.GeneratorReference}[schema]()
    doc: dict[str, Any] = json.loads(otio.core.serialize_json_to_string(obj))
    return doc


#: fields OTIO's JSON reader requires of a schema beyond those given here (the others it defaults)
_REQUIRED = {"GeneratorReference": ("parameters",)}


@functools.cache
def _head(schema: str) -> dict[str, Any]:
    """``{"OTIO_SCHEMA": "Clip.2"}`` with this OTIO's version, plus the fields it will not default."""
    t = _template(schema)
    return {"OTIO_SCHEMA": t["OTIO_SCHEMA"], **{k: t[k] for k in _REQUIRED.get(schema, ())}}


def _obj(schema: str, fields: dict[str, Any]) -> dict[str, Any]:
    # Only what differs from OTIO's defaults: writing every field took more time to
    # write and read than making the objects in Python (tests/test_edl_build.py checks
    # the objects against the reader's, field by field and as JSON).
    head = _head(schema)
    return {**head, **fields} if len(head) > 1 else {"OTIO_SCHEMA": head["OTIO_SCHEMA"], **fields}


@functools.cache
def _as_json(obj_repr: str) -> Any:
    """The JSON of a small OTIO object as this OTIO writes it: ``freeze``, ``warp:SCALAR`` or ``colour:NAME``."""
    kind, _, arg = obj_repr.partition(":")
    obj: Any
    if kind == "freeze":
        obj = otio.schema.FreezeFrame()
    elif kind == "warp":
        obj = otio.schema.LinearTimeWarp(time_scalar=float(arg))
    else:   # a marker colour: this OTIO's value for it (a name, or a Color object)
        return json.loads(otio.core.serialize_json_to_string(
            otio.schema.Marker(color=marker_colour(arg))))["color"]
    return json.loads(otio.core.serialize_json_to_string(obj))


class _Made:
    """One event's clip and transition, as the reader makes them, as OTIO JSON."""

    __slots__ = ("clip", "transition", "src_start", "src_len", "time_scalar")

    def __init__(self, ev: edl_text.Event, rf: float) -> None:
        handled, unhandled = _comment_data(ev.reader_comments)
        self.time_scalar: float | None = None
        md: dict[str, Any] = {}
        cmx: dict[str, Any] = {}
        if unhandled:
            cmx["comments"] = unhandled
        if ev.reel and ev.reel != "AX":
            cmx["reel"] = ev.reel
        name = ev.number
        ref: dict[str, Any] = _obj("MissingReference", {})
        if ev.reel in ("BL", "BLACK"):
            ref = _obj("GeneratorReference", {"generator_kind": "black"})
        elif ev.reel == "BARS":
            ref = _obj("GeneratorReference", {"generator_kind": "SMPTEBars"})
        elif "media_reference" in handled:
            url = handled["media_reference"]
            if _IMAGE_SEQUENCE_RE.search(url) is not None:
                raise Unsupported("an image-sequence media reference")
            ref = _obj("ExternalReference", {"target_url": url})
        if "clip_name" in handled:
            name = handled["clip_name"]
        elif ref["OTIO_SCHEMA"].startswith("ExternalReference."):
            name = os.path.splitext(os.path.basename(ref["target_url"]))[0]
        if handled.get("asc_sop") or handled.get("asc_sat"):
            md["cdl"] = _cdl(handled.get("asc_sop"), handled.get("asc_sat"))
        if "dest_clip_name" in handled:
            name = handled["dest_clip_name"]
        made_name = name   # the transition is named before a freeze frame's " FF" comes off, as by the reader

        src_len = ev.source_out - ev.source_in
        rec_len = ev.record_out - ev.record_in
        effects: list[Any] = []
        if src_len != rec_len:
            motion = handled.get("motion_effect")
            freeze = handled.get("freeze_frame")
            if freeze is not None:
                src_len = rec_len
                effects.append(_as_json("freeze"))
                if name.endswith(" FF"):
                    name = name[:-3]
            elif motion is not None:
                src_len = rec_len
                m = _SPEED_RE.match(motion)
                try:
                    fps = float(m.group("speed")) if m else None
                except ValueError:
                    fps = None
                if fps is None:
                    raise Unsupported("an M2 line the reader refuses")
                # OTIO's JSON reader rounds some doubles (26.4 / 24): the exact scalar is set afterwards
                effects.append(_as_json("warp:1.0"))
                self.time_scalar = fps / rf
            else:   # the text pass moves a source out to match; this would be the reader's error
                raise Unsupported("source and record lengths disagree")
        if cmx:
            md["cmx_3600"] = cmx
        md["shotfill"] = {"edl_event": ev.number, "edl_line": ev.line}

        self.transition: dict[str, Any] | None = None
        if ev.transition is not None:
            number, kind, data = ev.transition
            if not ev.a_side_cut or number != ev.number:
                raise Unsupported("a transition whose lines the reader reads otherwise")
            if _WIPE_RE.match(kind):
                ttype = "SMPTE_Wipe"
            elif kind == "D":
                ttype = str(otio.schema.TransitionTypes.SMPTE_Dissolve)
            else:
                raise Unsupported(f"a transition of type {kind}")
            length = _exact(float(data))
            tname = f"{ttype} to {made_name}"
            if "dest_clip_name" in handled and "clip_name" in handled:
                tname = f"{ttype} from {handled['clip_name']} to {handled['dest_clip_name']}"
            self.transition = _obj("Transition", {
                "name": tname, "transition_type": ttype, "in_offset": _rt(0, rf), "out_offset": _rt(length, rf),
                "metadata": {"cmx_3600": {"transition": kind, "transition_duration": length}}})
        self.src_start = ev.source_in
        self.src_len = src_len
        clip = {"name": name, "metadata": md, "source_range": _tr(ev.source_in, src_len, rf),
                "media_references": {"DEFAULT_MEDIA": ref}, "active_media_reference_key": "DEFAULT_MEDIA"}
        if effects:
            clip["effects"] = effects
        self.clip = _obj("Clip", clip)

    def clip_json(self, ev: edl_text.Event, rf: float, in_source: list[str], outside: list[str]) -> dict[str, Any]:
        """This event's clip on one more track (the reader deep-copies it to each track it is on)."""
        if not ev.locators:
            return self.clip
        markers = []
        for m in locator_markers(ev, self.src_start, self.src_len, ev.record_in, in_source, outside):
            markers.append(_obj("Marker", {"name": m.name, "color": _as_json(f"colour:{m.color}"),
                                           "marked_range": _tr(m.frame, 0, rf), "metadata": m.metadata}))
        return {**self.clip, "markers": markers}


@dataclass
class _LocMarker:
    name: str
    color: str          # an OTIO MarkerColor name
    frame: int          # in the clip's source time
    metadata: dict[str, Any]


def locator_markers(ev: edl_text.Event, src_start: int, length: int, rec_start: int,
                    in_source: list[str], outside: list[str]) -> list[_LocMarker]:
    """The event's ``* LOC:`` lines as markers in the clip's own source time.

    A LOC's timecode is a record one; one that falls outside the event but
    inside its source range is taken as a source timecode (``in_source``),
    one outside both is kept at its record time (``outside``): the caller warns.
    """
    out = []
    for loc in ev.locators:
        offset = loc.frame - rec_start
        if not (0 <= offset < max(length, 1)):
            if ev.source_in <= loc.frame < max(ev.source_out, ev.source_in + 1):
                offset = loc.frame - ev.source_in
                in_source.append(f"line {loc.line}")
            else:
                outside.append(f"line {loc.line} '{loc.timecode}'")
        md: dict[str, Any] = {"shotfill": {"edl_line": loc.line, "record_frame": loc.frame}}
        if loc.color_word:
            md["cmx_3600"] = {"color": loc.color_word}
        out.append(_LocMarker(loc.name, loc.color, src_start + offset, md))
    return out


def locator_warnings(shown: str, in_source: list[str], outside: list[str]) -> list[str]:
    warnings = []
    if in_source:
        warnings.append(
            f"{shown}: {len(in_source)} LOC line(s) give a source timecode, not a record "
            f"one ({', '.join(sorted(set(in_source))[:3])}); they were placed at that source frame")
    if outside:
        warnings.append(
            f"{shown}: {len(outside)} LOC line(s) fall outside their event "
            f"({', '.join(outside[:3])}); they were kept at their record time")
    return warnings


def _track_kind(name: str) -> str:
    # the reader's guess_kind_for_track_name
    if name.startswith("A"):
        return str(otio.schema.TrackKind.Audio)
    return str(otio.schema.TrackKind.Video)


def build_timeline(prep: edl_text.PreparedEdl, rate: Fraction, shown: str,
                   warnings: list[str]) -> otio.schema.Timeline:
    """The timeline of ``prep``, laid out; LOC warnings are added to ``warnings``.

    Raises :class:`Unsupported` for what OTIO's reader must decide (see the module doc).
    The objects are made by OTIO's own JSON reader from the JSON written here: one call
    into OTIO for the whole timeline, a fraction of the time of making each in Python.
    """
    if prep.needs_ignore_mismatch:
        raise Unsupported("an overlap the reader shifts")
    if any(not line.startswith(("TITLE:", "FCM")) for line in prep.reader_header):
        raise Unsupported("a header line the reader refuses")   # "fcm: ..." in lower case, say
    rf = float(rate)
    try:
        otio.opentime.from_timecode("00:00:00:00", rf)
    except Exception:  # noqa: BLE001 - the reader refuses this rate with its own message
        raise Unsupported("a rate OTIO's timecode does not support") from None
    if otio.core.deserialize_json_from_string(json.dumps(_rt(0, rf))).rate != rf:
        raise Unsupported("a rate OTIO's JSON reader would round")
    # per track, in the order the reader creates them: [first record frame, end frame, items]
    tracks: dict[str, list[Any]] = {}
    in_source: list[str] = []
    outside: list[str] = []
    scalars: dict[int, float] = {}     # id of a clip's JSON -> its LinearTimeWarp's scalar
    for ev in prep.events:
        made = _Made(ev, rf)
        for tname in edl_text.CHANNEL_MAP.get(ev.reader_channel, [ev.reader_channel]):
            st = tracks.get(tname)
            if st is None:
                st = tracks[tname] = [ev.record_in, ev.record_in, []]
            items: list[Any] = st[2]
            if ev.record_in < st[1]:
                raise Unsupported("an overlap")
            if ev.record_in > st[1] and items:
                items.append(_obj("Gap", {"source_range": _tr(0, ev.record_in - st[1], rf)}))
                st[1] = ev.record_in
            if made.transition is not None:
                if not items:
                    raise Unsupported("a transition opening a track")
                items.append(made.transition)
            clip = made.clip_json(ev, rf, in_source, outside)
            items.append(clip)
            if made.time_scalar is not None:
                scalars[id(clip)] = made.time_scalar
            st[1] += made.src_len
    if tracks:
        t0 = min(st[0] for st in tracks.values())
    elif prep.events:
        t0 = min(e.record_in for e in prep.events)
    else:
        t0 = 0
    children = []
    for tname, (first, _end, items) in tracks.items():
        if first > t0:
            items.insert(0, _obj("Gap", {"source_range": _tr(0, first - t0, rf)}))
        children.append(_obj("Track", {"name": tname, "kind": _track_kind(tname), "children": items}))
    # the reader's name: the TITLE line it was given, "TITLE:" taken out wherever it appears
    name = ("TITLE: " + prep.title).replace("TITLE:", "").strip() if prep.title is not None else ""
    doc = _obj("Timeline", {"name": name, "global_start_time": _rt(t0, rf),
                            "tracks": _obj("Stack", {"name": "tracks", "children": children})})
    # no circular check: a clip on several tracks is the same dict, written once per track
    timeline = otio.core.deserialize_json_from_string(json.dumps(doc, check_circular=False))
    if not isinstance(timeline, otio.schema.Timeline):   # pragma: no cover - what was written is one
        raise Unsupported("OTIO read the JSON as something else")
    if scalars:
        for track, (_first, _end, items) in zip(timeline.tracks, tracks.values()):
            for item, written in zip(track, items):
                scalar = scalars.get(id(written))
                if scalar is not None:
                    item.effects[0].time_scalar = scalar
    warnings += locator_warnings(shown, in_source, outside)
    return timeline
