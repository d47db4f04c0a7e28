"""Marker colours as strings (OTIO 0.18) or Color objects (OTIO 0.19, schema Marker.3), read and written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from shotfill.scan.placeholders import scan_timeline
from shotfill_otio import colours
from shotfill_otio.colours import colour_name, marker_colour
from shotfill.timeline.read import read_timeline
from shotfill_otio import resolve_marker_edl
from timelines import info


@dataclass
class FakeColor:
    """Something shaped like ``otio.core.Color`` without being one (as a newer OTIO's might be)."""

    name: str
    r: float
    g: float
    b: float
    a: float = 1.0


def _marker3_doc(color: dict) -> str:
    rt = lambda f: otio.opentime.RationalTime(f, 24)          # noqa: E731
    tl = otio.schema.Timeline(name="m3")
    track = otio.schema.Track(name="V1", kind="Video")
    track.append(otio.schema.Clip(name="a", source_range=otio.opentime.TimeRange(rt(0), rt(24)),
                                  media_reference=otio.schema.ExternalReference(target_url="/m/a.mov")))
    gap = otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(12)))
    gap.markers.append(otio.schema.Marker(name="GEN: a heron", marked_range=otio.opentime.TimeRange(rt(0), rt(1))))
    track.append(gap)
    tl.tracks.append(track)
    doc = json.loads(otio.adapters.write_to_string(tl, "otio_json"))
    marker = doc["tracks"]["children"][0]["children"][1]["markers"][0]
    marker["OTIO_SCHEMA"] = "Marker.3"          # as OTIO's main branch writes it
    marker["color"] = {"OTIO_SCHEMA": "Color.1", **color}
    return json.dumps(doc)


@pytest.mark.parametrize("color, want", [
    ({"name": "Cyan", "r": 0.0, "g": 1.0, "b": 1.0, "a": 1.0}, "CYAN"),     # a preset, named as 0.19 names it
    ({"name": "", "r": 0.05, "g": 0.9, "b": 0.1, "a": 1.0}, "GREEN"),     # unnamed: the nearest named colour
], ids=["named", "unnamed"])
def test_a_marker3_document_is_read_with_its_colour_and_its_placeholder(tmp_path: Path, color, want):
    p = tmp_path / "m3.otio"
    p.write_text(_marker3_doc(color), encoding="utf-8")
    r = read_timeline(p)
    [m] = [m for item in r.timeline.find_children() for m in getattr(item, "markers", [])]
    assert colour_name(m.color) == want
    assert any("Marker.3" in w for w in r.warnings)
    scan = scan_timeline(r.timeline, info(Fraction(24), path=str(p)))
    assert [ph.prompt for ph in scan.placeholders] == ["a heron"]


def test_colour_name_takes_strings_colors_fakes_and_dicts():
    assert colour_name("green") == "GREEN" and colour_name(None) == "" and colour_name("") == ""
    assert colour_name(otio.core.Color.PINK) == "PINK"            # OTIO's own Color, named "Pink"
    assert colour_name(otio.core.Color(0.1, 0.1, 0.95, 1.0)) == "BLUE"
    assert colour_name(FakeColor("", 1.0, 0.6, 0.05)) == "ORANGE"
    assert colour_name(FakeColor("Purple", 0, 0, 0)) == "PURPLE"   # the name wins over the RGB
    assert colour_name({"r": 1, "g": 1, "b": 1}) == "WHITE"


def test_marker_colour_is_what_this_otio_takes(monkeypatch):
    # OTIO 0.18: a string, and a Marker takes it
    assert marker_colour("cyan") == "CYAN"
    assert otio.schema.Marker(color=marker_colour("cyan")).color == "CYAN"
    # OTIO 0.19: a Color object, with the name and the preset's RGB
    monkeypatch.setattr(colours, "_markers_take_color_objects", lambda: True)
    c = marker_colour("cyan")
    assert isinstance(c, otio.core.Color) and colour_name(c) == "CYAN"
    assert [round(x, 3) for x in c.to_rgba_float_list()] == [0.0, 1.0, 1.0, 1.0]


def test_resolve_marker_edl_writes_a_colour_object_by_its_name(monkeypatch):
    tl = otio.schema.Timeline(name="t", global_start_time=otio.opentime.RationalTime(86400, 24))
    tl.tracks.append(otio.schema.Track(name="V1"))
    tl.tracks.markers.append(otio.schema.Marker(name="GEN: x", color="GREEN", marked_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(1, 24))))
    assert "ResolveColorGreen" in resolve_marker_edl.write_to_string(tl, rate=24)
    # a newer OTIO hands the writer a Color object: it is read by name, never written as "Color(...)"
    real = resolve_marker_edl._timeline_markers

    def with_colour_objects(timeline, rate):
        for at, m in real(timeline, rate):
            yield at, FakeMarker(m.name, m.comment, m.marked_range, m.metadata, FakeColor("", 0.9, 0.1, 0.1))

    monkeypatch.setattr(resolve_marker_edl, "_timeline_markers", with_colour_objects)
    text = resolve_marker_edl.write_to_string(tl, rate=24)
    assert "ResolveColorRed" in text and "Color(" not in text and "FakeColor" not in text


@dataclass
class FakeMarker:
    name: str
    comment: str
    marked_range: otio.opentime.TimeRange
    metadata: dict
    color: FakeColor
