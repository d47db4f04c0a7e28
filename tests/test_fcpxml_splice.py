"""FCPXML write-back by editing the document: exact NTSC times, everything else kept.

Each test splices placements into a document and checks (a) that OTIO's reader
(run with exact rates by ShotFill) finds the generated clip at exactly the
placeholder's frames, (b) that every other byte is the editor's, (c) that
markers and connected clips of a replaced element stay at their sequence time.
"""

from __future__ import annotations

import difflib
import re
import hashlib
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from conftest import CORPUS
from mediautil import decoded_frames, video_stream
from shotfill.cli.app import main
from shotfill.errors import TimelineError
from shotfill.timeline.fcpxml.splice import seconds, splice_fcpxml
from shotfill.model import Placeholder, ShotOptions
from shotfill.model import Placement
from shotfill.rates import frames_to_timecode
from shotfill.timeline.read import read_timeline
from shotfill.timeline.xml.document import read_xml_source

R24 = Fraction(24000, 1001)
FD = Fraction(1001, 24000)
START = 86400                      # 01:00:00:00 at 23.976 = 86486400/24000s


def t(frames: int) -> str:
    return f"{frames * 1001}/24000s"


def local(frames: int) -> str:
    """A time in a gap's or generator's own time, which Final Cut starts at 3600s."""
    return f"{3600 * 24000 + frames * 1001}/24000s"


# Spine at 23.976 from 01:00:00:00: a [0,24) | gap [24,36) with a GEN marker and a connected clip |
# generator "GEN: slug" [36,46) with a marker | b [46,70) with a chapter marker.
DOC = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>

<fcpxml version="1.10">
    <resources>
        <format id="r1" name="FFVideoFormat320x180p2398" frameDuration="1001/24000s" width="320" height="180"/>
        <asset id="r2" name="a" start="0s" duration="{t(48)}" hasVideo="1" format="r1" videoSources="1">
            <media-rep kind="original-media" src="file:///media/a.mov"/>
        </asset>
        <asset id="r3" name="b" start="0s" duration="{t(48)}" hasVideo="1" format="r1" videoSources="1">
            <media-rep kind="original-media" src="file:///media/b.mov"/>
        </asset>
        <effect id="r4" name="Custom" uid=".../Generators.localized/Solids.localized/Custom.localized/Custom.motn"/>
    </resources>
    <library>
        <event name="Day 1">
            <project name="Coast &amp; sea">
                <sequence format="r1" duration="{t(70)}" tcStart="{t(START)}" tcFormat="NDF" audioLayout="stereo" audioRate="48k">
                    <spine>
                        <asset-clip ref="r2" offset="{t(START)}" name="a" start="{t(4)}" duration="{t(24)}" tcFormat="NDF">
                            <keyword start="{t(4)}" duration="{t(24)}" value="harbour"/>
                        </asset-clip>
                        <gap name="Gap" offset="{t(START + 24)}" start="3600s" duration="{t(12)}">
                            <note>keep this note</note>
                            <asset-clip ref="r3" lane="1" offset="{local(2)}" name="b over" start="{t(10)}" duration="{t(6)}" tcFormat="NDF"/>
                            <marker start="{local(3)}" duration="{t(1)}" value="GEN: a gull over the pier | seed=4"/>
                        </gap>
                        <video ref="r4" offset="{t(START + 36)}" name="GEN: slug" start="3600s" duration="{t(10)}">
                            <param name="Color" key="1" value="0 0 0"/>
                            <adjust-transform position="10 5"/>
                            <marker start="{local(1)}" duration="{t(1)}" value="GEN: the lighthouse" completed="0"/>
                        </video>
                        <asset-clip ref="r3" offset="{t(START + 46)}" name="b" start="{t(20)}" duration="{t(24)}" tcFormat="NDF">
                            <chapter-marker start="{t(30)}" duration="{t(1)}" value="Chapter 2" posterOffset="11/24s"/>
                        </asset-clip>
                    </spine>
                </sequence>
            </project>
        </event>
    </library>
