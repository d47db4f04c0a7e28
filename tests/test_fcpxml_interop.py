"""FCPXML: titles as placeholders, holes in compound clips, and outputs valid against the DTD.

Outputs are checked with libxml2's own DTD validator (through lxml) against a DTD generated
per document (tests/fcpxml_dtd.py says why and how), for every FCPXML version in the corpus.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from conftest import CORPUS
from fcpxml_dtd import apple_dtd, apple_dtd_dirs, apple_valid, dtd_valid
from shotfill.cli.app import main
from shotfill.errors import TimelineError
from shotfill.model import Placeholder, Placement, ShotOptions
from shotfill.rates import frames_to_timecode
from shotfill.timeline.fcpxml.splice import splice_fcpxml
from shotfill.timeline.read import read_timeline
from shotfill.timeline.xml.document import read_xml_source
from shotfill.pipeline import load

pytestmark = [pytest.mark.slow]        # libxml2's validator, ffprobe; the corpus

R24 = Fraction(24000, 1001)


def t(frames: int) -> str:
    return f"{frames * 1001}/24000s"


def local(frames: int) -> str:
    return f"{3600 * 24000 + frames * 1001}/24000s"


# 23.976 from 01:00:00:00: a [0,24) | title "GEN: opening card" [24,36) | b [36,60), with a title
# connected to b on lane 1 at [40,46) carrying a GEN marker.
TITLES = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.10">
    <resources>
        <format id="r1" name="FFVideoFormat320x180p2398" frameDuration="1001/24000s" width="320" height="180"/>
        <asset id="r2" name="a" start="0s" duration="{t(48)}" hasVideo="1" format="r1" videoSources="1">
            <media-rep kind="original-media" src="file:///media/a.mov"/>
        </asset>
        <effect id="r3" name="Basic Title" uid=".../Titles.localized/Bumper:Opener.localized/Basic Title.localized/Basic Title.moti"/>
    </resources>
    <library>
        <event name="e">
            <project name="titles">
                <sequence format="r1" duration="{t(60)}" tcStart="{t(86400)}" tcFormat="NDF">
                    <spine>
                        <asset-clip ref="r2" offset="{t(86400)}" name="a" start="0s" duration="{t(24)}"/>
                        <title ref="r3" offset="{t(86424)}" name="GEN: opening card over the harbour" start="3600s" duration="{t(12)}">
                            <param name="Position" key="9999/999166631/999166633/1/100/101" value="0 0"/>
                            <text><text-style ref="ts1">Opening</text-style></text>
                            <text-style-def id="ts1"><text-style font="Helvetica" fontSize="63"/></text-style-def>
                        </title>
                        <asset-clip ref="r2" offset="{t(86436)}" name="b" start="{t(10)}" duration="{t(24)}">
                            <title ref="r3" lane="1" offset="{t(14)}" name="Lower third" start="3600s" duration="{t(6)}">
                                <text><text-style ref="ts2">Name</text-style></text>
                                <text-style-def id="ts2"><text-style font="Helvetica" fontSize="40"/></text-style-def>
                                <marker start="{local(1)}" duration="{t(1)}" value="GEN: a gull over the pier | seed=4"/>
                            </title>
                        </asset-clip>
                    </spine>
                </sequence>
            </project>
        </event>
    </library>
</fcpxml>
"""


def test_titles_named_or_marked_gen_are_placeholders_and_are_filled_in_place(tmp_path: Path):
    src = tmp_path / "titles.fcpxml"
    src.write_text(TITLES, encoding="utf-8")
    loaded = load(src, resolution=(320, 180))
    got = [(p.track, p.kind, p.start, p.duration, p.prompt) for p in loaded.scan.placeholders]
    assert got == [("V1", "clip", 24, 12, "opening card over the harbour"),
                   ("V2", "clip", 40, 6, "a gull over the pier")]
    assert loaded.scan.stray == []
    pls = [Placement(ph, tmp_path / f"{ph.id}.mov", {"provider": "local", "request_hash": "h"})
           for ph in loaded.scan.placeholders]
    out = tmp_path / "filled.fcpxml"
    out.write_text(splice_fcpxml(TITLES, pls, rate=R24, drop_frame=False, source_name=src.name), encoding="utf-8")
    tl = read_timeline(out).timeline
    gens = {c.name: c for c in tl.find_clips() if c.name.startswith("GEN V")}
    assert len(gens) == 2
    for ph in loaded.scan.placeholders:
        clip = gens[f"GEN {ph.id}"]
        rng = clip.transformed_time_range(clip.trimmed_range(), tl.tracks)
        assert (rng.start_time.to_frames(), rng.duration.to_frames()) == (ph.start, ph.duration)
        assert Path(clip.media_reference.target_url.removeprefix("file://")).name == f"{ph.id}.mov"
    ok, said = dtd_valid(out, tmp_path)
    assert ok, said


