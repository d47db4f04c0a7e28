"""The resolve_marker_edl OTIO adapter, its registration, and `--markers`."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from importlib.metadata import entry_points
from pathlib import Path

import opentimelineio as otio
import pytest

from conftest import CORPUS
from shotfill.cli.app import main
from shotfill_otio import resolve_marker_edl as rme

CORPUS_EDL = CORPUS / "davincitimestamp" / "Timeline.edl"
BIN = Path(sys.executable).parent
needs_corpus = pytest.mark.skipif(not CORPUS_EDL.is_file(), reason="corpus not present")

SAMPLE = (
    "TITLE: Timeline 1\n"
    "FCM: NON-DROP FRAME\n\n"
    "001  001      V     C        01:00:02:03 01:00:02:04 01:00:02:03 01:00:02:04\n"
    "GEN: a red fox in snow | seed=5 |C:ResolveColorPurple |M:Marker 1 |D:48\n\n"
    "002  001      V     C        01:00:10:00 01:00:10:01 01:00:10:00 01:00:10:01\n"
    "12 monkeys, then a | pipe |C:ResolveColorSand |M: |D:1\n\n"
    "003  001      V     C        01:00:11:00 01:00:11:01 01:00:11:00 01:00:11:01\n"
    " |C:ResolveColorFuchsia |M:no note |D:3\n"
)


@pytest.mark.slow
@needs_corpus
def test_reads_the_corpus_export_in_place():
    assert rme.looks_like_marker_edl(CORPUS_EDL.read_text())
    tl = otio.adapters.read_from_file(str(CORPUS_EDL), adapter_name="resolve_marker_edl", rate=24)
    ms = list(tl.tracks.markers)
    assert [m.name for m in ms] == ["Test Chapter 1", "Test Chapter 2", "Hello", "Test Chapter 4", "Blablabla",
                                    "Test 12345 Test"]
    assert {m.color for m in ms} == {"BLUE"} and {m.metadata["resolve_marker_edl"]["color"] for m in ms} == \
        {"ResolveColorBlue"}
    assert tl.global_start_time.value == 0 and tl.name == "Timeline"
    assert ms[2].marked_range == otio.opentime.TimeRange(otio.opentime.RationalTime(145 * 24 + 17, 24),
                                                         otio.opentime.RationalTime(1, 24))
    assert all(m.comment == "" for m in ms)


def test_reads_name_note_colour_duration_and_range():
    tl = rme.read_from_string(SAMPLE, rate="24000/1001")
    a, b, c = tl.tracks.markers
    assert tl.global_start_time == otio.opentime.RationalTime(86400, 24000 / 1001)
    assert (a.name, a.comment, a.color) == ("Marker 1", "GEN: a red fox in snow | seed=5", "PURPLE")
    assert a.marked_range.start_time.value == 2 * 24 + 3 and a.marked_range.duration.value == 48
    assert (b.name, b.comment, b.color) == ("", "12 monkeys, then a | pipe", "ORANGE")
    assert b.metadata["resolve_marker_edl"]["color"] == "ResolveColorSand"
    assert (c.comment, c.color, c.marked_range.duration.value) == ("", "MAGENTA", 3)


def test_drop_frame_and_start_timecode():
    text = ("TITLE: DF\nFCM: DROP FRAME\n\n"
            "001  001      V     C        01:01:00;02 01:01:00;03 01:01:00;02 01:01:00;03\n"
            "GEN: surf |C:ResolveColorGreen |M:m |D:10\n")
    tl = rme.read_from_string(text, rate=29.97)
    (m,) = tl.tracks.markers
    assert tl.global_start_time.value == 107892 and m.marked_range.start_time.value == 1800
    out = rme.write_to_string(tl)
    assert "FCM: DROP FRAME" in out and "01:01:00;02 01:01:00;03 01:01:00;02 01:01:00;03" in out
    tl2 = rme.read_from_string(text, rate=29.97, start_timecode="00:59:00;00")
    assert tl2.tracks.markers[0].marked_range.start_time.value == 3600   # two minutes of DF


def test_round_trip_write_read():
    tl = rme.read_from_string(SAMPLE, rate=24)
    text = rme.write_to_string(tl)
    assert text.splitlines()[:2] == ["TITLE: Timeline 1", "FCM: NON-DROP FRAME"]
    assert "GEN: a red fox in snow | seed=5 |C:ResolveColorPurple |M:Marker 1 |D:48" in text
    back = rme.read_from_string(text, rate=24)
    key = lambda t: [(m.name, m.comment, m.color, m.marked_range, m.metadata["resolve_marker_edl"]["color"])  # noqa
                     for m in t.tracks.markers]
    assert key(back) == key(tl) and back.global_start_time == tl.global_start_time


def test_writes_markers_from_anywhere_in_a_timeline():
    """Clip and track markers are written at their timeline time; colours map to Resolve's."""
    r = 25
    tl = otio.schema.Timeline(name="t", global_start_time=otio.opentime.RationalTime(90000, r))
    track = otio.schema.Track()
    c = otio.schema.Clip(source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(100, r),
                                                              otio.opentime.RationalTime(50, r)))
    c.markers.append(otio.schema.Marker(name="on clip", color="CYAN", comment="note", marked_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(110, r), otio.opentime.RationalTime(5, r))))
    track.extend([otio.schema.Gap(duration=otio.opentime.RationalTime(25, r)), c])
    tl.tracks.append(track)
    text = rme.write_to_string(tl)
    assert "01:00:01:10 01:00:01:11 01:00:01:10 01:00:01:11" in text
    assert "note |C:ResolveColorCyan |M:on clip |D:5" in text


