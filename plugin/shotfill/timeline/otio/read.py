"""Reading OpenTimelineIO JSON, including files written by a newer OTIO.

A newer OTIO writes schema versions this one refuses (``Marker.3``), and an
editor cannot always choose the version it exports.  The ones ShotFill knows
how to downgrade are rewritten (``Marker.3`` -> ``Marker.2``, its colour by
name) and the file is read again, with a warning; anything else too new is
refused, naming the schemas and how to export for an older OTIO.
"""

from __future__ import annotations

import codecs
import io
import json
from pathlib import Path
from typing import cast

import opentimelineio as otio

from shotfill.errors import TimelineError
from shotfill.system.bounded import MAX_TIMELINE_BYTES, open_regular, read_bytes, read_head
from shotfill.timeline.adapters import adapter_error, call_adapter, read_file, read_string
from shotfill.timeline.formats import EXPORT_HINT
from shotfill_otio.colours import colour_name

#: Schemas written by newer OTIO versions that this one can read after a downgrade.
_DOWNGRADES = {"Marker": 3}


def read_otio_json(p: Path, shown: str, warnings: list[str]):
    """The OTIO object in ``p`` (any schema: the caller makes a Timeline of it)."""
    _check_utf8(p, shown)
    if read_head(p, 3, shown=shown) != codecs.BOM_UTF8:   # OTIO's file reader takes no BOM
        # OTIO's own reader takes the file from disk: no second and third copy of a
        # 100 MB timeline (its bytes and its text) beside the objects built from it.
        try:
            return read_file(p, "otio_json")
        except Exception:  # noqa: BLE001 - read again below, where each failure gets its message
            pass
    text = _utf8_text(p, shown)
    try:
        return read_string(text, "otio_json")
    except Exception as exc:  # noqa: BLE001
        if "unsupported schema version" not in str(exc).lower() and \
                type(exc).__name__ != "UnsupportedSchemaError":
            raise adapter_error(shown, "otio_json", exc) from None
        first = exc
    # Written by a newer OTIO: see which schemas are too new, downgrade the known ones.
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise adapter_error(shown, "otio_json", first) from None
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
    return call_adapter(shown, "otio_json", "otio_json", lambda: read_string(json.dumps(doc), "otio_json"))


#: the ASCII check reads this much at a time, into one buffer: no copy of a 100 MB file in memory
_CHUNK = 1024 * 1024


def _check_utf8(p: Path, shown: str) -> None:
    """Refuse a file that is not UTF-8 (OTIO's reader would take its bytes as they are).

    Nearly every .otio is ASCII (its writer escapes the rest): then there is nothing to
    decode, and the file is only read through one small buffer (on a 100 MB timeline,
    half the time of reading it whole and none of the memory).  Anything else (a byte past
    ASCII, a file grown past the cap) is read whole and decoded, as it always was.
    """
    buf = bytearray(_CHUNK)
    total = 0
    with open_regular(p, shown=shown) as fh:
        reader = cast(io.BufferedReader, fh)     # what open() in binary gives; BinaryIO has no readinto
        while total <= MAX_TIMELINE_BYTES:
            n = reader.readinto(buf)
            if not n:
                return
            total += n
            # past n, a short last read leaves the earlier chunk's bytes: ASCII, or we had stopped
            if not buf.isascii():
                break
    _decode(read_bytes(p, shown=shown), shown)


def _decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TimelineError(f"{shown}: is not UTF-8 text, so it is not valid OpenTimelineIO JSON",
                            hint=EXPORT_HINT) from None


def _utf8_text(p: Path, shown: str) -> str:
    return _decode(read_bytes(p, shown=shown), shown)


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
                    x["color"] = colour_name(col) or "RED"   # an unnamed colour: the nearest named one
                count += 1
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return count