</fcpxml>
"""


def ph(kind: str, track_index: int, start: int, duration: int, *, rate: Fraction = R24, origin: int = START,
       drop: bool = False, pid: str | None = None, path: tuple[int, ...] = (0, 0)) -> Placeholder:
    tc = frames_to_timecode(origin + start, rate, drop)
    return Placeholder(
        id=pid or f"V{track_index + 1}_{tc.replace(':', '').replace(';', '')}", track=f"V{track_index + 1}",
        track_index=track_index, item_path=path, kind=kind, start=start, duration=duration, rate=rate,
        record_frame=origin + start, timecode=tc, prompt="p", options=ShotOptions(), marker_name="GEN: p",
        marker_on="gap")


def placement(p: Placeholder, media: Path) -> Placement:
    return Placement(p, media, {"provider": "local", "seed": 4, "prompt": "a gull", "request_hash": "e" * 64,
                                "shotfill_version": "0.1.0", "generated_at": "2025-01-01T00:00:00+00:00"})


def write(tmp_path: Path, text: str, name: str = "out.fcpxml") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return p


def layout(path: Path) -> list[list[tuple[str, str, int, int]]]:
    """Every track as (kind, name, start, duration) items, read through ShotFill's exact FCPXML reader."""
    out = []
    tl = read_timeline(path).timeline      # keep a reference: the tracks die with a temporary timeline
    for track in tl.tracks:
        items = []
        for c in track:
            if isinstance(c, otio.schema.Transition):
                continue
            r = track.range_of_child(c)
            items.append((type(c).__name__, c.name, r.start_time.to_frames(), r.duration.to_frames()))
        out.append(items)
    return out


def removed_lines(before: str, after: str) -> list[str]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    out: list[str] = []
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            out += a[i1:i2]
    return out


def lines_of(text: str, first: str, last: str) -> set[str]:
    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if first in line)
    j = next(n for n, line in enumerate(lines[i:], start=i) if last in line)
    return set(lines[i:j + 1])


_ORDER = {"note": 0, "conform-rate": 1, "timeMap": 1, "adjust-transform": 2, "adjust-crop": 2,
          "marker": 4, "chapter-marker": 4, "keyword": 4, "rating": 4, "analysis-marker": 4,
          "audio-channel-source": 5, "filter-video": 6, "filter-video-mask": 6, "filter-audio": 7, "metadata": 8}


def dtd_order_ok(clip: ET.Element) -> bool:
    """Children of an asset-clip in the order its DTD requires (connected clips = group 3)."""
    groups = [3 if c.get("lane") is not None else _ORDER.get(c.tag, 2) for c in clip]
    return groups == sorted(groups)


def seq_time(clip: ET.Element, child_time: str) -> Fraction:
    """Sequence time of a time in a primary-storyline clip's own time."""
    return seconds(clip.get("offset")) + seconds(child_time) - seconds(clip.get("start"))


# --- a small document -------------------------------------------------------------------------

def test_gap_and_generator_become_asset_clips_with_exact_ntsc_times(tmp_path):
    gap_media, slug_media = tmp_path / "gen gap.mov", tmp_path / "gen slug.mov"
    out = splice_fcpxml(DOC, [placement(ph("gap", 0, 24, 12), gap_media), placement(ph("clip", 0, 36, 10), slug_media)],
                        rate=R24, drop_frame=False, source_name="small.fcpxml")
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n\n<fcpxml version="1.10">\n')
    allowed = lines_of(DOC, "<gap ", "</gap>") | lines_of(DOC, "<video ", "</video>")
    assert set(removed_lines(DOC, out)) <= allowed

    root = ET.fromstring(out.encode())
    new_assets = root.findall("./resources/asset")[2:]
    assert [a.get("id") for a in new_assets] == ["r5", "r6"]
    for a, frame, dur, media in zip(new_assets, (START + 24, START + 36), (12, 10), (gap_media, slug_media)):
        assert (a.get("start"), a.get("duration"), a.get("format"), a.get("hasVideo")) == (t(frame), t(dur), "r1", "1")
        assert a.get("src") is None, "FCPXML 1.9+ puts the file in media-rep"
        assert a.find("media-rep").get("src") == "file://" + media.resolve().as_posix().replace(" ", "%20")
    spine = root.find(".//sequence/spine")
    gap_clip, slug_clip = spine[1], spine[2]
    assert [gap_clip.tag] + [gap_clip.get(k) for k in ("ref", "offset", "duration", "start")] == \
        ["asset-clip", "r5", t(START + 24), t(12), t(START + 24)]
    assert gap_clip.find("note").text.startswith("keep this note\nShotFill 0.1.0 placeholder=V1_01000100")
    # the marker and the connected clip stay where they were in the sequence
    old = ET.fromstring(DOC.encode()).find(".//sequence/spine")
    marker, old_marker = gap_clip.find("marker"), old[1].find("marker")
    assert seq_time(gap_clip, marker.get("start")) == seq_time(old[1], old_marker.get("start"))
    conn, old_conn = gap_clip.find("asset-clip"), old[1].find("asset-clip")
    assert seq_time(gap_clip, conn.get("offset")) == seq_time(old[1], old_conn.get("offset"))
    assert (conn.get("lane"), conn.get("name")) == ("1", "b over")
    # the generator's own params go; its transform and marker stay
    assert slug_clip.find("param") is None and slug_clip.find("adjust-transform").get("position") == "10 5"
    assert slug_clip.find("marker").get("value") == "GEN: the lighthouse"
    assert dtd_order_ok(gap_clip) and dtd_order_ok(slug_clip)

    path = write(tmp_path, out)
    read = read_timeline(path)
    assert read.rate == R24 and read.start_frame == START and (read.width, read.height) == (320, 180)
    before, after = layout(write(tmp_path, DOC, "in.fcpxml")), layout(path)
    assert after[0] == [("Clip", "a", 0, 24), ("Clip", "GEN V1_01000100", 24, 12),
                        ("Clip", "GEN V1_01000112", 36, 10), ("Clip", "b", 46, 24)]
    assert after[1:] == before[1:]                       # the connected clip, as the reader sees it
    v1 = read.timeline.tracks[0]
    assert [m.name for m in v1[1].markers] == ["GEN: a gull over the pier | seed=4"]
    assert v1[1].source_range.start_time.to_frames() == START + 24


