"""Names in text formats: a newline or control character in a file, folder, clip or marker name never
reaches an EDL or XML line as it is, and never makes a generated media file's name."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from shotfill.cli.app import main
from shotfill.timeline.edl.splice import EVENT
from shotfill.timeline.names import line_safe, media_stem, url_safe
from timelines import clip, gap, marker

ROOT = Path(__file__).resolve().parents[1]
R24 = Fraction(24)
INJECTED_EVENT = "999  INJECT   V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00"
#: a file or folder name that, written into a text line as it is, adds an event and a comment
EVIL = f"cut\n{INJECTED_EVENT}\n* INJECTED"
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def injected(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.lstrip().startswith(("999", "* INJECTED", "INJECT"))]


def media_names(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file()]


def edl_lines_are_edl(text: str) -> None:
    for ln in text.splitlines():
        assert (not ln.strip() or ln.startswith(("TITLE:", "FCM:", "*")) or EVENT.match(ln)), repr(ln)


@pytest.mark.slow
def test_edl_splice_of_a_file_and_folder_with_newlines_in_their_names(tmp_path):
    src = tmp_path / f"{EVIL}.edl"
    shutil.copy(ROOT / "sample_timelines" / "coast.edl", src)
    out = tmp_path / f"out\n* INJECTED FOLDER" / "filled.edl"
    assert main(["fill", str(src), "-o", str(out), "--rate", "23.976", "--resolution", "320x180", "-q",
                 "--no-report"]) == 0
    text = out.read_text()
    assert injected(text) == []
    edl_lines_are_edl(text)
    # the four events of the cut, a filled BL and a new event for the filled gap after 003
    assert [m["num"] for ln in text.splitlines() if (m := EVENT.match(ln))] == ["001", "002", "003", "005", "004"]
    tl = otio.adapters.read_from_file(str(out), rate=24000 / 1001)
    assert len([c for c in tl.find_clips()]) == 5
    names = media_names(out.parent / "filled_media")
    # the sample's drone shot asks for takes=3: four files for its two holes
    assert len(names) == 4 and not any(CONTROL.search(n) for n in names), names
    sources = [ln for ln in text.splitlines() if ln.startswith("* SOURCE FILE:") and "filled_media" in ln]
    assert len(sources) == 2 and all("out_* INJECTED FOLDER/filled_media/" in ln for ln in sources), sources
    takes = [ln for ln in text.splitlines() if ln.startswith("* SHOTFILL ")]
    assert len(takes) == 3 and all("out_* INJECTED FOLDER/filled_media/" in ln for ln in takes), takes


@pytest.mark.slow
def test_otio_edl_writer_gets_no_newline_from_names_urls_or_markers(tmp_path):
    a = clip(f"shot a\n{INJECTED_EVENT}", 24, R24, url=f"file:///media/x\n{INJECTED_EVENT}/a.mov")
    a.markers.append(marker("note\n* INJECTED MARKER", 2, 1, R24))
    tl = otio.schema.Timeline(name=f"title\n{INJECTED_EVENT}")
    track = otio.schema.Track(name="V1", kind="Video")
    track.extend([a, gap(12, R24, marker("GEN: a hare", 0, 1, R24)), clip("b", 24, R24)])
    tl.tracks.append(track)
    src = tmp_path / f"{EVIL}.otio"
    otio.adapters.write_to_file(tl, str(src))
    out = tmp_path / "filled.edl"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180", "-q", "--no-report"]) == 0
    text = out.read_text()
    assert injected(text) == []
    edl_lines_are_edl(text)
    back = otio.adapters.read_from_file(str(out), rate=24)
    assert [c.duration().to_frames() for c in back.find_clips()] == [24, 12, 24]


def well_formed(path: Path) -> ET.Element:
    return ET.fromstring(path.read_bytes())


@pytest.mark.slow
def test_fcp7_xml_splice_of_a_file_with_a_newline_in_its_name(tmp_path):
    src = tmp_path / f"{EVIL}.xml"
    shutil.copy(ROOT / "sample_timelines" / "coast.xml", src)
    out = tmp_path / "filled.xml"
    assert main(["fill", str(src), "-o", str(out), "-q", "--no-report"]) == 0
    root = well_formed(out)
    assert injected(out.read_text()) == []
    gens = [c for c in root.iter("clipitem") if (c.findtext("name") or "").startswith("GEN ")]
    assert len(gens) == 3
    for c in gens:
        name = c.find("file").findtext("name")
        assert name and not CONTROL.search(name), repr(name)
        path = Path(otio.url_utils.filepath_from_url(c.find("file").findtext("pathurl")))
        assert path.is_file() and path.name == name
    back = otio.adapters.read_from_file(str(out))
    assert len([c for c in back.find_clips() if c.name.startswith("GEN ")]) == 3


@pytest.mark.slow
def test_fcpxml_splice_of_a_file_with_a_newline_in_its_name(tmp_path):
    from test_fcpxml_splice import DOC

    src = tmp_path / f"{EVIL}.fcpxml"
    src.write_text(DOC)
    out = tmp_path / "filled.fcpxml"
    assert main(["fill", str(src), "-o", str(out), "-q", "--no-report"]) == 0
    root = well_formed(out)
    assert injected(out.read_text()) == []
    assets = [a for a in root.iter("asset") if a.get("id") not in ("r2", "r3")]
    assert len(assets) == 2
    for a in assets:
        assert not CONTROL.search(a.get("name")), repr(a.get("name"))
        assert Path(otio.url_utils.filepath_from_url(a.find("media-rep").get("src"))).is_file()
    assert len([c for c in root.iter("asset-clip") if c.get("name", "").startswith("GEN ")]) == 2


@pytest.mark.slow
def test_otio_xml_writer_gets_no_control_characters(tmp_path):
    tl = otio.schema.Timeline(name="seq\x01")
    track = otio.schema.Track(name="V1\x0b", kind="Video")
    track.extend([clip("a\x01\x02", 24, R24, url="file:///media/a\x07.mov", avail=(0, 48)),
                  gap(12, R24, marker("GEN: a hare\x1b[31m", 0, 1, R24)),
                  clip("b\x0c", 24, R24, url="file:///media/b.mov", avail=(0, 48))])
    tl.tracks.append(track)
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(src))
    out = tmp_path / "filled.xml"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180", "-q", "--no-report"]) == 0
    well_formed(out)
    back = otio.adapters.read_from_file(str(out))
    assert [c.name for c in back.find_clips()] == ["a__", "GEN V1_00000100", "b_"]
    assert back.find_clips()[0].media_reference.target_url == "file:///media/a%07.mov"


def test_the_helpers():
    assert line_safe("a\nb\r\x00c\u2028d\x85e\ud8a5") == "a_b__c_d_e_"
    assert url_safe("file:///a b\n/c") == "file:///a b%0A/c"
    assert otio.url_utils.filepath_from_url(url_safe("file:///x\ny/z.mov")) == "/x\ny/z.mov"
    assert media_stem("-rf\n* X") == "_rf_* X"
    assert media_stem(".hidden") == "_hidden"
    long = media_stem("é" * 300)
    assert len(long.encode()) <= 120 and long.startswith("é")
    assert media_stem("") == "timeline"
