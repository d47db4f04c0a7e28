"""Reading editors' timelines into OTIO, and writing them back safely.

:func:`read_timeline` recognises the format (by content first, then suffix),
reads it with OpenTimelineIO's adapter for it, compensates for what the
adapters get wrong, and always hands back one :class:`ReadResult` holding a
``Timeline`` whose rate is exact (``24000/1001``, never ``23.976``).

What is compensated, and why (see shared/research/otio-resolve.md):

* **EDL** (``cmx_3600``): the text goes through :mod:`shotfill.edl_text`
  first (drop-frame timecode, a frame equal to the rate, durations that
  disagree, overlapping events, a transition opening a track, Latin-1 text);
  the reader's negative ``track.source_range`` becomes a real
  ``global_start_time`` plus leading Gaps; ``* LOC:`` markers are placed in
  the clip's own source time at their record frame (OTIO #169/#345), drop-frame
  ``LOC`` lines included (the stock regex skips them).
* **FCPX XML**: the adapter truncates every rate to an integer (23.976 -> 23);
  it is run with exact rates, and the start timecode is read from the sequence.
* **OTIO JSON** from a newer OTIO (``Marker.3``) is downgraded to ``Marker.2``.
* Whatever an adapter raises becomes a :class:`TimelineError` naming the file.

Reading never writes to the input.  Every warning names the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from shotfill import edl_text
from shotfill.errors import TimelineError, UsageError
from shotfill.rates import DROP_FRAME_RATES, normalize_rate, parse_rate

__all__ = [
    "ReadResult",
    "read_timeline",
    "detect_format",
    "write_timeline_atomic",
    "FORMAT_ADAPTERS",
]

#: ShotFill's format names and the OTIO adapter that reads each.
FORMAT_ADAPTERS: dict[str, str] = {
    "edl": "cmx_3600",
    "fcp_xml": "fcp_xml",
    "fcpx_xml": "fcpx_xml",
    "otio_json": "otio_json",
    "otioz": "otioz",
    "otiod": "otiod",
    "aaf": "AAF",
    "xges": "xges",
    "kdenlive": "kdenlive",
    "ale": "ale",
}

FORMAT_LABELS = {
    "edl": "a CMX 3600 EDL",
    "fcp_xml": "Final Cut Pro 7 XML",
    "fcpx_xml": "FCPXML",
    "otio_json": "OpenTimelineIO JSON",
    "otioz": "an OTIOZ bundle",
    "otiod": "an OTIOD folder",
    "aaf": "AAF",
    "xges": "a GStreamer Editing Services project",
    "kdenlive": "a Kdenlive project",
    "ale": "an Avid Log Exchange file",
}

#: Where each adapter comes from, for the hint when it is missing.
ADAPTER_PACKAGES = {
    "cmx_3600": "otio-cmx3600-adapter (part of opentimelineio-plugins)",
    "fcp_xml": "otio-fcp-adapter (part of opentimelineio-plugins)",
    "fcpx_xml": "otio-fcpx-xml-adapter",
    "AAF": "otio-aaf-adapter (part of opentimelineio-plugins)",
    "xges": "otio-xges-adapter (part of opentimelineio-plugins)",
    "ale": "otio-ale-adapter (part of opentimelineio-plugins)",
    "kdenlive": "otio-kdenlive-adapter",
}

SUFFIX_FORMATS = {
    ".edl": "edl",
    ".xml": "fcp_xml",
    ".fcpxml": "fcpx_xml",
    ".fcpxmld": "fcpx_xml",
    ".otio": "otio_json",
    ".otioz": "otioz",
    ".otiod": "otiod",
    ".aaf": "aaf",
    ".xges": "xges",
    ".kdenlive": "kdenlive",
    ".ale": "ale",
}

_UNSUPPORTED_SUFFIXES = {
    ".drt": "a DaVinci Resolve timeline file (.drt)",
    ".drp": "a DaVinci Resolve project (.drp)",
    ".prproj": "a Premiere Pro project (.prproj)",
    ".avb": "an Avid bin (.avb)",
    ".fcp": "a Final Cut Pro 7 project (.fcp)",
    ".fcpbundle": "a Final Cut Pro library",
    ".veg": "a Vegas project",
}

_EXPORT_HINT = (
    "export the timeline from your editor as OpenTimelineIO (.otio), FCP 7 XML (.xml), "
    "FCPXML (.fcpxml), AAF or a CMX 3600 EDL (.edl)"
)

#: Text timelines larger than this are refused rather than parsed.
_MAX_TEXT_BYTES = 256 * 1024 * 1024

_TC_LIKE = r"\d{1,2}[:;.,]\d{1,2}[:;.,]\d{1,2}[:;.,]\d{1,3}"
_EDL_EVENT_RE = re.compile(
    rf"^\s*\d+\s+\S+\s+\S+\s+\S+(?:\s+\d+(?:\.\d+)?)?\s+{_TC_LIKE}\s+{_TC_LIKE}\s+{_TC_LIKE}\s+{_TC_LIKE}\s*$"
)
_XML_ROOT_RE = re.compile(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


@dataclass
class ReadResult:
    """A timeline as read, and what ShotFill needs to know about it."""

    #: always a Timeline; a bare Track, Stack or Clip is wrapped in one
    timeline: otio.schema.Timeline
    #: ShotFill's format name: "edl", "fcp_xml", "fcpx_xml", "otio_json", ...
    format: str
    #: the timeline rate, exact (24000/1001, not 23.976)
    rate: Fraction
    drop_frame: bool
    #: absolute frame of the timeline's first frame (global_start_time), 0 when none
    start_frame: int
    width: int | None = None
    height: int | None = None
    #: what was compensated while reading, each naming the file
    warnings: list[str] = field(default_factory=list)
    #: EDLs only: the text as decoded, line endings kept (the splice writer edits it)
    source_text: str | None = None
    #: EDLs only: the encoding the text was decoded with
    encoding: str | None = None
    #: the OTIO adapter that read it
    adapter: str = ""


# =========================================================================== detection


def detect_format(path: str | os.PathLike) -> str:
    """ShotFill's name for the format of ``path``: by content, else by suffix.

    Content wins when it is recognisable (an EDL saved as ``.txt``, OTIO JSON
    saved as ``.json``, FCPXML saved as ``.xml``); the suffix decides when the
    content says nothing clear.  Raises :class:`TimelineError` for a missing
    file or a format ShotFill cannot read.
    """
    p = Path(path)
    shown = str(path)
    if not p.exists():
        raise TimelineError(f"{shown}: no such file", hint="check the path")
    suffix = p.suffix.lower()
    if p.is_dir():
        if (p / "Info.fcpxml").is_file():
            return "fcpx_xml"
        if suffix == ".otiod" or (p / "content.otio").is_file():
            return "otiod"
        raise TimelineError(f"{shown}: is a folder, not a timeline file", hint=_EXPORT_HINT)
    try:
        with open(p, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as exc:
        raise TimelineError(f"{shown}: cannot be read ({exc.strerror or exc})",
                            hint="check the file's permissions") from None
    sniffed = _sniff(head)
    if sniffed is not None:
        if sniffed.startswith("!"):
            raise TimelineError(f"{shown}: is {sniffed[1:]}, not a timeline", hint=_EXPORT_HINT)
        return sniffed
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if suffix in _UNSUPPORTED_SUFFIXES:
        raise TimelineError(
            f"{shown}: is {_UNSUPPORTED_SUFFIXES[suffix]}, which ShotFill cannot read",
            hint=_EXPORT_HINT)
    if not head.strip():
        raise TimelineError(f"{shown}: is empty", hint=_EXPORT_HINT)
    raise TimelineError(f"{shown}: is not a timeline format ShotFill can read", hint=_EXPORT_HINT)


def _sniff(head: bytes) -> str | None:
    """Format from the first bytes; ``"!what"`` for a known non-timeline; None if unclear."""
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "aaf"                      # Microsoft compound file: AAF
    if head.startswith(b"PK\x03\x04"):
        return "otioz" if b"content.otio" in head or b"version.txt" in head else "!a zip archive"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        return None
    if stripped[0] == "{":
        return "otio_json" if '"OTIO_SCHEMA"' in stripped else "!JSON that is not OpenTimelineIO"
    if stripped[0] == "<":
        root = _xml_root(stripped)
        if root is None:
            return None
        return {
            "xmeml": "fcp_xml",
            "fcpxml": "fcpx_xml",
            "ges": "xges",
            "mlt": "kdenlive",
            "ColorDecisionList": "!an ASC CDL colour file",
            "ColorCorrectionCollection": "!an ASC CDL colour file",
            "ColorCorrection": "!an ASC CDL colour file",
        }.get(root)
    if "\x00" in stripped:
        return None
    lines = [ln for ln in stripped.splitlines() if ln.strip()][:400]
    if lines and lines[0].strip().lower() == "heading" and any("FIELD_DELIM" in ln for ln in lines[:10]):
        return "ale"
    for ln in lines:
        s = ln.strip()
        if s.upper().startswith(("TITLE:", "FCM:")) or _EDL_EVENT_RE.match(s):
            return "edl"
    return None


def _xml_root(text: str) -> str | None:
    """Name of the first element, skipping the declaration, comments and DOCTYPE."""
    pos = 0
    for _ in range(1000):
        lt = text.find("<", pos)
        if lt < 0:
            return None
        if text.startswith("<?", lt):
            end = text.find("?>", lt)
            step = 2
        elif text.startswith("<!--", lt):
            end = text.find("-->", lt)
            step = 3
        elif text.startswith("<!", lt):
            end = text.find(">", lt)
            bracket = text.find("[", lt, end if end >= 0 else len(text))
            if bracket >= 0:
                end = text.find("]>", bracket)
                step = 2
            else:
                step = 1
        else:
            m = _XML_ROOT_RE.match(text, lt)
            return m.group(2) if m else None
        if end < 0:
            return None
        pos = end + step
    return None


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
        raise TimelineError(f"{shown}: is nested too deeply to read", hint=_EXPORT_HINT) from None
    except OSError as exc:
        raise TimelineError(f"{shown}: cannot be read ({exc.strerror or exc})",
                            hint="check the path and the file's permissions") from None
    except Exception as exc:  # noqa: BLE001 - a last guard: never a raw traceback
        raise TimelineError(f"{shown}: could not be read ({type(exc).__name__}: {exc})",
                            hint=_EXPORT_HINT) from None


def _read(p: Path, shown: str, want_rate: Fraction | None, adapter: str | None) -> ReadResult:
    if adapter:
        fmt = _format_from_adapter(adapter)
        if not p.exists():
            raise TimelineError(f"{shown}: no such file", hint="check the path")
    else:
        fmt = detect_format(p)
    if p.is_file():
        size = p.stat().st_size
        if fmt != "aaf" and size > _MAX_TEXT_BYTES:
            raise TimelineError(
                f"{shown}: is {size // (1024 * 1024)} MB, too large for a {FORMAT_LABELS.get(fmt, fmt)} "
                "timeline", hint="check that this is the timeline you meant")
    warnings: list[str] = []
    if fmt == "edl":
        return _read_edl(p, shown, want_rate)
    if fmt == "otio_json":
        obj = _read_otio_json(p, shown, warnings)
        return _finish(obj, p, shown, fmt, "otio_json", want_rate, warnings)
    if fmt == "fcp_xml":
        text = _decode_xml(p, shown, warnings)
        obj = _call_adapter(shown, fmt, "fcp_xml", lambda: otio.adapters.read_from_string(
            text, adapter_name="fcp_xml"))
        return _finish(obj, p, shown, fmt, "fcp_xml", want_rate, warnings)
    if fmt == "fcpx_xml":
        return _read_fcpx(p, shown, want_rate, warnings)
    adapter_name = FORMAT_ADAPTERS[fmt]
    obj = _call_adapter(shown, fmt, adapter_name, lambda: otio.adapters.read_from_file(
        str(p), adapter_name=adapter_name))
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


def _call_adapter(shown: str, fmt: str, adapter_name: str, fn):
    """Run an adapter; anything it raises becomes a TimelineError naming the file.

    Some adapters print to stdout (the Kdenlive one prints a notice); that is
    kept out of ShotFill's output.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return fn()
    except TimelineError:
        raise
    except otio.exceptions.NotSupportedError as exc:
        if "Could not find plugin" in str(exc):
            pkg = ADAPTER_PACKAGES.get(adapter_name, adapter_name)
            hint = f"install the OTIO adapter for it: pip install {pkg.split(' ')[0]}"
            if fmt == "kdenlive":
                hint += ("; or, with Kdenlive 25.04 or later, export the timeline as "
                         "OpenTimelineIO (.otio) from Kdenlive itself")
            raise TimelineError(
                f"{shown}: {FORMAT_LABELS.get(fmt, fmt)} needs the OTIO adapter "
                f"'{adapter_name}', which is not installed", hint=hint) from None
        raise _adapter_error(shown, fmt, exc) from None
    except RecursionError:
        raise TimelineError(f"{shown}: is nested too deeply to read", hint=_EXPORT_HINT) from None
    except Exception as exc:  # adapters raise anything: never let it out raw
        raise _adapter_error(shown, fmt, exc) from None