def test_the_document_without_the_replaced_elements_is_the_original():
    out = splice_fcpxml(DOC, [placement(ph("gap", 0, 24, 12), Path("/m/g.mov"))], rate=R24, drop_frame=False,
                        source_name="small.fcpxml")
    new, old = ET.fromstring(out.encode()), ET.fromstring(DOC.encode())
    res = new.find("resources")
    res.remove(res.findall("asset")[-1])
    for root in (new, old):
        spine = root.find(".//spine")
        spine.remove(spine[1])
    canon = lambda e: ET.canonicalize(ET.tostring(e), strip_text=True)  # noqa: E731
    assert canon(new) == canon(old)


def test_connected_lane_hole_gets_a_connected_clip_before_the_anchors_markers(tmp_path):
    out = splice_fcpxml(DOC, [placement(ph("gap", 1, 50, 8), Path("/m/c.mov"))], rate=R24, drop_frame=False,
                        source_name="small.fcpxml")
    assert removed_lines(DOC, out) == []
    b = ET.fromstring(out.encode()).find(".//sequence/spine")[3]
    conn = b.find("asset-clip")
    assert (conn.get("lane"), conn.get("start"), conn.get("duration")) == ("1", t(START + 50), t(8))
    assert seq_time(b, conn.get("offset")) == (START + 50) * FD
    assert [c.tag for c in b] == ["asset-clip", "chapter-marker"]
    lanes = layout(write(tmp_path, out))
    assert ("Clip", "GEN V2_01000202", 50, 8) in lanes[1]


def test_fcpxml_18_assets_carry_src_and_self_closing_parents_expand():
    doc = DOC.replace('version="1.10"', 'version="1.8"')
    doc = re.sub(r'tcFormat="NDF">\s*<chapter-marker [^>]*/>\s*</asset-clip>', 'tcFormat="NDF"/>', doc)
    assert f'start="{t(20)}" duration="{t(24)}" tcFormat="NDF"/>' in doc
    out = splice_fcpxml(doc, [placement(ph("gap", 1, 50, 8), Path("/m/c d.mov"))], rate=R24, drop_frame=False,
                        source_name="old.fcpxml")
    root = ET.fromstring(out.encode())
    asset = root.findall("./resources/asset")[-1]
    assert asset.get("src") == "file:///m/c%20d.mov" and asset.find("media-rep") is None
    b = root.find(".//sequence/spine")[3]
    assert [c.tag for c in b] == ["asset-clip"] and b.find("asset-clip").get("lane") == "1"


@pytest.mark.parametrize("args, says", [
    (("gap", 0, 24, 14), "no single <gap>"),           # gap + 2 frames of the generator
    (("gap", 0, 25, 11), "no single <gap>"),           # part of the gap
    (("clip", 0, 36, 9), "no single clip"),
    (("gap", 1, 24, 12), "overlap"),                   # the connected clip is there
    (("gap", 4, 0, 5), "video lane"),
])
def test_placeholders_that_cannot_be_mapped_name_the_file_and_the_id(args, says):
    with pytest.raises(TimelineError) as err:
        splice_fcpxml(DOC, [placement(ph(*args, pid="V1_odd"), Path("/m/g.mov"))], rate=R24, drop_frame=False,
                      source_name="small.fcpxml")
    assert "small.fcpxml" in err.value.message and "V1_odd" in err.value.message and says in err.value.message