# A compound clip (its content: x [0,10) | GEN gap [10,19) | y [19,29)) shown by two ref-clips:
# the first shows all of it, the second only content frames 12..16 (part of the hole).
COMPOUND = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.11">
    <resources>
        <format id="r1" name="FFVideoFormat320x180p2398" frameDuration="1001/24000s" width="320" height="180"/>
        <asset id="r2" name="a" start="0s" duration="{t(48)}" hasVideo="1" format="r1" videoSources="1">
            <media-rep kind="original-media" src="file:///media/a.mov"/>
        </asset>
        <media id="r3" name="Compound" uid="ABCDEF0123456789">
            <sequence format="r1" duration="{t(29)}" tcStart="0s" tcFormat="NDF">
                <spine>
                    <asset-clip ref="r2" offset="0s" name="x" start="0s" duration="{t(10)}"/>
                    <gap name="Gap" offset="{t(10)}" start="3600s" duration="{t(9)}">
                        <marker start="3600s" duration="{t(1)}" value="GEN: inside the compound"/>
                    </gap>
                    <asset-clip ref="r2" offset="{t(19)}" name="y" start="0s" duration="{t(10)}"/>
                </spine>
            </sequence>
        </media>
    </resources>
    <library>
        <event name="e">
            <project name="compound">
                <sequence format="r1" duration="{t(55)}" tcStart="0s" tcFormat="NDF">
                    <spine>
                        <ref-clip ref="r3" offset="0s" name="Compound" duration="{t(29)}"/>
                        <ref-clip ref="r3" offset="{t(29)}" name="Compound" start="{t(12)}" duration="{t(4)}"/>
                        <asset-clip ref="r2" offset="{t(33)}" name="a" start="0s" duration="{t(22)}"/>
                    </spine>
                </sequence>
            </project>
        </event>
    </library>