def _adapter_error(shown: str, fmt: str, exc: BaseException) -> TimelineError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(msg) > 300:
        msg = msg[:300] + "..."
    what = FORMAT_LABELS.get(fmt, fmt)
    hint = {
        "fcpx_xml": "the FCPXML adapter reads projects of plain clips, gaps and compound "
                    "clips; export the timeline as FCP 7 XML or OpenTimelineIO instead",
        "fcp_xml": "export the sequence again as FCP 7 XML (File > Export > XML), "
                   "or as OpenTimelineIO",
    }.get(fmt, _EXPORT_HINT)
    if fmt == "fcp_xml" and "No top-level sequences" in msg:
        return TimelineError(f"{shown}: holds no sequence, so there is no timeline in it",
                             hint="export the sequence itself as XML, not a clip or an effect")
    return TimelineError(f"{shown}: could not be read as {what} ({type(exc).__name__}: {msg})",
                         hint=hint)


# --------------------------------------------------------------------------- EDL


def _read_edl(p: Path, shown: str, rate: Fraction | None) -> ReadResult:
    if rate is None:
        raise UsageError(
            f"{shown}: an EDL does not say its frame rate",
            hint="pass it with --rate, e.g. --rate 23.976 (or 24, 25, 29.97, 30, 50, 59.94, 60)")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TimelineError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
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
                                "not an EDL", hint=_EXPORT_HINT)
        warnings.append(f"{shown}: the EDL has no events")

    def run(ignore: bool):
        return otio.adapters.read_from_string(
            prep.reader_text, adapter_name="cmx_3600",
            rate=float(rate), ignore_timecode_mismatch=ignore)

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            obj = run(prep.needs_ignore_mismatch)
    except Exception as first:  # noqa: BLE001 - the reader raises many kinds
        if prep.needs_ignore_mismatch:
            raise _adapter_error(shown, "edl", first) from None
        obj = _call_adapter(shown, "edl", "cmx_3600", lambda: run(True))
        warnings.append(
            f"{shown}: the EDL reader could not place every event ({first}); it was read "
            "again allowing that, so record times after that point may be off")
    if not isinstance(obj, otio.schema.Timeline):
        raise TimelineError(f"{shown}: the EDL reader returned no timeline", hint=_EXPORT_HINT)
    timeline = obj
    try:
        _normalise_edl(timeline, prep, rate, shown, warnings)
    except TimelineError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TimelineError(f"{shown}: the EDL could not be laid out ({type(exc).__name__}: {exc})",
                            hint=_EXPORT_HINT) from None
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
                   rate: Fraction, shown: str, warnings: list[str]) -> None:
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
        for item in track:
            if isinstance(item, otio.schema.Transition):
                continue
            if isinstance(item, otio.schema.Clip):
                tag = _pop_event_tag(item)
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
                clip.markers.append(otio.schema.Marker(
                    name=loc.name,
                    marked_range=otio.opentime.TimeRange(
                        otio.opentime.RationalTime(src_start + offset, rf),
                        otio.opentime.RationalTime(0, rf)),
                    color=loc.color,
                    metadata=md,
                ))
    if in_source:
        warnings.append(
            f"{shown}: {len(in_source)} LOC line(s) give a source timecode, not a record "
            f"one ({', '.join(sorted(set(in_source))[:3])}); they were placed at that source frame")
    if outside:
        warnings.append(
            f"{shown}: {len(outside)} LOC line(s) fall outside their event "
            f"({', '.join(outside[:3])}); they were kept at their record time")


