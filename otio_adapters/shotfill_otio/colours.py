"""Marker colours, whichever way the installed OpenTimelineIO spells them.

Up to 0.18 ``Marker.color`` is a string (a ``MarkerColor`` name such as ``"RED"``); from 0.19
(schema ``Marker.3``) it is an ``otio.core.Color`` with a name and RGBA.  ShotFill and this plugin read a colour
by its name either way (:func:`colour_name`), and builds the value a Marker of this OTIO takes
(:func:`marker_colour`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import opentimelineio as otio

#: OTIO's MarkerColor names and the RGB an unnamed colour is matched against (the usual web colours).
NAMED_RGB: dict[str, tuple[float, float, float]] = {
    "PINK": (1.0, 0.753, 0.796), "RED": (1.0, 0.0, 0.0), "ORANGE": (1.0, 0.647, 0.0),
    "YELLOW": (1.0, 1.0, 0.0), "GREEN": (0.0, 1.0, 0.0), "CYAN": (0.0, 1.0, 1.0),
    "BLUE": (0.0, 0.0, 1.0), "PURPLE": (0.5, 0.0, 0.5), "MAGENTA": (1.0, 0.0, 1.0),
    "BLACK": (0.0, 0.0, 0.0), "WHITE": (1.0, 1.0, 1.0),
}


def _nearest(rgb: tuple[float, float, float]) -> str:
    return min(NAMED_RGB, key=lambda n: sum((a - b) ** 2 for a, b in zip(NAMED_RGB[n], rgb)))


def colour_name(value: Any) -> str:
    """The MarkerColor name of a colour: a string, an ``otio.core.Color`` (or anything with
    ``name``/``r``/``g``/``b``), or its JSON dict; an unnamed colour by its nearest named one.
    ``""`` for none."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip().upper()
    get = value.get if isinstance(value, dict) else (lambda k, d=None: getattr(value, k, d))
    name = str(get("name", "") or "").strip().upper()
    if name in NAMED_RGB:
        return name
    try:
        rgb = (float(get("r")), float(get("g")), float(get("b")))   # type: ignore[arg-type]  # None -> TypeError below
    except (TypeError, ValueError):
        return name
    return _nearest(rgb)


@lru_cache(maxsize=1)
def _markers_take_color_objects() -> bool:
    return not isinstance(otio.schema.Marker().color, str)


def marker_colour(name: str) -> Any:
    """The value ``otio.schema.Marker(color=...)`` takes on this OTIO for the MarkerColor ``name``."""
    name = colour_name(name) or "RED"
    if not _markers_take_color_objects():
        return name
    preset = getattr(otio.core.Color, name, None)
    if preset is not None:
        return preset
    r, g, b = NAMED_RGB.get(name, NAMED_RGB["RED"])
    return otio.core.Color(r, g, b, 1.0, name)