def test_errors_are_otio_errors():
    with pytest.raises(otio.exceptions.OTIOError, match="neither an EDL header"):
        rme.read_from_string("hello\n")
    with pytest.raises(rme.ResolveMarkerEDLError, match="no marker line"):
        rme.read_from_string("001  001 V C 01:00:00:00 01:00:00:01 01:00:00:00 01:00:00:01\n* just a comment\n")
    with pytest.raises(rme.ResolveMarkerEDLError, match="not a frame rate"):
        rme.read_from_string(SAMPLE, rate="fast")
    assert not rme.looks_like_marker_edl("001  A V C 00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n")
    assert rme.looks_like_marker_edl(SAMPLE)


# --------------------------------------------------------------------------- OTIO's own tools


@pytest.fixture(scope="module")
def registered():
    names = [ep.name for ep in entry_points(group="opentimelineio.plugins")]
    if "shotfill_otio" not in names:
        pytest.fail("the shotfill_otio entry point is not installed: run `pip install -e .` "
                    "(make test does) so OTIO's console tools can find the plugin")
    return True


def _tool(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OTIO_PLUGIN_MANIFEST_PATH"}
    proc = subprocess.run([str(BIN / name), *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
def test_otiopluginfo_lists_the_adapter(registered):
    out = _tool("otiopluginfo", "resolve_marker_edl", "-p", "adapters").stdout
    assert "resolve_marker_edl" in out and "shotfill_otio/plugin_manifest.json" in out
    assert "read_from_string args: ['input_str', 'rate', 'start_timecode']" in out
    assert "redl" in otio.adapters.suffixes_with_defined_adapters(read=True)
    assert "edl" in otio.adapters.suffixes_with_defined_adapters(read=True)
    assert list(otio.adapters.from_name("resolve_marker_edl").suffixes) == ["redl"]


@pytest.mark.slow
@needs_corpus
def test_otioconvert_reads_a_resolve_marker_edl_through_the_plugin(registered, tmp_path):
    redl = tmp_path / "markers.redl"
    redl.write_bytes(CORPUS_EDL.read_bytes())
    out = tmp_path / "markers.otio"
    _tool("otioconvert", "-i", str(redl), "-o", str(out), "-a", "rate=24")
    tl = otio.adapters.read_from_file(str(out))
    assert len(tl.tracks.markers) == 6 and tl.tracks.markers[1].name == "Test Chapter 2"
    # a .edl export read in place by naming the adapter, at an exact NTSC rate written as a fraction
    out2 = tmp_path / "ntsc.otio"
    _tool("otioconvert", "-i", str(CORPUS_EDL), "-I", "resolve_marker_edl", "-o", str(out2), "-a", "rate=24000/1001")
    tl2 = otio.adapters.read_from_file(str(out2))
    assert Fraction(tl2.tracks.markers[0].marked_range.start_time.rate).limit_denominator(1001) == \
        Fraction(24000, 1001)
    # and back out
    back = tmp_path / "back.redl"
    _tool("otioconvert", "-i", str(out), "-o", str(back))
    assert back.read_text().count("|C:ResolveColorBlue") == 6


@pytest.mark.slow
@needs_corpus
def test_otiotool_lists_the_markers(registered, tmp_path):
    redl = tmp_path / "markers.redl"
    redl.write_bytes(CORPUS_EDL.read_bytes())
    out = _tool("otiotool", "-i", str(redl), "--list-markers").stdout
    assert out.count("MARKER:") == 6 and "Test 12345 Test" in out


# --------------------------------------------------------------------------- --markers


@pytest.mark.slow
def test_fill_edl_with_markers_from_a_resolve_marker_edl(tmp_path):
    from mediautil import make_test_clip

    for name in ("a.mov", "b.mov"):
        make_test_clip(tmp_path / name, rate="25", frames=30)
    cut = tmp_path / "cut.edl"
    cut.write_text("TITLE: cut\nFCM: NON-DROP FRAME\n\n"
                   "001  A        V     C        00:00:00:00 00:00:01:00 10:00:00:00 10:00:01:00\n"
                   "* FROM CLIP NAME: a.mov\n"
                   "002  B        V     C        00:00:00:00 00:00:01:00 10:00:01:10 10:00:02:10\n"
                   "* FROM CLIP NAME: b.mov\n")
    marks = tmp_path / "cut_markers.edl"
    marks.write_text("TITLE: cut\nFCM: NON-DROP FRAME\n\n"
                     "001  001      V     C        10:00:01:00 10:00:01:01 10:00:01:00 10:00:01:01  \n"
                     "GEN: rain on a window |C:ResolveColorBlue |M:Marker 1 |D:10\n\n"
                     "002  001      V     C        12:00:00:00 12:00:00:01 12:00:00:00 12:00:00:01  \n"
                     " |C:ResolveColorRed |M:way after |D:1\n")
    out = tmp_path / "filled.edl"
    before = cut.read_bytes()
    assert main(["fill", str(cut), "--rate", "25", "--markers", str(marks), "-o", str(out), "-q"]) == 0
    assert cut.read_bytes() == before
    text = out.read_text()
    assert "10:00:01:00 10:00:01:10" in text and "SOURCE FILE" in text
    assert main(["scan", str(cut), "--rate", "25", "--markers", str(tmp_path / "nope.edl")]) == 2