def test_inside_a_compound_clip_is_refused():
    with pytest.raises(TimelineError, match="compound clip"):
        splice_fcpxml(DOC, [placement(ph("gap", 0, 24, 12, path=(0, 1, 0, 3)), Path("/m/g.mov"))], rate=R24,
                      drop_frame=False, source_name="small.fcpxml")


def test_wrong_rate_is_refused():
    with pytest.raises(TimelineError, match="frameDuration"):
        splice_fcpxml(DOC, [placement(ph("gap", 0, 24, 12, rate=Fraction(24)), Path("/m/g.mov"))], rate=Fraction(24),
                      drop_frame=False, source_name="small.fcpxml")


@pytest.mark.parametrize("rate, fd, tc_format", [
    (Fraction(24000, 1001), (1001, 24000), "NDF"),
    (Fraction(30000, 1001), (1001, 30000), "DF"),
    (Fraction(60000, 1001), (1001, 60000), "DF"),
    (Fraction(25), (100, 2500), "NDF"),
], ids=["23.976", "29.97DF", "59.94DF", "25"])
def test_ntsc_times_are_exact_multiples_of_the_frame_duration(rate, fd, tc_format, tmp_path):
    num, den = fd
    tt = lambda f: f"{f * num}/{den}s"  # noqa: E731
    start = 107892 if tc_format == "DF" else 90000          # 01:00:00;00 / 01:00:00:00
    doc = f"""<?xml version="1.0" encoding="UTF-8"?>
<fcpxml version="1.11">
  <resources>
    <format id="r1" frameDuration="{num}/{den}s" width="320" height="180"/>
    <asset id="r2" name="a" start="0s" duration="{tt(999)}" hasVideo="1" format="r1">
      <media-rep kind="original-media" src="file:///m/a.mov"/>
    </asset>
  </resources>
  <project name="p">
    <sequence format="r1" tcStart="{tt(start)}" tcFormat="{tc_format}">
      <spine>
        <asset-clip ref="r2" offset="{tt(start)}" duration="{tt(100)}" name="a"/>
        <gap name="Gap" offset="{tt(start + 100)}" start="3600s" duration="{tt(17)}"/>
        <asset-clip ref="r2" offset="{tt(start + 117)}" start="{tt(3)}" duration="{tt(100)}" name="b"/>
      </spine>
    </sequence>
  </project>
</fcpxml>
"""
    src = write(tmp_path, doc, "in.fcpxml")
    read = read_timeline(src)
    assert read.rate == rate and read.start_frame == start
    p = ph("gap", 0, 100, 17, rate=rate, origin=start, drop=tc_format == "DF", pid="V1_n")
    out = splice_fcpxml(doc, [placement(p, tmp_path / "n.mov")], rate=rate, drop_frame=p.timecode.count(";") > 0,
                        source_name="in.fcpxml")
    root = ET.fromstring(out.encode())
    clip = root.find(".//spine/asset-clip[@name='GEN V1_n']")
    asset = root.find("./resources/asset[@id='%s']" % clip.get("ref"))
    frame = Fraction(num, den)
    assert seconds(clip.get("start")) == seconds(asset.get("start")) == (start + 100) * frame
    assert seconds(asset.get("duration")) == 17 * frame and clip.get("tcFormat") == tc_format
    if rate.denominator == 1001:                                # written in the document's own units
        assert asset.get("start") == tt(start + 100) and asset.get("duration") == tt(17)
    assert ("Clip", "GEN V1_n", 100, 17) in layout(write(tmp_path, out))[0]


# --- the corpus: real exports at NTSC rates ----------------------------------------------------

