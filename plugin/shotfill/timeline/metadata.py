"""Values out of what adapters leave behind, read without trusting their shape.

Adapter metadata arrives as OTIO ``AnyDictionary``/``AnyVector`` in whatever
shape the exporter chose, and XML attributes are strings that may be empty or
not numbers.  These turn them into plain Python, or None, so that a malformed
value is ignored rather than failing the read.
"""

from __future__ import annotations

import opentimelineio as otio


def to_plain(v, depth: int = 0):
    """OTIO AnyDictionary/AnyVector -> dict/list (so they can be walked safely)."""
    if depth > 20:
        return None
    if isinstance(v, (dict, otio._otio.AnyDictionary)):
        return {k: to_plain(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple, otio._otio.AnyVector)):
        return [to_plain(x, depth + 1) for x in v]
    return v


def dig(d, *keys):
    """``d[k1][k2]...``, or None where a level is missing or not a dict."""
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def int_or_none(v) -> int | None:
    """``v`` as a positive int, or None (empty, not a number, zero or negative)."""
    try:
        i = int(str(v).strip())
    except (TypeError, ValueError):
        return None
    return i if i > 0 else None
