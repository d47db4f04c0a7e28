"""`shotfill fill` end to end: real OTIO adapters, real ffmpeg, checked with ffprobe.

Each test builds a small timeline whose neighbours are "counter" clips (each
frame's colour encodes its number), fills it with the offline generator, and
checks the output by re-reading it with OTIO and probing the media with
ffprobe directly.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from mediautil import counter_index, decoded_frames, make_test_clip, mean_rgb, video_stream
from shotfill.cli.app import main
from shotfill.errors import ProviderError
from shotfill.providers.local import LocalProvider
from timelines import clip, gap, marker, slug, tr

pytestmark = pytest.mark.slow          # real fills: ffmpeg conforms every clip

R24 = Fraction(24000, 1001)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def counter_clip(dirpath: Path, name: str, rate: Fraction, frames: int = 40) -> Path:
    r = f"{rate.numerator}/{rate.denominator}"
    return make_test_clip(dirpath / name, rate=r, frames=frames, source="counter", codec="h264_lossless")


def generated(tl: otio.schema.Timeline) -> list[otio.schema.Clip]:
    return [c for c in tl.find_clips() if "shotfill" in c.metadata]


def assert_media(path: Path, frames: int, rate: Fraction, size=(320, 180), timecode: str | None = None) -> dict:
    """Check a conformed file with ffprobe itself, not with our own probe."""
    s = video_stream(path)
    assert (int(s["width"]), int(s["height"])) == size
    assert Fraction(s["r_frame_rate"]) == rate
    assert decoded_frames(path) == frames
    if timecode is not None:
        assert s.get("tags", {}).get("timecode") == timecode
    return s


@pytest.fixture
def otio_cut(tmp_path: Path) -> Path:
    """23.976 at 01:00:00:00: V1 a | gap (GEN on the gap) | b ; V2 gap | slug named GEN: ..."""
    counter_clip(tmp_path, "a.mov", R24)
    counter_clip(tmp_path, "b.mov", R24)
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(86400, float(R24)))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 20, R24, src=10, url="a.mov", avail=(0, 40)))          # plays a.mov frames 10..29
    v1.append(gap(12, R24, marker("GEN: a fox in snow | seed=5", 0, 12, R24)))
    v1.append(clip("b", 20, R24, src=4, url="b.mov", avail=(0, 40)))           # from b.mov frame 4
    v1.markers.append(marker("ordinary track marker", 3, 1, R24))
    v2 = otio.schema.Track(name="V2", kind="Video")
    v2.append(gap(30, R24))
    v2.append(slug("GEN: lower third, white text", 8, R24))
    tl.tracks.append(v1)
    tl.tracks.append(v2)
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(path))
    return path


def test_otio_fill_places_exact_clips_and_keeps_everything_else(otio_cut: Path, tmp_path: Path, capsys):
    before = sha(otio_cut)
    out = tmp_path / "out" / "filled.otio"
    assert main(["fill", str(otio_cut), "-o", str(out), "-q"]) == 0
    assert sha(otio_cut) == before, "the input timeline must never change"

    src = otio.adapters.read_from_file(str(otio_cut))
    tl = otio.adapters.read_from_file(str(out))
    v1, v2 = tl.video_tracks()
    gen = v1[1]
    assert isinstance(gen, otio.schema.Clip) and "shotfill" in gen.metadata
    assert gen.range_in_parent() == src.tracks[0].range_of_child_at_index(1)
    assert gen.source_range.start_time.to_frames() == 86400 + 20
    assert [m.name for m in gen.markers] == ["GEN: a fox in snow | seed=5"]
    md = gen.metadata["shotfill"]
    assert md["provider"] == "local" and md["seed"] == 5 and md["prompt"] == "a fox in snow"
    assert len(md["request_hash"]) == 64
    # everything that was not a placeholder is as it was, but for its media, rebased to the output's folder
    for i in (0, 2):
        assert v1[i].media_reference.target_url == "../" + src.tracks[0][i].media_reference.target_url
        v1[i].media_reference.target_url = src.tracks[0][i].media_reference.target_url
        assert v1[i].to_json_string() == src.tracks[0][i].to_json_string()
    assert [m.name for m in v1.markers] == ["ordinary track marker"]
    assert v2[0].to_json_string() == src.tracks[1][0].to_json_string()
    assert v2[1].range_in_parent() == src.tracks[1].range_of_child_at_index(1)

    media = Path(otio.url_utils.filepath_from_url(gen.media_reference.target_url))
    assert media.is_absolute() and media.parent == out.parent / "filled_media"
    assert_media(media, 12, R24, timecode="01:00:00:20")
    s = video_stream(media)
    assert s["codec_name"] == "prores" and s.get("color_primaries") == "bt709"
    # the bridge starts on a.mov's last played frame (29) and ends on b.mov's first (4)
    assert counter_index(mean_rgb(media, 0, (0.4, 0.4, 0.05, 0.05))) == 29
    assert counter_index(mean_rgb(media, 11, (0.4, 0.4, 0.05, 0.05))) == 4

    slug_media = Path(otio.url_utils.filepath_from_url(v2[1].media_reference.target_url))
    assert_media(slug_media, 8, R24, timecode="01:00:01:06")


def test_relative_paths_and_h264(otio_cut: Path, tmp_path: Path):
    out = tmp_path / "rel" / "filled.otio"
    assert main(["fill", str(otio_cut), "-o", str(out), "-q", "--relative-paths", "--codec", "h264"]) == 0
    tl = otio.adapters.read_from_file(str(out))
    urls = [c.media_reference.target_url for c in generated(tl)]
    assert len(urls) == 2 and all(u.startswith("filled_media/") and u.endswith(".mp4") for u in urls)
    for u in urls:
        s = video_stream(out.parent / u)
        assert s["codec_name"] == "h264"


def test_scan_json_lists_placeholders(otio_cut: Path, capsys):
    assert main(["scan", str(otio_cut), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["track"], r["start"], r["duration"], r["rate"], r["prompt"]) for r in rows] == [
        ("V1", 20, 12, "24000/1001", "a fox in snow"),
        ("V2", 30, 8, "24000/1001", "lower third, white text"),
    ]
    assert rows[0]["options"]["seed"] == 5
    assert rows[0]["before"]["name"] == "a" and rows[0]["after"]["name"] == "b"


# --- formats -------------------------------------------------------------------------------

def edl_text(rate: Fraction, drop: bool, start_tc: str, events: list[tuple[str, str, int]],
             tc) -> str:
    """events: (reel, extra comment lines, frames); record starts at start_tc."""
    lines = ["TITLE: Test Cut", f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}", ""]
    from shotfill.rates import timecode_to_frames
    rec = timecode_to_frames(start_tc, rate)
    for n, (reel, comments, frames) in enumerate(events, start=1):
        if reel is None:           # a hole in the record timeline
            rec += frames
            continue
        src = 0 if reel == "BL" else rec - 86000
        lines.append(f"{n:03d}  {reel:<8} V     C        {tc(src)} {tc(src + frames)} {tc(rec)} {tc(rec + frames)}")
        lines += [c.replace("@REC", tc(rec)) for c in comments]
        rec += frames
    return "\r\n".join(lines) + "\r\n"


RATES = [
    ("23.976", Fraction(24000, 1001), False, "01:00:00:00"),
    ("25", Fraction(25), False, "10:00:00:00"),
    ("29.97", Fraction(30000, 1001), True, "01:00:00;00"),
    ("29.97", Fraction(30000, 1001), False, "01:00:00:00"),
    ("59.94", Fraction(60000, 1001), True, "00:59:59;58"),
]


@pytest.mark.parametrize("flag, rate, drop, start_tc", RATES, ids=["23.976", "25", "29.97DF", "29.97NDF", "59.94DF"])
def test_edl_to_edl_at_each_rate_with_placeholders_at_both_ends(tmp_path, flag, rate, drop, start_tc):
    from shotfill.rates import frames_to_timecode, timecode_to_frames

    tc = lambda f: frames_to_timecode(f, rate, drop)
    text = edl_text(rate, drop, start_tc, [
        ("BL", ["* LOC: @REC PURPLE  GEN: opening shot, sunrise"], 10),
        ("TAPE1", ["* FROM CLIP NAME: one.mov", "* lower-case comment stays"], 31),
        ("BL", ["* LOC: @REC PURPLE  GEN: closing shot | seed=9"], 7),
    ], tc)
    src = tmp_path / "cut.edl"
    src.write_bytes(text.encode())
    out = tmp_path / "filled.edl"
    code = main(["fill", str(src), "--rate", flag, "--resolution", "320x180", "-o", str(out), "-q"])
    assert code == 0
    assert src.read_bytes() == text.encode()
    result = out.read_bytes().decode()
    kept = [line for line in text.splitlines(keepends=True) if not line.startswith(("001", "003"))]
    for line in kept:
        assert line in result
    start = timecode_to_frames(start_tc, rate)
    tl = otio.adapters.read_from_string(result, adapter_name="cmx_3600", rate=float(rate))
    clips = [c for c in tl.find_clips()]
    assert len(clips) == 3
    media = []
    for line in result.splitlines():
        if line.startswith("* SOURCE FILE:"):
            media.append(Path(line.split(":", 1)[1].strip()))
    assert len(media) == 2
    assert_media(media[0], 10, rate, timecode=tc(start))
    assert_media(media[1], 7, rate, timecode=tc(start + 41))


def test_edl_to_otio_and_xml_and_otioz(tmp_path):
    rate = Fraction(25)
    tc = lambda f: __import__("shotfill.rates", fromlist=["x"]).frames_to_timecode(f, rate, False)
    text = edl_text(rate, False, "01:00:00:00", [
        ("TAPE1", [], 20), ("BL", ["* LOC: @REC RED  GEN: a bridge"], 9), ("TAPE2", [], 20)], tc)
    src = tmp_path / "cut.txt"     # an EDL hiding behind .txt
    src.write_text(text)
    for suffix in (".otio", ".xml", ".otioz"):
        out = tmp_path / f"filled{suffix}"
        assert main(["fill", str(src), "--rate", "25", "--resolution", "320x180", "-o", str(out), "-q"]) == 0
        tl = otio.adapters.read_from_file(str(out))
        [gen] = [c for c in tl.find_clips() if c.name.startswith("GEN ")]
        assert gen.range_in_parent().start_time.to_frames() == 20
        assert gen.duration().to_frames() == 9
        if suffix == ".otio":
            assert tl.global_start_time.to_frames() == 90000


def test_fcp7_xml_round_trip_keeps_sequence_markers(tmp_path):
    (tmp_path / "media").mkdir()
    counter_clip(tmp_path / "media", "shot_a.mov", R24, 96)
    counter_clip(tmp_path / "media", "shot_b.mov", R24, 96)
    counter_clip(tmp_path / "media", "shot_c.mov", R24, 96)
    sample = Path(__file__).resolve().parents[1] / "sample_timelines" / "coast.xml"
    src = tmp_path / "coast.xml"
    src.write_bytes(sample.read_bytes())
    out = tmp_path / "filled.xml"
    assert main(["fill", str(src), "-o", str(out), "-q"]) == 0
    tl = otio.adapters.read_from_file(str(out))
    assert [m.name for m in tl.tracks.markers] == [m.name for m in otio.adapters.read_from_file(str(src)).tracks.markers]
    gens = generated(tl) or [c for c in tl.find_clips() if c.name.startswith("GEN ")]
    assert sorted((c.range_in_parent().start_time.to_frames(), c.duration().to_frames()) for c in gens) == \
        [(48, 36), (96, 24), (132, 24)]


def test_fcpxml_output_at_25(otio_cut, tmp_path):
    rate = Fraction(25)
    counter_clip(tmp_path, "c.mov", rate)
    tl = otio.schema.Timeline(name="p", global_start_time=otio.opentime.RationalTime(0, 25))
    t = otio.schema.Track(name="V1", kind="Video")
    t.append(clip("c", 10, rate, url="c.mov", avail=(0, 40)))
    t.append(gap(15, rate, marker("GEN: a hill", 0, 1, rate)))
    t.append(clip("c2", 10, rate, src=20, url="c.mov", avail=(0, 40)))
    tl.tracks.append(t)
    src = tmp_path / "p.otio"
    otio.adapters.write_to_file(tl, str(src))
    out = tmp_path / "p.fcpxml"
    assert main(["fill", str(src), "-o", str(out), "-q"]) == 0
    back = otio.adapters.read_from_file(str(out))
    [v] = back.video_tracks()
    durations = [c.duration().to_frames() for c in v]
    assert durations == [10, 15, 10]


def test_hostile_prompt_renders_and_is_kept_verbatim(tmp_path):
    hostile = "it's 100% \"real\": C:\\new\\tab; a=b [x] {y} %{pts} `rm -rf ~` $HOME, 'quoted' \\' end"
    tl = otio.schema.Timeline(name="h", global_start_time=otio.opentime.RationalTime(0, 25))
    t = otio.schema.Track(name="V1", kind="Video")
    t.append(gap(6, Fraction(25), marker("GEN: " + hostile, 0, 1, Fraction(25))))
    tl.tracks.append(t)
    src = tmp_path / "h.otio"
    otio.adapters.write_to_file(tl, str(src))
    out = tmp_path / "h_out.otio"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180", "-q"]) == 0
    [gen] = generated(otio.adapters.read_from_file(str(out)))
    assert gen.metadata["shotfill"]["prompt"] == hostile
    assert_media(Path(otio.url_utils.filepath_from_url(gen.media_reference.target_url)), 6, Fraction(25))


# --- failures ------------------------------------------------------------------------------

class _BrokenProvider(LocalProvider):
    """Plans like the offline generator; every job is refused by the "service"."""

    name = "broken"

    async def start(self, request, workdir):
        raise ProviderError("the service refused the prompt: moderation")


def test_some_failed_exit_1_keeps_successes_and_leaves_failures_as_they_were(otio_cut, tmp_path, monkeypatch, capsys):
    import shotfill.providers as providers

    monkeypatch.setitem(providers._REGISTRY, "broken", f"{__name__}:_BrokenProvider")
    tl = otio.adapters.read_from_file(str(otio_cut))
    tl.tracks[1][1].name = "GEN: lower third | provider=broken"
    src = tmp_path / "mixed.otio"
    otio.adapters.write_to_file(tl, str(src))
    out = tmp_path / "mixed_out.otio"
    assert main(["fill", str(src), "-o", str(out), "-q"]) == 1
    summary = capsys.readouterr().out
    assert "FAILED V2_" in summary and "moderation" in summary
    back = otio.adapters.read_from_file(str(out))
    assert "shotfill" in back.tracks[0][1].metadata
    assert back.tracks[1][1].to_json_string() == tl.tracks[1][1].to_json_string()


def _bad(args, capsys, *, code=2, says=()):
    assert main(args) == code
    err = capsys.readouterr().err
    for s in says:
        assert s in err, err
    return err


def test_bad_inputs_give_clear_errors_and_write_nothing(tmp_path, otio_cut, capsys):
    out = tmp_path / "o" / "x.otio"
    garbage = tmp_path / "broken.otio"
    garbage.write_text("{ this is not json")
    _bad(["fill", str(garbage), "-o", str(out)], capsys, says=("broken.otio",))
    _bad(["fill", str(otio_cut), "-o", str(tmp_path / "o" / "x.mp4")], capsys, says=("x.mp4", ".otio"))
    edl = tmp_path / "cut.edl"
    edl.write_text("TITLE: x\n001  BL V C 00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n")
    _bad(["fill", str(edl), "-o", str(out)], capsys, says=("cut.edl", "--rate"))
    _bad(["fill", str(otio_cut), "-o", str(otio_cut)], capsys, says=("overwrite",))
    _bad(["fill", str(tmp_path / "nope.otio"), "-o", str(out)], capsys, says=("nope.otio",))
    _bad(["fill", str(edl), "--rate", "23.97x", "-o", str(out)], capsys, says=("23.97x",))
    assert not (tmp_path / "o").exists()


def test_zero_frame_gap_and_stray_marker_are_refused(tmp_path, capsys):
    rate = Fraction(24)
    tl = otio.schema.Timeline(name="z", global_start_time=otio.opentime.RationalTime(0, 24))
    t = otio.schema.Track(name="V1", kind="Video")
    t.append(clip("a", 10, rate, url="missing.mov"))
    t.append(gap(0, rate, marker("GEN: nothing here", 0, 1, rate)))
    t.append(clip("b", 10, rate, url="missing.mov"))
    tl.tracks.append(t)
    src = tmp_path / "z.otio"
    otio.adapters.write_to_file(tl, str(src))
    out = tmp_path / "z_out.otio"
    _bad(["fill", str(src), "-o", str(out), "--resolution", "320x180"], capsys, says=("zero frames", "z.otio"))
    assert not out.exists() and not (tmp_path / "z_out_media").exists()

    t[1].source_range = tr(0, 5, rate)
    t[1].markers.clear()
    tl.tracks.markers.append(marker("GEN: over picture", 2, 1, rate))
    otio.adapters.write_to_file(tl, str(src))
    err = _bad(["fill", str(src), "-o", str(out), "--resolution", "320x180"], capsys, says=("covers no gap",))
    assert "00:00:00:02" in err
    assert not out.exists()
    # scan reports the same as a warning and exits 0
    assert main(["scan", str(src), "--resolution", "320x180"]) == 0
    assert "covers no gap" in capsys.readouterr().err


def test_unknown_size_is_refused(tmp_path, capsys):
    tl = otio.schema.Timeline(name="s")
    t = otio.schema.Track(name="V1", kind="Video")
    t.append(gap(5, Fraction(25), marker("GEN: x", 0, 1, Fraction(25))))
    tl.tracks.append(t)
    src = tmp_path / "s.otio"
    otio.adapters.write_to_file(tl, str(src))
    _bad(["fill", str(src), "-o", str(tmp_path / "s_out.otio")], capsys, says=("--resolution", "s.otio"))


def test_dry_run_sends_nothing_writes_nothing_and_prices(otio_cut, tmp_path, capsys):
    out = tmp_path / "dry" / "x.otio"
    assert main(["fill", str(otio_cut), "-o", str(out), "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in data["placeholders"]] == ["V1_01000020", "V2_01000106"]
    assert data["placeholders"][0]["plan"]["use_first"] is True
    assert data["estimated_total"] == 0
    assert not (tmp_path / "dry").exists()


def test_scan_shows_the_plan_per_placeholder(otio_cut, capsys):
    assert main(["scan", str(otio_cut)]) == 0
    out = capsys.readouterr().out
    assert "plan: local bridge-slate-1" in out and "first frame from the shot before" in out


def test_a_provider_without_its_key_is_refused_before_anything(otio_cut, tmp_path, capsys):
    out = tmp_path / "nokey" / "x.otio"
    err = _bad(["fill", str(otio_cut), "-o", str(out), "--provider", "runway"], capsys,
               says=("RUNWAYML_API_SECRET", "nothing was generated"))
    assert "Traceback" not in err
    assert not (tmp_path / "nokey").exists()


def test_fcpxml_output_at_ntsc_from_another_format_is_refused_up_front(otio_cut, tmp_path, capsys):
    out = tmp_path / "ntsc" / "x.fcpxml"
    _bad(["fill", str(otio_cut), "-o", str(out)], capsys, says=("24000/1001", ".otio or .xml"))
    assert not (tmp_path / "ntsc").exists()
