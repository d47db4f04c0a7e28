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
