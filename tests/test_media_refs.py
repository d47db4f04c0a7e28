"""The editor's media, referenced relative to the timeline, still resolves from the output's folder.

A project folder holds ``media/shot_a.mov`` and ``media/shot_b.mov`` and a timeline in each format
that names them relatively. Each is filled into another folder, in every output format, and the
output is read back with OTIO's own reader: every clip's reference must name an existing file
from the output's folder (or, with ``--absolute-media``, be absolute).
"""

from __future__ import annotations

import urllib.parse
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from mediautil import make_test_clip
from shotfill.cli.app import main
from shotfill.model import Placement
from shotfill.pipeline import load, write_output
from shotfill.timeline.media_refs import Rebase, is_relative
from shotfill.timeline.read import read_timeline
from shotfill.timeline.write import OUTPUT_ADAPTERS

R = Fraction(25)
START = 90000                      # 01:00:00:00 at 25

EDL = """TITLE: rel
FCM: NON-DROP FRAME

001  SHOTA    V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00
* FROM CLIP NAME: shot_a.mov
* FROM CLIP: media/shot_a.mov

002  BL       V     C        00:00:00:00 00:00:00:12 01:00:01:00 01:00:01:12
* FROM CLIP NAME: GEN: a gull over the pier

003  SHOTB    V     C        00:00:00:00 00:00:01:00 01:00:01:12 01:00:02:12
* FROM CLIP NAME: shot_b.mov
* SOURCE FILE: media/shot_b.mov
* FROM CLIP: media/shot_b.mov
"""

FCP7 = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="5">
  <sequence id="sequence-1">
    <name>rel</name>
    <duration>62</duration>
    <rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>
    <timecode><rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate><string>01:00:00:00</string><frame>90000</frame><displayformat>NDF</displayformat></timecode>
    <media>
      <video>
        <format><samplecharacteristics><width>320</width><height>180</height></samplecharacteristics></format>
        <track>
          <clipitem id="clipitem-1">
            <name>A</name><duration>25</duration>
            <rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>
            <start>0</start><end>25</end><in>0</in><out>25</out>
            <file id="file-1"><name>shot_a.mov</name><pathurl>media/shot_a.mov</pathurl><duration>25</duration></file>
          </clipitem>
          <generatoritem id="clipitem-2">
            <name>GEN: a gull over the pier</name><duration>12</duration>
            <rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>
            <start>25</start><end>37</end><in>0</in><out>12</out>
            <effect><name>Slug</name><effectid>Slug</effectid><effecttype>generator</effecttype><mediatype>video</mediatype></effect>
          </generatoritem>
          <clipitem id="clipitem-3">
            <name>B</name><duration>25</duration>
            <rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>
            <start>37</start><end>62</end><in>0</in><out>25</out>
            <file id="file-2"><name>shot_b.mov</name><pathurl>media/shot_b.mov</pathurl><duration>25</duration></file>
          </clipitem>
        </track>
      </video>
    </media>
  </sequence>
</xmeml>
"""


def _t(frames: int) -> str:
    return f"{frames}/25s" if frames % 25 else f"{frames // 25}s"


FCPXML = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.10">
    <resources>
        <format id="r1" name="FFVideoFormat320x180p25" frameDuration="1/25s" width="320" height="180"/>
        <asset id="r2" name="shot_a" start="0s" duration="1s" hasVideo="1" format="r1" videoSources="1">
            <media-rep kind="original-media" src="media/shot_a.mov"/>
        </asset>
        <asset id="r3" name="shot_b" start="0s" duration="1s" hasVideo="1" format="r1" videoSources="1">
            <media-rep kind="original-media" src="media/shot_b.mov"/>
        </asset>
    </resources>
    <library>
        <event name="Day 1">
            <project name="rel">
                <sequence format="r1" duration="{_t(62)}" tcStart="3600s" tcFormat="NDF">
                    <spine>
                        <asset-clip ref="r2" offset="3600s" name="shot_a" start="0s" duration="1s"/>
                        <gap name="Gap" offset="{_t(START + 25)}" start="3600s" duration="{_t(12)}">
                            <marker start="3600s" duration="{_t(1)}" value="GEN: a gull over the pier"/>
                        </gap>
                        <asset-clip ref="r3" offset="{_t(START + 37)}" name="shot_b" start="0s" duration="1s"/>
                    </spine>
                </sequence>
            </project>
        </event>
    </library>
</fcpxml>
"""


