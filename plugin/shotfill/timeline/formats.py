"""Which timeline format a file is: by its content first, then by its suffix.

Editors save timelines under the wrong suffix all the time (an EDL as
``.txt``, OTIO JSON as ``.json``, FCPXML as ``.xml``), so the first bytes are
trusted over the name, and the suffix decides only when the content says
nothing clear.  Files that are recognisably something else (a Resolve project,
a zip, JSON that is not OTIO, an ASC CDL) are refused with a hint on what to
export instead, rather than handed to an adapter that would fail obscurely.

The tables here (ShotFill's format names, the OTIO adapter for each, how to
name each in a message) are shared by the readers and the writer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from shotfill.system.bounded import read_head
from shotfill.errors import TimelineError

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

EXPORT_HINT = (
    "export the timeline from your editor as OpenTimelineIO (.otio), FCP 7 XML (.xml), "
    "FCPXML (.fcpxml), AAF or a CMX 3600 EDL (.edl)"
)

_TC_LIKE = r"\d{1,2}[:;.,]\d{1,2}[:;.,]\d{1,2}[:;.,]\d{1,3}"
_EDL_EVENT_RE = re.compile(
    rf"^\s*\d+\s+\S+\s+\S+\s+\S+(?:\s+\d+(?:\.\d+)?)?\s+{_TC_LIKE}\s+{_TC_LIKE}\s+{_TC_LIKE}\s+{_TC_LIKE}\s*$"
)
_XML_ROOT_RE = re.compile(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def detect_format(path: str | os.PathLike[str]) -> str:
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
        raise TimelineError(f"{shown}: is a folder, not a timeline file", hint=EXPORT_HINT)
    # A FIFO would block here and a device never end: regular files only.
    head = read_head(p, 64 * 1024, shown=shown)
    sniffed = _sniff(head)
    if sniffed is not None:
        if sniffed.startswith("!"):
            raise TimelineError(f"{shown}: is {sniffed[1:]}, not a timeline", hint=EXPORT_HINT)
        return sniffed
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if suffix in _UNSUPPORTED_SUFFIXES:
        raise TimelineError(
            f"{shown}: is {_UNSUPPORTED_SUFFIXES[suffix]}, which ShotFill cannot read",
            hint=EXPORT_HINT)
    if not head.strip():
        raise TimelineError(f"{shown}: is empty", hint=EXPORT_HINT)
    raise TimelineError(f"{shown}: is not a timeline format ShotFill can read", hint=EXPORT_HINT)


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
