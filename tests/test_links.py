"""Links other tools follow, and outputs that cannot hold the result refused before anything is spent.

A filled EDL is converted with OpenTimelineIO's own ``otioconvert`` (a separate process): the
generated event must come out linked to the generated file, which ffprobe finds at the event's
length. Outputs OTIO's writers cannot hold are refused by ``fill`` and by ``fill --dry-run``
alike, with exit 2 and nothing created.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from mediautil import decoded_frames, make_test_clip
from shotfill.cli.app import main
from timelines import clip, gap, marker, slug

pytestmark = pytest.mark.slow          # ffmpeg, otioconvert

R24 = Fraction(24000, 1001)
OTIOCONVERT = Path(sys.executable).with_name("otioconvert")

EDL = """TITLE: links
FCM: NON-DROP FRAME

001  SHOTA    V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00
* FROM CLIP NAME: a.mov
* FROM CLIP: {a}

002  BL       V     C        00:00:00:00 00:00:00:12 01:00:01:00 01:00:01:12
* FROM CLIP NAME: GEN: a gull over the pier

003  SHOTA    V     C        00:00:01:00 00:00:02:00 01:00:01:12 01:00:02:12
* FROM CLIP NAME: a.mov
* FROM CLIP: {a}
"""


def test_otioconvert_of_a_filled_edl_keeps_the_link_to_the_generated_file(tmp_path: Path):
    a = make_test_clip(tmp_path / "a.mov", rate="25", frames=60)
    src = tmp_path / "cut.edl"
    src.write_text(EDL.format(a=a), encoding="utf-8")
    out = tmp_path / "out" / "filled.edl"
    assert main(["fill", str(src), "--rate", "25", "-o", str(out), "-q", "--no-report"]) == 0
    converted = tmp_path / "converted.otio"
    done = subprocess.run([str(OTIOCONVERT), "-i", str(out), "-o", str(converted), "-a", "rate=25"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tl = otio.adapters.read_from_file(str(converted))
    clips = list(tl.find_clips())
    assert [c.range_in_parent().duration.to_frames() for c in clips] == [25, 12, 25]
    gen = clips[1]
    assert isinstance(gen.media_reference, otio.schema.ExternalReference), gen.media_reference
    path = Path(gen.media_reference.target_url)
    assert path.is_file() and path.parent == out.parent / "filled_media"
    assert decoded_frames(path) == 12
    # the editor's own events keep theirs
    assert [Path(c.media_reference.target_url) for c in (clips[0], clips[2])] == [a, a]


@pytest.fixture
def two_tracks(tmp_path: Path) -> Path:
    """V1: a | gap with a GEN marker | a ; V2: gap | slug named GEN: (two video tracks)."""
    a = make_test_clip(tmp_path / "a.mov", rate="24000/1001", frames=40)
    tl = otio.schema.Timeline(name="two", global_start_time=otio.opentime.RationalTime(86400, float(R24)))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 20, R24, url=str(a), avail=(0, 40)))
    v1.append(gap(12, R24, marker("GEN: a fox in snow", 0, 12, R24)))
    v1.append(clip("a", 20, R24, url=str(a), avail=(0, 40)))
    v2 = otio.schema.Track(name="V2", kind="Video")
    v2.append(gap(30, R24))
    v2.append(slug("GEN: lower third", 8, R24))
    tl.tracks.extend([v1, v2])
    path = tmp_path / "two.otio"
    otio.adapters.write_to_file(tl, str(path))
    return path


@pytest.mark.parametrize("dry", [False, True], ids=["fill", "dry-run"])
def test_two_video_tracks_into_an_edl_are_refused_before_anything(two_tracks: Path, tmp_path: Path, capsys, dry):
    out = tmp_path / "edl" / "two.edl"
    args = ["fill", str(two_tracks), "-o", str(out)] + (["--dry-run"] if dry else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "two.edl" in err and "EDL writer" in err and "single video track" in err and ".otio" in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "edl").exists()


# 23.976 FCPXML whose placeholder is a gap inside a secondary storyline: the splice cannot place it,
# and OTIO's FCPXML writer cannot write the rate.
FCPXML_NTSC = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.10">
    <resources>
        <format id="r1" name="FFVideoFormat320x180p2398" frameDuration="1001/24000s" width="320" height="180"/>
        <asset id="r2" name="a" start="0s" duration="48048/24000s" hasVideo="1" format="r1" videoSources="1">
            <media-rep kind="original-media" src="file://{a}"/>
        </asset>
    </resources>
    <library>
        <event name="e">
            <project name="p">
                <sequence format="r1" duration="48048/24000s" tcStart="0s" tcFormat="NDF">
                    <spine>
                        <asset-clip ref="r2" offset="0s" name="a" start="0s" duration="48048/24000s">
                            <spine lane="1" offset="12012/24000s">
                                <asset-clip ref="r2" offset="0s" name="a2" start="0s" duration="12012/24000s"/>
                                <gap name="Gap" offset="12012/24000s" start="3600s" duration="12012/24000s">
                                    <marker start="3600s" duration="1001/24000s" value="GEN: a gull"/>
                                </gap>
                                <asset-clip ref="r2" offset="24024/24000s" name="a3" start="0s" duration="12012/24000s"/>
                            </spine>
                        </asset-clip>
                    </spine>
                </sequence>
            </project>
        </event>
    </library>
</fcpxml>
"""


@pytest.mark.parametrize("dry", [False, True], ids=["fill", "dry-run"])
def test_ntsc_fcpxml_the_splice_cannot_place_is_refused_before_anything(tmp_path: Path, capsys, dry):
    a = make_test_clip(tmp_path / "a.mov", rate="24000/1001", frames=48)
    src = tmp_path / "cut.fcpxml"
    src.write_text(FCPXML_NTSC.format(a=a), encoding="utf-8")
    out = tmp_path / "o" / "filled.fcpxml"
    assert main(["scan", str(src)]) == 0
    assert "a gull" in capsys.readouterr().out
    assert main(["fill", str(src), "-o", str(out)] + (["--dry-run"] if dry else [])) == 2
    err = capsys.readouterr().err
    assert "24000/1001" in err and "secondary storyline" in err and "nothing was generated" in err, err
    assert not (tmp_path / "o").exists()