def _otio_doc() -> str:
    rt = lambda f: otio.opentime.RationalTime(f, 25)          # noqa: E731
    rng = lambda s, d: otio.opentime.TimeRange(rt(s), rt(d))  # noqa: E731
    tl = otio.schema.Timeline(name="rel", global_start_time=rt(START))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(otio.schema.Clip(name="shot_a", source_range=rng(0, 25), media_reference=otio.schema.ExternalReference(
        target_url="media/shot_a.mov", available_range=rng(0, 25))))
    v1.append(otio.schema.Clip(name="GEN: a gull over the pier", source_range=rng(0, 12),
                               media_reference=otio.schema.GeneratorReference(generator_kind="Slug")))
    v1.append(otio.schema.Clip(name="shot_b", source_range=rng(0, 25), media_reference=otio.schema.ExternalReference(
        target_url="media/shot_b.mov", available_range=rng(0, 25))))
    tl.tracks.append(v1)
    return otio.adapters.write_to_string(tl, "otio_json")


INPUTS = {"cut.edl": EDL, "cut.xml": FCP7, "cut.fcpxml": FCPXML, "cut.otio": _otio_doc()}
pytestmark = pytest.mark.slow      # real media (ffmpeg), probed by the writers
READERS = {".otio": "otio_json", ".edl": "cmx_3600", ".xml": "fcp_xml", ".fcpxml": "fcpx_xml", ".aaf": "AAF"}


