"""XML timeline bytes to text, decoded the one way the reader and the splice writers share.

Exported XML is not always what it declares (Windows-1252 text that says it is
UTF-8, UTF-16 with a BOM).  The splice writers edit the editor's own document
and must start from exactly the text the reader parsed, so both decode it
with :func:`decode_xml`.
"""

from __future__ import annotations

import re
from pathlib import Path

from shotfill.system.bounded import read_bytes


def decode_xml(p: Path, shown: str, warnings: list[str]) -> str:
    """The text of ``p``: by its BOM, else its declared encoding, else UTF-8, else
    Windows-1252 (with a warning naming ``shown``)."""
    data = read_bytes(p, shown=shown)
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