# --------------------------------------------------------------------------- OTIO JSON

#: Schemas written by newer OTIO versions that this one can read after a downgrade.
_DOWNGRADES = {"Marker": 3}


def _read_otio_json(p: Path, shown: str, warnings: list[str]):
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TimelineError(f"{shown}: is not UTF-8 text, so it is not valid OpenTimelineIO JSON",
                            hint=_EXPORT_HINT) from None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return otio.adapters.read_from_string(text, adapter_name="otio_json")
    except Exception as exc:  # noqa: BLE001
        if "unsupported schema version" not in str(exc).lower() and \
                type(exc).__name__ != "UnsupportedSchemaError":
            raise _adapter_error(shown, "otio_json", exc) from None
        first = exc
    # Written by a newer OTIO: see which schemas are too new, downgrade the known ones.
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise _adapter_error(shown, "otio_json", first) from None
    known = otio.core.type_version_map()
    too_new: dict[str, int] = {}

    def scan(o):
        stack = [o]
        while stack:
            x = stack.pop()
            if isinstance(x, dict):
                s = x.get("OTIO_SCHEMA")
                if isinstance(s, str) and "." in s:
                    name, _, ver = s.rpartition(".")
                    if ver.isdigit() and name in known and int(ver) > known[name]:
                        too_new[name] = max(too_new.get(name, 0), int(ver))
                stack.extend(x.values())
            elif isinstance(x, list):
                stack.extend(x)

    scan(doc)
    unknown = {k: v for k, v in too_new.items() if _DOWNGRADES.get(k, 0) < v}
    if not too_new or unknown:
        names = ", ".join(f"{k}.{v}" for k, v in sorted((unknown or too_new).items()))
        raise TimelineError(
            f"{shown}: was written by a newer OpenTimelineIO ({names or 'unknown schema'}) "
            f"than this one ({otio.__version__})",
            hint="write it for an older OTIO (otiotool --downgrade 0.17, or the editor's "
                 "export options), or update ShotFill") from None
    count = _downgrade(doc)
    warnings.append(
        f"{shown}: was written by a newer OpenTimelineIO ({count} Marker.3); the markers were "
        "read as Marker.2, with their colour by name")
    return _call_adapter(shown, "otio_json", "otio_json", lambda: otio.adapters.read_from_string(
        json.dumps(doc), adapter_name="otio_json"))