</fcpxml>
"""


def test_a_gen_gap_in_a_compound_gives_each_ref_clip_its_range_or_a_clear_refusal(tmp_path: Path, capsys):
    src = tmp_path / "compound.fcpxml"
    src.write_text(COMPOUND, encoding="utf-8")
    loaded = load(src, resolution=(320, 180))
    got = [(p.start, p.duration, bool(p.problems)) for p in loaded.scan.placeholders]
    # the whole 9-frame hole at 10 through the first; frames 12..16 of it (4) at 29 through the second
    assert got == [(10, 9, False), (29, 4, True)]
    assert "only 4 of its 9 frames show through" in loaded.scan.placeholders[1].problems[0]
    # fill refuses it, before anything is generated, naming the placeholder
    out = tmp_path / "o" / "filled.otio"
    assert main(["fill", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "compound" in err and "only 4 of its 9 frames" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_a_hole_inside_a_compound_into_fcpxml_is_refused_not_written_lossily(tmp_path: Path, capsys):
    # only the first ref-clip: the whole hole shows, and OTIO's writer would lose the compound's uid
    text = COMPOUND.replace(f'<ref-clip ref="r3" offset="{t(29)}" name="Compound" start="{t(12)}" '
                            f'duration="{t(4)}"/>', f'<gap name="Gap" offset="{t(29)}" start="3600s" '
                            f'duration="{t(4)}"/>')
    src = tmp_path / "compound.fcpxml"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "o" / "filled.fcpxml"
    for dry in ([], ["--dry-run"]):
        assert main(["fill", str(src), "-o", str(out), *dry]) == 2
        err = capsys.readouterr().err
        assert "inside a compound clip" in err and "Break Apart" in err and "nothing was generated" in err, err
        assert not (tmp_path / "o").exists()


def test_the_dtd_check_can_fail(tmp_path: Path):
    bad = tmp_path / "bad.fcpxml"
    # a note after a marker, and an asset with a src attribute in FCPXML 1.10
    bad.write_text(TITLES.replace('<asset id="r2" name="a"', '<asset id="r2" src="file:///x.mov" name="a"'),
                   encoding="utf-8")
    ok, said = dtd_valid(bad, tmp_path)
    assert not ok and "src" in said
    worse = tmp_path / "worse.fcpxml"
    worse.write_text(TITLES.replace('duration="{}"/>\n                        <title'.format(t(24)),
                                    'duration="{}"><marker start="0s" duration="{}" value="m"/><note>n</note>'
                                    '</asset-clip>\n                        <title'.format(t(24), t(1))),
                     encoding="utf-8")
    ok, said = dtd_valid(worse, tmp_path)
    assert not ok and "asset-clip" in said
    ok, said = dtd_valid(_write(tmp_path, "good.fcpxml", TITLES), tmp_path)
    assert ok, said


def _write(d: Path, name: str, text: str) -> Path:
    (d / name).write_text(text, encoding="utf-8")
    return d / name


def _candidates(path: Path) -> list[Placeholder]:
    """Every top-level gap and clip of the timeline as a placeholder (as if marked GEN:), gaps and
    generators first."""
    read = read_timeline(path)
    out = []
    video = [i for i, tr in enumerate(read.timeline.tracks) if tr.kind == otio.schema.TrackKind.Video]
    for vi, ti in enumerate(video):
        track = read.timeline.tracks[ti]
        for ci, item in enumerate(track):
            if not isinstance(item, (otio.schema.Gap, otio.schema.Clip)):
                continue
            rng = track.range_of_child_at_index(ci)
            start, dur = rng.start_time.to_frames(), rng.duration.to_frames()
            if dur <= 0:
                continue
            rf = read.start_frame + start
            out.append(Placeholder(
                id=f"V{vi + 1}_{ci}", track=f"V{vi + 1}", track_index=vi, item_path=(ti, ci),
                kind="gap" if isinstance(item, otio.schema.Gap) else "clip", start=start, duration=dur,
                rate=read.rate, record_frame=rf, timecode=frames_to_timecode(rf, read.rate, read.drop_frame),
                prompt="p", options=ShotOptions(), marker_name="GEN: p", marker_on="gap"))
    gen = (otio.schema.GeneratorReference, otio.schema.MissingReference)
    return sorted(out, key=lambda ph: ph.kind == "clip" and not isinstance(
        read.timeline.tracks[ph.item_path[0]][ph.item_path[1]].media_reference, gen))


CORPUS_FCPXML = sorted(p for p in CORPUS.rglob("*.fcpxml")) if CORPUS.is_dir() else []


def _version(path: Path) -> str:
    head = path.read_text(encoding="utf-8", errors="replace")[:1000]
    return head.split('<fcpxml version="', 1)[-1].split('"')[0] if '<fcpxml version="' in head else "?"


@pytest.mark.skipif(not CORPUS_FCPXML, reason="no corpus")
def test_spliced_corpus_documents_stay_valid_against_the_dtd_of_their_version(tmp_path: Path):
    """Every gap, generator and title of every corpus FCPXML (and, where there is none, its clips) filled
    one at a time by the splice writer; each output must validate as its input does."""
    written: dict[str, int] = {}
    for n, path in enumerate(CORPUS_FCPXML):
        work = tmp_path / str(n)
        work.mkdir()
        ok, said = dtd_valid(path, work)
        if not ok:
            continue                          # the input itself is not valid (none in the corpus today)
        try:
            candidates = _candidates(path)
            read = read_timeline(path)
        except TimelineError:
            continue                          # not a project (an FCPXML 1.2 event listing)
        source, _ = read_xml_source(path)
        for ph in candidates[:6]:
            pl = Placement(ph, work / f"gen {ph.id}.mov", {"provider": "local", "request_hash": "h"})
            try:
                text = splice_fcpxml(source, [pl], rate=read.rate, drop_frame=read.drop_frame,
                                     source_name=path.name)
            except TimelineError:
                continue                      # the splice refuses it (the OTIO writer takes over)
            out = work / f"out_{ph.id}.fcpxml"
            out.write_text(text, encoding="utf-8")
            ok, said = dtd_valid(out, work)
            assert ok, f"{path.relative_to(CORPUS)} with {ph.id} filled: {said}"
            written[_version(path)] = written.get(_version(path), 0) + 1
    assert {"1.8", "1.9", "1.11", "1.13"} <= set(written), written


@pytest.mark.skipif(not CORPUS_FCPXML, reason="no corpus")
@pytest.mark.skipif(not any(d.is_dir() for d in apple_dtd_dirs()),
                    reason="Apple's FCPXML DTDs are not on this machine (they may not be redistributed): install "
                           "Final Cut Pro or set SHOTFILL_FCPXML_DTDS to a folder of FCPXMLv1_N.dtd files")
def test_spliced_corpus_documents_stay_valid_against_apples_own_dtds(tmp_path: Path):
    """As above, against Apple's DTD of each document's version, for every version one is found for."""
    checked = 0
    for n, path in enumerate(CORPUS_FCPXML):
        dtd = apple_dtd(_version(path))
        if dtd is None or not apple_valid(path, dtd)[0]:
            continue
        try:
            candidates = _candidates(path)
            read = read_timeline(path)
        except TimelineError:
            continue
        source, _ = read_xml_source(path)
        for ph in candidates[:6]:
            pl = Placement(ph, tmp_path / f"gen {ph.id}.mov", {"provider": "local", "request_hash": "h"})
            try:
                text = splice_fcpxml(source, [pl], rate=read.rate, drop_frame=read.drop_frame, source_name=path.name)
            except TimelineError:
                continue
            out = tmp_path / f"out_{n}_{ph.id}.fcpxml"
            out.write_text(text, encoding="utf-8")
            ok, said = apple_valid(out, dtd)
            assert ok, f"{path.relative_to(CORPUS)} with {ph.id} filled, against {dtd.name}: {said}"
            checked += 1
    assert checked, "no corpus document validated against the Apple DTDs found"
