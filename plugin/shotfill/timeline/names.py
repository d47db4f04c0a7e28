"""Names and paths made safe for the text formats ShotFill writes, and for the media files it names.

Timeline and file names are the editor's, and may hold anything a file system
allows: a newline in a file name, written into an EDL comment, would start a
new line there that the editing system reads as an event or a comment of its
own; XML 1.0 cannot carry most C0 characters at all, not even as character
references.  So every character that breaks a line, or that XML cannot hold,
becomes ``_`` before a name reaches those files.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

import opentimelineio as otio

#: C0 and C1 controls, DEL, the Unicode line and paragraph separators, lone surrogates
#: (an undecodable byte in a file name) and the two non-characters XML 1.0 excludes
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
#: what a media file's stem may not start with: a hidden file, or an option to a command
_LEADING = re.compile(r"^[.\-]+")
#: a stem short enough that stem + placeholder id + hash + suffix stays under 255 bytes
_STEM_BYTES = 120


def line_safe(text: str) -> str:
    """``text`` with every control character, line separator and surrogate replaced by ``_``."""
    return _UNSAFE.sub("_", text)


def media_stem(stem: str) -> str:
    """A timeline's stem as the start of a generated media file name: one line, visible, not too long."""
    s = line_safe(unicodedata.normalize("NFC", stem)).replace("/", "_").replace("\\", "_")
    s = _LEADING.sub(lambda m: "_" * len(m.group(0)), s)
    data = s.encode("utf-8")
    if len(data) > _STEM_BYTES:
        digest = hashlib.sha256(data).hexdigest()[:6]
        s = data[:_STEM_BYTES - 7].decode("utf-8", "ignore") + "-" + digest
    return s or "timeline"


def url_safe(url: str) -> str:
    """``url`` with every character :func:`line_safe` would replace percent-encoded (undone by a reader's
    unquote), so a path stays the same path and still holds no line break."""
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8", "surrogateescape")),
                       url)


def _safe_value(v: Any, depth: int = 0) -> Any:
    if isinstance(v, str):
        return line_safe(v)
    if depth > 20:
        return v
    if isinstance(v, (dict, otio._otio.AnyDictionary)):
        for k in list(v.keys()):
            v[k] = _safe_value(v[k], depth + 1)
    elif isinstance(v, (list, otio._otio.AnyVector)):
        for i in range(len(v)):
            v[i] = _safe_value(v[i], depth + 1)
    return v


def make_text_safe(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """Make every name, marker, metadata string and media URL of ``timeline`` (in place) fit to be
    written by OTIO's EDL and XML writers, which copy them into the file as they are."""
    objs: list[Any] = [timeline, timeline.tracks, *timeline.tracks.find_children()]
    for obj in objs:
        obj.name = line_safe(obj.name or "")
        _safe_value(obj.metadata)
        for m in getattr(obj, "markers", []):
            m.name = line_safe(m.name or "")
            if hasattr(m, "comment"):
                m.comment = line_safe(m.comment or "")
            _safe_value(m.metadata)
        for fx in getattr(obj, "effects", []):
            fx.name = line_safe(fx.name or "")
            fx.effect_name = line_safe(fx.effect_name or "")
            _safe_value(fx.metadata)
        refs = list(obj.media_references().values()) if hasattr(obj, "media_references") else []
        for ref in refs:
            ref.name = line_safe(ref.name or "")
            _safe_value(ref.metadata)
            for attr in ("target_url", "target_url_base"):
                if getattr(ref, attr, None):
                    setattr(ref, attr, url_safe(getattr(ref, attr)))
            if getattr(ref, "name_prefix", None):
                ref.name_prefix = line_safe(ref.name_prefix)
            if getattr(ref, "name_suffix", None):
                ref.name_suffix = line_safe(ref.name_suffix)
    return timeline