def _downgrade(doc) -> int:
    count = 0
    stack = [doc]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if x.get("OTIO_SCHEMA") == "Marker.3":
                x["OTIO_SCHEMA"] = "Marker.2"
                col = x.get("color")
                if isinstance(col, dict):
                    name = str(col.get("name") or "RED").upper()
                    x["color"] = name
                count += 1
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return count


# --------------------------------------------------------------------------- XML


def _decode_xml(p: Path, shown: str, warnings: list[str]) -> str:
    data = p.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    m = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9_.\-]+)[\"']", data)
    enc = m.group(1).decode("ascii") if m else "utf-8"
    try:
        return data.decode(enc)
    except (LookupError, UnicodeDecodeError):
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        warnings.append(f"{shown}: the XML is not valid {enc}; it was read as Windows-1252")
        return data.decode("cp1252", errors="replace")


def _fcpx_seconds(value: str | None) -> Fraction:
    """FCPXML time: ``"0s"``, ``"3600s"``, ``"1001/24000s"`` -> seconds."""
    if not value:
        return Fraction(0)
    v = value.strip().rstrip("s")
    if "/" in v:
        a, b = v.split("/", 1)
        return Fraction(int(a), int(b))
    return Fraction(v)


def _exact_fcpx_class():
    """The FCPX adapter's reader with exact rates (it truncates 23.976 to 23)."""
    from otio_fcpx_xml_adapter import fcpx_xml as fx

    RT = otio.opentime.RationalTime
    TR = otio.opentime.TimeRange

    class ExactFcpxXml(fx.FcpxXml):
        fallback_format: str | None = None

        def exact_rate(self, format_id) -> Fraction:
            fmt = self._format_by_id(format_id) if format_id else None
            fd = fmt.get("frameDuration") if fmt is not None else None
            if not fd:
                if self.fallback_format and format_id != self.fallback_format:
                    return self.exact_rate(self.fallback_format)
                raise ValueError(f"format {format_id!r} has no frameDuration")
            return normalize_rate(1 / _fcpx_seconds(fd))

        def _format_frame_rate(self, format_id):
            return float(self.exact_rate(format_id))

        def _number_of_frames(self, time_value, format_id):
            return int(round(_fcpx_seconds(time_value) * self.exact_rate(format_id)))

        def rt(self, value, format_id):
            r = self.exact_rate(format_id)
            return RT(int(round(_fcpx_seconds(value) * r)), float(r))

        def _time_range(self, element, format_id):
            # Everything in the timeline is timed at the sequence's rate: an
            # item's duration there is a whole number of sequence frames even
            # when its media has another rate (the stock reader uses the
            # media's rate and drifts).  A source start keeps its exact time.
            r = self.exact_rate(self.fallback_format or format_id)
            start = _fcpx_seconds(element.get("start", "0s")) * r
            start_v = int(start) if start.denominator == 1 else float(start)
            return TR(start_time=RT(start_v, float(r)),
                      duration=RT(int(round(_fcpx_seconds(element.get("duration")) * r)), float(r)))

        def _build_composable(self, element, default_format):
            timing_clip = self._timing_clip(element)
            source_range = self._time_range(
                timing_clip, self._format_id_for_clip(element, default_format))
            if element.tag != "ref-clip":
                composable = otio.schema.Clip(
                    name=timing_clip.get("name"),
                    media_reference=self._reference_from_id(element.get("ref"), default_format),
                    source_range=source_range)
            else:
                media_element = self._compound_clip_by_id(element.get("ref"))
                composable = self._squence_to_stack(
                    media_element.find("./sequence"), name=media_element.get("name"),
                    source_range=source_range)
            # only the clip's own markers: the stock reader also takes those of
            # every clip connected to it (".//marker"), so they appear twice
            for marker in self.own_markers(timing_clip):
                composable.markers.append(self._marker(marker, default_format))
            return composable

        def own_markers(self, owner):
            found = []
            for marker in owner.iter("marker"):
                node = self.child_parent_map.get(marker)
                mine = True
                while node is not None and node is not owner:
                    if node.get("lane") is not None or node.tag in (
                            "clip", "asset-clip", "ref-clip", "title", "gap", "spine",
                            "audition", "sync-clip", "mc-clip"):
                        mine = False
                        break
                    node = self.child_parent_map.get(node)
                if mine:
                    found.append(marker)
            return found

        def _timing_clip(self, clip):
            # a generator (<video ref="effect">) straight in a storyline has no
            # clip around it: it times itself (the stock reader crashes on it)
            node = clip
            while node is not None and node.tag not in ("clip", "asset-clip", "ref-clip"):
                node = self.child_parent_map.get(node)
            return node if node is not None else clip

        def _format_id_for_clip(self, clip, default_format):
            if not clip.get("ref", None) or clip.tag == "gap":
                return default_format
            resource = self._asset_by_id(clip.get("ref"))
            if resource is None:
                media = self._compound_clip_by_id(clip.get("ref"))
                resource = media.find("sequence") if media is not None else None
            return resource.get("format", default_format) if resource is not None else default_format

        def _reference_from_id(self, asset_id, default_format):
            asset = self._asset_by_id(asset_id)
            if asset is None:
                effect = self.fcpx_xml.find(f"./resources/effect[@id='{asset_id}']") if asset_id else None
                if effect is not None:
                    return otio.schema.GeneratorReference(
                        name=effect.get("name", ""), generator_kind=effect.get("name", "") or "effect",
                        metadata={"fcpx": {"uid": effect.get("uid", "")}})
                return otio.schema.MissingReference()
            # FCPXML 1.9+ moved the file into <media-rep kind="original-media" src=...>.
            src = asset.get("src", "")
            if not src:
                rep = asset.find("media-rep[@kind='original-media']")
                rep = rep if rep is not None else asset.find("media-rep")
                src = rep.get("src", "") if rep is not None else ""
            if not src:
                return otio.schema.MissingReference()
            fmt = asset.get("format", default_format)
            available_range = TR(start_time=self.rt(asset.get("start"), fmt),
                                 duration=self.rt(asset.get("duration"), fmt))
            asset_clip = self._assetclip_by_ref(asset_id)
            metadata = self._create_metadta(asset_clip) if asset_clip is not None else {}
            return otio.schema.ExternalReference(target_url=src,
                                                 available_range=available_range,
                                                 metadata={"fcpx": metadata})

        def _offset_and_lane(self, clip, default_format):
            clip = self._timing_clip(clip)
            parent = self.child_parent_map.get(clip)
            if parent.tag == "spine" and parent.get("lane", None):
                lane = parent.get("lane")
                parent = self.child_parent_map.get(parent)
                spine = True
            else:
                lane = clip.get("lane", "0")
                spine = False
            seconds = _fcpx_seconds(clip.get("offset"))
            if not spine:
                seconds -= _fcpx_seconds(parent.get("start", None))
            seconds += _fcpx_seconds(parent.get("offset", None))
            r = self.exact_rate(default_format)
            return RT(int(round(seconds * r)), float(r)), lane

        def inactive_audition_pick(self, element) -> bool:
            """In an <audition> only the first child is in the edit; the stock
            reader puts every alternative on the track, one after another."""
            node = element
            while node is not None:
                parent = self.child_parent_map.get(node)
                if parent is not None and parent.tag == "audition" and len(parent) and parent[0] is not node:
                    return True
                node = parent
            return False

        def _squence_to_stack(self, sequence_element, name="", source_range=None):
            seq_format = sequence_element.get("format")
            if self.fallback_format is None:
                self.fallback_format = seq_format
            rate = float(self.exact_rate(seq_format))
            # offsets count from the sequence's start timecode (tcStart), which
            # becomes global_start_time; the stock reader fills it with a Gap
            origin = int(round(_fcpx_seconds(sequence_element.get("tcStart")) * self.exact_rate(seq_format)))
            items = []
            lanes = []
            stack = otio.schema.Stack(name=name, source_range=source_range)
            gap_markers = []   # (lane, absolute sequence frame, Marker): the stock reader drops them
            for element in sequence_element.iter():
                if element.tag == "gap" and element.find("./marker") is not None:
                    parent = self.child_parent_map.get(element)
                    if parent is not None and parent.tag == "spine":
                        lane = parent.get("lane", "0") or "0"
                        r = self.exact_rate(seq_format)
                        base = _fcpx_seconds(element.get("offset")) - _fcpx_seconds(element.get("start"))
                        if parent.get("lane"):
                            owner = self.child_parent_map.get(parent)
                            base += _fcpx_seconds(owner.get("offset")) - _fcpx_seconds(owner.get("start"))
                        for m_el in element.findall("./marker"):
                            at = int(round((base + _fcpx_seconds(m_el.get("start"))) * r))
                            gap_markers.append((lane, at, self._marker(m_el, seq_format)))
                if element.tag not in fx.COMPOSABLE_ELEMENTS:
                    continue
                if self.inactive_audition_pick(element):
                    continue
                composable = self._build_composable(element, seq_format)
                offset, lane = self._offset_and_lane(element, seq_format)
                items.append({"track": lane, "offset": offset, "composable": composable,
                              "audio_only": self._audio_only(element)})
                lanes.append(lane)
            for lane in sorted(set(lanes)):
                sorted_items = self._sorted_items(lane, items)
                track = otio.schema.Track(name=lane, kind=self._track_type(sorted_items))
                end = 0
                for item in sorted_items:
                    diff = int(item["offset"].value) - origin - end
                    if diff > 0:
                        track.append(self._create_gap(0, diff, seq_format))
                        end += diff
                    track.append(item["composable"])
                    end += int(round(item["composable"].duration().rescaled_to(rate).value))
                stack.append(track)
            for lane, at, marker in gap_markers:
                self.attach_gap_marker(stack, lane, at - origin, marker, rate)
            return stack

        @staticmethod
        def attach_gap_marker(stack, lane, frame, marker, rate):
            """Put a <gap>'s marker on the OTIO Gap at that place, in the Gap's own time."""
            for track in stack:
                if track.name != lane:
                    continue
                pos = 0
                for item in track:
                    length = int(round(item.duration().rescaled_to(rate).value))
                    if isinstance(item, otio.schema.Gap) and pos <= frame < pos + max(length, 1):
                        start = int(round(item.source_range.start_time.rescaled_to(rate).value)) \
                            if item.source_range is not None else 0
                        dur = marker.marked_range.duration
                        marker.marked_range = TR(RT(start + frame - pos, rate), dur)
                        item.markers.append(marker)
                        return
                    pos += length

    return ExactFcpxXml


