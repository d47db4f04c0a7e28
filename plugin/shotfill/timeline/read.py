"""Reading editors' timelines into OTIO, and writing them back safely.

This is the one entry point: callers import from here.  :func:`read_timeline`
recognises the format (by content first, then suffix: :mod:`shotfill.timeline.formats`),
reads it with OpenTimelineIO's adapter for it, compensates for what the
adapters get wrong, and always hands back one :class:`ReadResult` holding a
``Timeline`` whose rate is exact (``24000/1001``, never ``23.976``).

What is compensated, and where (see shared/research/otio-resolve.md):

* **EDL** (``cmx_3600``): :mod:`shotfill.timeline.edl.read` cleans the text first
  (:mod:`shotfill.timeline.edl.text`), then gives the timeline its real start time,
  leading gaps, and ``* LOC:`` markers in the clip's own source time.
* **FCPX XML**: :mod:`shotfill.timeline.fcpxml.read` runs the adapter with exact rates
  (it truncates 23.976 to 23) and reads the start timecode from the sequence.
* **OTIO JSON** from a newer OTIO: :mod:`shotfill.timeline.otio.read` downgrades
  ``Marker.3`` to ``Marker.2``.
* Whatever an adapter raises becomes a :class:`TimelineError` naming the file
  (:mod:`shotfill.timeline.adapters`).
* Here: whatever an adapter returns (a collection, stack, track or clip)
  becomes one Timeline, and its rate, start frame, drop-frame flag and frame
  size are worked out from what the file and its metadata say (the rate from
  ``rate`` when they say nothing, else 24 fps, with a warning).

Reading never writes to the input.  Every warning names the file.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from shotfill.system import bounded
from shotfill.errors import TimelineError, UsageError
from shotfill.timeline.formats import EXPORT_HINT, FORMAT_ADAPTERS, FORMAT_LABELS, detect_format
from shotfill.timeline.metadata import dig, int_or_none, to_plain
from shotfill.rates import DROP_FRAME_RATES, normalize_rate, parse_rate
from shotfill.timeline.edl.read import read_edl
from shotfill.model import ReadResult
from shotfill.timeline.adapters import call_adapter, read_file, read_string

__all__ = [
    "ReadResult",
    "read_timeline",
    "detect_format",
    "FORMAT_ADAPTERS",
]

#: Text timelines larger than this are refused rather than parsed.
_MAX_TEXT_BYTES = bounded.MAX_TIMELINE_BYTES



# =========================================================================== reading


def read_timeline(path: str | os.PathLike, *, rate: Fraction | float | str | None = None,
                  adapter: str | None = None) -> ReadResult:
    """Read any timeline ShotFill supports; see the module doc.

    ``rate`` is required for EDLs (they do not carry one) and otherwise only
    used when the file has none.  ``adapter`` forces a format: a ShotFill
    format name (``"edl"``) or an OTIO adapter name (``"cmx_3600"``).

    Raises :class:`UsageError` (an EDL without ``rate``, an unknown
    ``adapter``) or :class:`TimelineError` (anything about the file).
    """
    p = Path(path)
    shown = str(path)
    want_rate = _coerce_rate(rate)
    try:
        return _read(p, shown, want_rate, adapter)
    except (TimelineError, UsageError):
        raise
    except RecursionError:
        raise TimelineError(f"{shown}: is nested too deeply to read", hint=EXPORT_HINT) from None
    except OSError as exc:
        raise TimelineError(f"{shown}: cannot be read ({exc.strerror or exc})",
                            hint="check the path and the file's permissions") from None
    except Exception as exc:  # noqa: BLE001 - a last guard: never a raw traceback
        raise TimelineError(f"{shown}: could not be read ({type(exc).__name__}: {exc})",
                            hint=EXPORT_HINT) from None


def _read(p: Path, shown: str, want_rate: Fraction | None, adapter: str | None) -> ReadResult:
    if adapter:
        fmt = _format_from_adapter(adapter)
        if not p.exists():
            raise TimelineError(f"{shown}: no such file", hint="check the path")
    else:
        fmt = detect_format(p)
    if not p.is_dir():
        bounded.check_regular(p, shown=shown)
    if fmt == "otioz":
        bounded.check_zip(p, shown=shown)
    elif fmt == "otiod":
        bounded.check_regular(p / "content.otio", shown=f"{shown}/content.otio")
        if (p / "content.otio").stat().st_size > _MAX_TEXT_BYTES:
            raise TimelineError(f"{shown}: its content.otio is larger than {_MAX_TEXT_BYTES // (1024 * 1024)} MB",
                                hint="check that this is the timeline you meant")
    if p.is_file():
        size = p.stat().st_size
        if fmt != "aaf" and size > _MAX_TEXT_BYTES:
            raise TimelineError(
                f"{shown}: is {size // (1024 * 1024)} MB, too large for a {FORMAT_LABELS.get(fmt, fmt)} "
                "timeline", hint="check that this is the timeline you meant")
    warnings: list[str] = []
    if fmt == "edl":
        return read_edl(p, shown, want_rate)
    # Each format's own reader is imported when a file of that format is read.
    if fmt == "otio_json":
        from shotfill.timeline.otio.read import read_otio_json
        obj = read_otio_json(p, shown, warnings)
        return _finish(obj, p, shown, fmt, "otio_json", want_rate, warnings)
    if fmt == "fcp_xml":
        from shotfill.timeline.xml.decode import decode_xml
        text = decode_xml(p, shown, warnings)
        obj = call_adapter(shown, fmt, "fcp_xml", lambda: read_string(text, "fcp_xml"))
        return _finish(obj, p, shown, fmt, "fcp_xml", want_rate, warnings)
    if fmt == "fcpx_xml":
        from shotfill.timeline.fcpxml.read import read_fcpx
        obj, info = read_fcpx(p, shown, warnings)
        return _finish(obj, p, shown, fmt, "fcpx_xml", want_rate, warnings, info)
    adapter_name = FORMAT_ADAPTERS[fmt]
    obj = call_adapter(shown, fmt, adapter_name, lambda: read_file(p, adapter_name))
    return _finish(obj, p, shown, fmt, adapter_name, want_rate, warnings)


def _coerce_rate(rate: Fraction | float | str | None) -> Fraction | None:
    if rate is None:
        return None
    if isinstance(rate, str):
        return parse_rate(rate)
    try:
        return normalize_rate(rate)
    except (ValueError, TypeError, ZeroDivisionError):
        raise UsageError(f"'{rate}' is not a frame rate",
                         hint="write it as 23.976, 24000/1001, 25, 29.97 or 30000/1001") from None


def _format_from_adapter(adapter: str) -> str:
    if adapter in FORMAT_ADAPTERS:
        return adapter
    for fmt, name in FORMAT_ADAPTERS.items():
        if name.lower() == adapter.lower():
            return fmt
    raise UsageError(f"'{adapter}' is not a timeline format ShotFill reads",
                     hint="use one of " + ", ".join(FORMAT_ADAPTERS))


# =========================================================================== finishing


def _as_timeline(obj, shown: str, warnings: list[str]) -> otio.schema.Timeline:
    if isinstance(obj, otio.schema.Timeline):
        return obj
    if isinstance(obj, otio.schema.SerializableCollection):
        timelines = [c for c in obj.find_children(descended_from_type=otio.schema.Timeline)] \
            if hasattr(obj, "find_children") else []
        if not timelines:
            timelines = [c for c in obj if isinstance(c, otio.schema.Timeline)]
        if timelines:
            if len(timelines) > 1:
                warnings.append(f"{shown}: holds {len(timelines)} timelines; the first, "
                                f"'{timelines[0].name}', was read")
            return timelines[0]
        for kind in (otio.schema.Stack, otio.schema.Track):
            for child in obj:
                if isinstance(child, kind):
                    warnings.append(f"{shown}: holds no timeline; its first "
                                    f"{kind.__name__.lower()} '{child.name}' was read as one")
                    return _as_timeline(child.clone(), shown, warnings)
        clips = [c for c in obj if isinstance(c, (otio.schema.Clip, otio.schema.Gap))]
        if clips:
            warnings.append(f"{shown}: holds clips but no timeline; they were laid one after "
                            "another on one track")
            track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video,
                                      children=[c.clone() for c in clips])
            return otio.schema.Timeline(name=obj.name or "", tracks=[track])
        raise TimelineError(f"{shown}: holds no timeline, track or clip", hint=EXPORT_HINT)
    if isinstance(obj, otio.schema.Stack):
        timeline = otio.schema.Timeline(name=obj.name)
        timeline.tracks = obj if obj.parent() is None else obj.clone()
        return timeline
    if isinstance(obj, otio.schema.Track):
        return otio.schema.Timeline(name=obj.name,
                                    tracks=[obj if obj.parent() is None else obj.clone()])
    if isinstance(obj, (otio.schema.Clip, otio.schema.Gap)):
        track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video,
                                  children=[obj if obj.parent() is None else obj.clone()])
        return otio.schema.Timeline(name=obj.name, tracks=[track])
    what = getattr(obj, "schema_name", lambda: type(obj).__name__)()
    if getattr(obj, "is_unknown_schema", False):
        # OTIO itself reads it (as an object of a schema it does not know): say what it is
        # and carry on with nothing to fill, rather than refuse a file OTIO accepts.
        what = f"{obj.original_schema_name}.{obj.original_schema_version}"
        warnings.append(f"{shown}: holds a '{what}' object, not a timeline; there is nothing to fill in it")
        return otio.schema.Timeline(name=getattr(obj, "name", "") or Path(shown).stem)
    raise TimelineError(f"{shown}: holds a '{what}', not a timeline", hint=EXPORT_HINT)


def _first_item_rate(timeline: otio.schema.Timeline) -> float | None:
    for track in timeline.tracks:
        if not isinstance(track, otio.core.Composition):
            continue
        for item in track.find_children(shallow_search=False):
            if isinstance(item, (otio.schema.Clip, otio.schema.Gap)):
                try:
                    r = item.duration().rate
                except Exception:  # noqa: BLE001 - a clip with no range at all
                    continue
                if r and r > 0:
                    return r
    for item in timeline.tracks.find_children():
        sr = getattr(item, "source_range", None)
        if sr is not None and sr.duration.rate > 0:
            return sr.duration.rate
    return None


def _fcp7_info(timeline: otio.schema.Timeline) -> dict[str, Any]:
    info: dict[str, Any] = {}
    md = timeline.metadata.get("fcp_xml")
    if md is None:
        return info
    md = to_plain(md)
    rate = md.get("rate") if isinstance(md, dict) else None
    if isinstance(rate, dict) and rate.get("timebase"):
        try:
            tb = Fraction(str(rate["timebase"]))
            ntsc = str(rate.get("ntsc", "")).upper() == "TRUE"
            info["rate"] = normalize_rate(tb * 1000 / 1001 if ntsc else tb)
        except (ValueError, ZeroDivisionError):
            pass
    tc = md.get("timecode") if isinstance(md, dict) else None
    if isinstance(tc, dict) and tc.get("displayformat"):
        info["drop_frame"] = str(tc["displayformat"]).upper() == "DF"
    sc = dig(md, "media", "video", "format", "samplecharacteristics")
    if isinstance(sc, dict):
        info["width"] = int_or_none(sc.get("width"))
        info["height"] = int_or_none(sc.get("height"))
    return info


_SIZE_KEYS = (
    ("width", "height"),
    ("timelineResolutionWidth", "timelineResolutionHeight"),
    ("openpype.timeline.width", "openpype.timeline.height"),
    ("ayon.timeline.width", "ayon.timeline.height"),
    ("Width", "Height"),
)


def _metadata_size(timeline: otio.schema.Timeline) -> tuple[int | None, int | None]:
    """Frame size from timeline metadata, where an exporter left it."""
    md = to_plain(timeline.metadata)
    stack = [(md, 0)]
    while stack:
        d, depth = stack.pop(0)
        if not isinstance(d, dict):
            continue
        for wk, hk in _SIZE_KEYS:
            w, h = int_or_none(d.get(wk)), int_or_none(d.get(hk))
            if w and h:
                return w, h
        for key in ("SEQUERNCE_FORMAT_STRING", "SEQUENCE_FORMAT_STRING"):
            m = re.match(r"\s*(\d{2,5})\s*x\s*(\d{2,5})", str(d.get(key, "")))
            if m:
                return int(m.group(1)), int(m.group(2))
        if depth < 3:
            stack.extend((v, depth + 1) for v in d.values() if isinstance(v, dict))
    return None, None


def _finish(obj, p: Path, shown: str, fmt: str, adapter_name: str, want_rate: Fraction | None,
            warnings: list[str], info: dict[str, Any] | None = None) -> ReadResult:
    timeline = _as_timeline(obj, shown, warnings)
    info = dict(info or {})
    if fmt == "fcp_xml":
        info = {**_fcp7_info(timeline), **info}
    gst = timeline.global_start_time

    rate: Fraction | None = info.get("rate")
    if rate is None and gst is not None and gst.rate > 0:
        rate = normalize_rate(gst.rate)
    if rate is None:
        r = _first_item_rate(timeline)
        if r:
            rate = normalize_rate(r)
    if rate is None:
        if want_rate is not None:
            rate = want_rate
        else:
            rate = Fraction(24)
            warnings.append(f"{shown}: says nothing of its frame rate; 24 fps was assumed "
                            "(pass --rate to say otherwise)")

    rf = float(rate)
    if "start_frame" in info:
        start = int(info["start_frame"])
        timeline.global_start_time = otio.opentime.RationalTime(start, rf)
    elif gst is not None:
        if gst.rate > 0 and normalize_rate(gst.rate) == rate:
            start = int(round(gst.value))
        else:
            start = int(round(Fraction(gst.value) * rate / Fraction(gst.rate))) if gst.rate else 0
        timeline.global_start_time = otio.opentime.RationalTime(start, rf)
    else:
        start = 0

    drop = info.get("drop_frame")
    if drop is None:
        drop = rate in DROP_FRAME_RATES
    drop = bool(drop) and rate in DROP_FRAME_RATES

    width, height = info.get("width"), info.get("height")
    if not (width and height):
        width, height = _metadata_size(timeline)

    return ReadResult(timeline=timeline, format=fmt, rate=rate, drop_frame=drop,
                      start_frame=start, width=width, height=height, warnings=warnings,
                      adapter=adapter_name)