NTSC_GAPS = [   # (file, track index, start, frames): primary-storyline <gap>s in Final Cut exports
    ("dawfilekit/59.94.fcpxml", 0, 14011, 12),
    ("dawfilekit/24.fcpxml", 0, 5599, 4),
    ("dawfilekit/30.fcpxml", 0, 7002, 5),
    ("dawfilekit/60.fcpxml", 0, 14004, 10),
    ("dawfilekit/24.fcpxml", 1, 5591, 344),            # a hole on a connected lane
    ("otio-fcpx/fcpx_project.fcpxml", 1, 0, 600),      # lane 1 before its first clip
]


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not present")
@pytest.mark.parametrize("name, track, start, frames", NTSC_GAPS, ids=[f"{g[0]}@{g[2]}" for g in NTSC_GAPS])
def test_corpus_gaps_fill_at_exact_frames(name, track, start, frames, tmp_path):
    src = CORPUS / name
    read = read_timeline(src)
    text, _ = read_xml_source(src)
    p = ph("gap", track, start, frames, rate=read.rate, origin=read.start_frame, drop=read.drop_frame, pid="V_g")
    out = splice_fcpxml(text, [placement(p, tmp_path / "g.mov")], rate=read.rate, drop_frame=read.drop_frame,
                        source_name=src.name)
    removed = removed_lines(text, out)
    assert len(removed) <= 1 and all("<gap " in line for line in removed)
    before, after = layout(src), layout(write(tmp_path, out))
    lane = [t for t in after if ("Clip", "GEN V_g", start, frames) in t]
    assert lane, "the generated clip is at exactly the placeholder's frames"
    strip = lambda ts: [[c for c in t if c[0] != "Gap" and c[1] != "GEN V_g"] for t in ts]  # noqa: E731
    assert strip(after) == strip(before)
    asset = ET.fromstring(out.encode()).findall("./resources/asset")[-1]
    fd = 1 / read.rate
    assert seconds(asset.get("start")) == (read.start_frame + start) * fd
    assert seconds(asset.get("duration")) == frames * fd


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not present")
def test_corpus_gap_with_connected_clips_keeps_them_attached(tmp_path):
    src = CORPUS / "otio-fcpx" / "fcpx_project.fcpxml"
    text, _ = read_xml_source(src)
    out = splice_fcpxml(text, [placement(ph("gap", 0, 600, 300, rate=Fraction(30), origin=0, pid="V_c"),
                                         tmp_path / "c.mov")], rate=Fraction(30), drop_frame=False,
                        source_name=src.name)
    root = ET.fromstring(out.encode())
    [clip] = [c for c in root.iter("asset-clip") if c.get("name") == "GEN V_c"]
    assert root.find(".//resources/asset[@id='%s']" % clip.get("ref")).get("src").startswith("file:///")
    assert [(c.tag, c.get("lane")) for c in clip if c.get("lane")] == [("clip", "1"), ("clip", "-1")]
    before, after = layout(src), layout(write(tmp_path, out))
    assert ("Clip", "GEN V_c", 600, 300) in after[1]
    strip = lambda ts: [[c for c in t if c[0] != "Gap" and c[1] != "GEN V_c"] for t in ts]  # noqa: E731
    assert strip(after) == strip(before)


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not present")
def test_corpus_hole_in_a_secondary_storyline_is_refused():
    src = CORPUS / "dawfilekit" / "23.98.fcpxml"
    read = read_timeline(src)
    text, _ = read_xml_source(src)
    with pytest.raises(TimelineError, match="secondary storyline"):
        splice_fcpxml(text, [placement(ph("gap", 1, 3187, 1786, origin=0, pid="V2_s"), Path("/m/g.mov"))],
                      rate=read.rate, drop_frame=False, source_name=src.name)


# --- end to end -------------------------------------------------------------------------------

@pytest.mark.slow
def test_fill_fcpxml_end_to_end_at_23976(tmp_path, capsys):
    src = write(tmp_path, DOC, "cut.fcpxml")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "filled.fcpxml"
    assert main(["fill", str(src), "-o", str(out), "-q"]) == 0
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert "warning" not in capsys.readouterr().err
    text = out.read_text()
    assert set(removed_lines(DOC, text)) <= lines_of(DOC, "<gap ", "</gap>") | lines_of(DOC, "<video ", "</video>")
    v1 = read_timeline(out).timeline.tracks[0]
    gens = [(v1.range_of_child(c).start_time.to_frames(), c.duration().to_frames(), c) for c in v1
            if c.name.startswith("GEN ")]
    assert [(s, d) for s, d, _ in gens] == [(24, 12), (36, 10)]
    root = ET.fromstring(text.encode())
    for s, d, clip in gens:
        ref = root.find(".//asset-clip[@name='%s']" % clip.name).get("ref")
        asset = root.find(".//resources/asset[@id='%s']" % ref)
        media = Path(otio.url_utils.filepath_from_url(asset.find("media-rep").get("src")))
        st = video_stream(media)
        assert (int(st["width"]), int(st["height"])) == (320, 180) and Fraction(st["r_frame_rate"]) == R24
        assert decoded_frames(media) == d
        assert st["tags"]["timecode"] == frames_to_timecode(START + s, R24, False)