def _fcpx_sequence(root):
    """The <sequence> of the project the adapter turns into the first timeline."""
    if root.find("./library") is not None:
        event = root.find("./library/event")
        projects = event.findall("./project") if event is not None else []
    elif root.find("./event") is not None:
        projects = root.find("./event").findall("./project")
    elif root.find("./project") is not None:
        projects = [root.find("./project")]
    else:
        projects = []
    for project in projects:
        seq = project.find("./sequence")
        if seq is not None:
            return seq
    return None


def _read_fcpx(p: Path, shown: str, want_rate: Fraction | None, warnings: list[str]) -> ReadResult:
    if p.is_dir():
        p = p / "Info.fcpxml"
    text = _decode_xml(p, shown, warnings)
    try:
        cls = _exact_fcpx_class()
    except ImportError:
        raise TimelineError(
            f"{shown}: FCPXML needs the OTIO adapter 'fcpx_xml', which is not installed",
            hint="pip install otio-fcpx-xml-adapter") from None

    def exact():
        reader = cls(text)
        root = reader.fcpx_xml
        if root.find("./project/resources") is not None and root.find("./project/sequence") is None:
            raise TimelineError(
                f"{shown}: is an FCPXML {root.get('version', '')} event listing with no sequence "
                "in it, which the FCPXML adapter cannot read",
                hint="export the project from Final Cut Pro 10.4 or later (FCPXML 1.8+)")
        return reader, reader.to_otio()

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            reader, obj = exact()
    except TimelineError:
        raise
    except Exception as exc:  # noqa: BLE001 - fall back to the stock reader
        obj = _call_adapter(shown, "fcpx_xml", "fcpx_xml", lambda: otio.adapters.read_from_string(
            text, adapter_name="fcpx_xml"))
        reader = None
        warnings.append(f"{shown}: read with the stock FCPXML reader ({type(exc).__name__}: {exc}); "
                        "its frame rates are rounded down to whole numbers")
    if obj is None:
        raise TimelineError(f"{shown}: holds no project, event or clips to read",
                            hint="export the project itself (File > Export XML)")
    info: dict[str, Any] = {}
    root = reader.fcpx_xml if reader is not None else None
    if root is not None:
        seq = _fcpx_sequence(root)
        if seq is not None:
            fmt_id = seq.get("format")
            fmt_el = reader._format_by_id(fmt_id) if fmt_id else None
            try:
                info["rate"] = reader.exact_rate(fmt_id)
            except ValueError:
                pass
            if fmt_el is not None:
                info["width"] = _int_or_none(fmt_el.get("width"))
                info["height"] = _int_or_none(fmt_el.get("height"))
            tc_format = (seq.get("tcFormat") or "").upper()
            if tc_format in ("DF", "NDF"):
                info["drop_frame"] = tc_format == "DF"
            if "rate" in info:
                info["start_frame"] = int(round(_fcpx_seconds(seq.get("tcStart")) * info["rate"]))
    return _finish(obj, p, shown, "fcpx_xml", "fcpx_xml", want_rate, warnings, info)