@pytest.fixture(scope="module")
def movie(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("m") / "c.mov"
    return make_test_clip(path, rate="25/1", frames=25, source="counter", codec="h264_lossless").read_bytes()


@pytest.fixture
def project(tmp_path: Path, movie: bytes) -> Path:
    proj = tmp_path / "proj"
    (proj / "media").mkdir(parents=True)
    for name in ("shot_a.mov", "shot_b.mov"):
        (proj / "media" / name).write_bytes(movie)
    for name, text in INPUTS.items():
        (proj / name).write_text(text, encoding="utf-8")
    return proj


def _placement(loaded, media: Path) -> Placement:
    [ph] = loaded.scan.placeholders
    return Placement(ph, media, {"provider": "local", "request_hash": "abc"})


def _refs(output: Path, extract: Path) -> list[str]:
    """Every clip's media reference in ``output``, read back with OTIO, as paths from the output's folder."""
    if output.suffix == ".otioz":
        extract.mkdir(exist_ok=True)
        tl = otio.adapters.read_from_file(str(output), extract_to_directory=str(extract))
        base = extract
    elif output.suffix == ".fcpxml":
        # the stock reader predates <media-rep> (FCPXML 1.9+); ShotFill's subclass of it reads them
        tl = read_timeline(output).timeline
        base = output.parent
    else:
        tl = otio.adapters.read_from_file(str(output), adapter_name=READERS[output.suffix],
                                          **({"rate": 25} if output.suffix == ".edl" else {}))
        base = output.parent
    found = []
    for c in tl.find_clips():
        ref = c.media_reference
        url = getattr(ref, "target_url", None)
        if not url:
            continue
        if url.startswith("file:"):
            path = Path(otio.url_utils.filepath_from_url(url))
        else:
            path = Path(urllib.parse.unquote(url))
            path = path if path.is_absolute() else base / path
        found.append(str(path))
    return found


@pytest.mark.parametrize("suffix", sorted(OUTPUT_ADAPTERS))
@pytest.mark.parametrize("name", sorted(INPUTS))
def test_relative_media_still_resolves_from_another_folder(project: Path, tmp_path: Path, movie: bytes, name: str,
                                                          suffix: str):
    src = project / name
    before = src.read_bytes()
    loaded = load(src, rate=R, resolution=(320, 180))
    outdir = tmp_path / "deliveries" / "v2"
    outdir.mkdir(parents=True)
    gen = outdir / "cut_media" / "gen.mov"
    gen.parent.mkdir()
    gen.write_bytes(movie)
    out = outdir / f"filled{suffix}"
    write_output(loaded, [_placement(loaded, gen)], out, OUTPUT_ADAPTERS[suffix], relative_paths=False)
    assert src.read_bytes() == before
    refs = _refs(out, tmp_path / "extracted")
    names = sorted(Path(r).name for r in refs)
    assert names == ["gen.mov", "shot_a.mov", "shot_b.mov"], refs
    for r in refs:
        assert Path(r).is_file(), f"{r} does not resolve from {outdir}"
    if suffix in (".edl", ".xml", ".fcpxml") and Path(name).suffix == suffix:
        # the splice writers keep references relative: the output can move with its media
        text = out.read_text()
        assert "../../proj/media/shot_a.mov" in text


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_absolute_media_makes_them_absolute(project: Path, tmp_path: Path, movie: bytes, name: str):
    loaded = load(project / name, rate=R, resolution=(320, 180))
    out = tmp_path / "elsewhere" / f"filled{Path(name).suffix}"
    out.parent.mkdir()
    gen = tmp_path / "gen.mov"
    gen.write_bytes(movie)
    write_output(loaded, [_placement(loaded, gen)], out, OUTPUT_ADAPTERS[out.suffix], relative_paths=False,
                 absolute_media=True)
    text = out.read_text()
    media = (project / "media").resolve()
    assert f"{media}/shot_a.mov" in text and f"{media}/shot_b.mov" in text
    assert "\"media/shot_a.mov" not in text and ">media/shot_a.mov" not in text and ": media/" not in text
    for r in _refs(out, tmp_path / "x"):
        assert Path(r).is_absolute() and Path(r).is_file()


def test_same_folder_keeps_every_byte(project: Path):
    for name in ("cut.edl", "cut.xml", "cut.fcpxml"):
        loaded = load(project / name, rate=R, resolution=(320, 180))
        out = project / f"copy{Path(name).suffix}"
        write_output(loaded, [], out, OUTPUT_ADAPTERS[out.suffix], relative_paths=False)
        assert out.read_text() == INPUTS[name]


def test_only_the_references_change_in_the_splice_writers(project: Path, tmp_path: Path):
    for name in ("cut.edl", "cut.xml", "cut.fcpxml"):
        loaded = load(project / name, rate=R, resolution=(320, 180))
        out = tmp_path / "o" / f"copy{Path(name).suffix}"
        out.parent.mkdir(exist_ok=True)
        write_output(loaded, [], out, OUTPUT_ADAPTERS[out.suffix], relative_paths=False)
        assert out.read_text() == INPUTS[name].replace("media/shot_", "../proj/media/shot_")


def test_rebase_rules(tmp_path: Path):
    src, out = tmp_path / "a", tmp_path / "b" / "c"
    rb = Rebase(src, out)
    assert rb.path("media/x.mov") == "../../a/media/x.mov"
    assert rb.path("./media/x.mov") == "../../a/media/x.mov"
    assert rb.path("/abs/x.mov") is None and rb.path("C:\\x.mov") is None and rb.path("C:/x.mov") is None
    assert rb.url("file:///abs/x.mov") is None and rb.url("https://host/x.mov") is None
    assert rb.url("media/shot%20one.mov") == "../../a/media/shot%20one.mov"
    assert Rebase(src, out, absolute=True).url("media/x%231.mov", host="localhost") == \
        f"file://localhost{urllib.parse.quote(str((src / 'media').resolve()))}/x%231.mov"
    assert Rebase(src, src).path("media/x.mov") is None
    assert not is_relative("") and not is_relative("\\\\server\\share\\x.mov") and is_relative("x.mov")


@pytest.mark.parametrize("flag", [[], ["--absolute-media"]])
def test_fill_cli_rebases_or_makes_absolute(project: Path, tmp_path: Path, flag: list[str]):
    """The real CLI with the offline generator and ffmpeg; the output read back with OTIO."""
    out = tmp_path / "out" / "filled.edl"
    assert main(["fill", str(project / "cut.edl"), "--rate", "25", "--resolution", "320x180", "-o", str(out),
                 "-q", "--no-report", *flag]) == 0
    want = f"{(project / 'media').resolve()}/shot_a.mov" if flag else "../proj/media/shot_a.mov"
    assert f"* FROM CLIP: {want}" in out.read_text()
    refs = _refs(out, tmp_path / "x")
    assert len(refs) == 3 and all(Path(r).is_file() for r in refs)


def test_otioz_with_relative_paths_still_bundles_the_generated_file(project: Path, tmp_path: Path, movie: bytes):
    loaded = load(project / "cut.otio", rate=R, resolution=(320, 180))
    out = tmp_path / "o" / "filled.otioz"
    out.parent.mkdir()
    gen = out.parent / "filled_media" / "gen.mov"
    gen.parent.mkdir()
    gen.write_bytes(movie)
    write_output(loaded, [_placement(loaded, gen)], out, "otioz", relative_paths=True)
    refs = _refs(out, tmp_path / "x")
    assert sorted(Path(r).name for r in refs) == ["gen.mov", "shot_a.mov", "shot_b.mov"]
    assert all(Path(r).is_file() for r in refs)