# --------------------------------------------------------------------------- common


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
        raise TimelineError(f"{shown}: holds no timeline, track or clip", hint=_EXPORT_HINT)
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
    raise TimelineError(f"{shown}: holds a '{what}', not a timeline", hint=_EXPORT_HINT)


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
    md = _plain(md)
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
    sc = _dig(md, "media", "video", "format", "samplecharacteristics")
    if isinstance(sc, dict):
        info["width"] = _int_or_none(sc.get("width"))
        info["height"] = _int_or_none(sc.get("height"))
    return info


def _plain(v, depth: int = 0):
    """OTIO AnyDictionary/AnyVector -> dict/list (so they can be walked safely)."""
    if depth > 20:
        return None
    if isinstance(v, (dict, otio._otio.AnyDictionary)):
        return {k: _plain(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple, otio._otio.AnyVector)):
        return [_plain(x, depth + 1) for x in v]
    return v


def _dig(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _int_or_none(v) -> int | None:
    try:
        i = int(str(v).strip())
    except (TypeError, ValueError):
        return None
    return i if i > 0 else None


_SIZE_KEYS = (
    ("width", "height"),
    ("timelineResolutionWidth", "timelineResolutionHeight"),
    ("openpype.timeline.width", "openpype.timeline.height"),
    ("ayon.timeline.width", "ayon.timeline.height"),
    ("Width", "Height"),
)


def _metadata_size(timeline: otio.schema.Timeline) -> tuple[int | None, int | None]:
    """Frame size from timeline metadata, where an exporter left it."""
    md = _plain(timeline.metadata)
    stack = [(md, 0)]
    while stack:
        d, depth = stack.pop(0)
        if not isinstance(d, dict):
            continue
        for wk, hk in _SIZE_KEYS:
            w, h = _int_or_none(d.get(wk)), _int_or_none(d.get(hk))
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


# =========================================================================== writing


def write_timeline_atomic(timeline: otio.schema.Timeline, path: str | os.PathLike, *,
                          adapter_name: str | None = None, **kw: Any) -> Path:
    """Write ``timeline`` with an OTIO adapter, replacing ``path`` only on success.

    The adapter writes to a temporary file beside ``path`` (same suffix, so
    the adapter is chosen by suffix when ``adapter_name`` is None), which is
    then moved over ``path`` with :func:`os.replace`.  On any failure the
    temporary file is removed and :class:`TimelineError` is raised; ``path``
    is left as it was.
    """
    target = Path(path)
    shown = str(path)
    folder = target.parent
    if not folder.is_dir():
        raise TimelineError(f"{shown}: the folder {folder} does not exist",
                            hint="create it first or choose another output path")
    if target.is_dir():
        raise TimelineError(f"{shown}: is a folder", hint="give a file name for the output")
    suffix = "".join(target.suffixes[-1:])
    tmp = folder / f".{target.stem}.{uuid.uuid4().hex[:12]}.tmp{suffix}"
    if adapter_name is not None:
        adapter_name = FORMAT_ADAPTERS.get(adapter_name, adapter_name)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter_name, **kw)
        if not tmp.exists():
            raise RuntimeError("the adapter wrote nothing")
        os.replace(tmp, target)
    except BaseException as exc:
        _remove(tmp)
        if not isinstance(exc, Exception):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TimelineError(f"{shown}: could not be written ({type(exc).__name__}: {msg})",
                            hint="nothing was changed; check the format can hold this timeline "
                                 "and that the folder is writable") from None
    return target


def _remove(tmp: Path) -> None:
    try:
        if tmp.is_dir():
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists() or tmp.is_symlink():
            tmp.unlink()
    except OSError:
        pass
