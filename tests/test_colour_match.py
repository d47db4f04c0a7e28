"""The colour match: a clip's look brought toward graded neighbours in the conform's one pass.

The measure is checked against published CIEDE2000 test data; a graded pair (neighbours with a strong
teal/orange split and an exposure drop, a clip without) is matched and measured again on the conformed
file, which ffprobe shows is still exact; ``match=off`` leaves every pixel as the plain conform has it;
bad values of the note option, the run flag and ``shotfill.toml`` are refused.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from mediautil import decoded_frames, ffmpeg, framemd5, video_stream
from shotfill.cli.app import main
from shotfill.config import load_settings
from shotfill.errors import ConfigError
from shotfill.media import conform as conform_mod
from shotfill.media import match, tools
from shotfill.media.conform import conform, conform_argv
from shotfill.media.probe import probe
from shotfill.model import ConformTarget, match_wanted
from shotfill.scan.notes import parse_note
from timelines import clip, gap, marker

R25 = Fraction(25)
TEAL_ORANGE = "colorbalance=rs=-0.3:gs=0.05:bs=0.3:rh=0.3:gh=0.05:bh=-0.3,exposure=exposure=-0.7"


# --------------------------------------------------------------------------- the measure (no process)

# Sharma, Wu, Dalal (2005), "The CIEDE2000 color-difference formula", table 1: pairs 1, 7, 17, 25, 34.
SHARMA = [((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
          ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
          ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
          ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
          ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373)]


def test_ciede2000_matches_the_published_pairs():
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    assert np.allclose(match.ciede2000(lab1, lab2), [p[2] for p in SHARMA], atol=1e-4)
    assert np.allclose(match.ciede2000(lab2, lab1), [p[2] for p in SHARMA], atol=1e-4)


def test_lab_round_trip_and_white():
    rgb = np.random.default_rng(1).random((500, 3))
    assert np.allclose(match.lab_to_rgb(match.rgb_to_lab(rgb)), rgb, atol=1e-9)
    assert np.allclose(match.rgb_to_lab(np.ones(3)), [100, 0, 0], atol=0.01)


def test_a_matching_look_gets_no_transform_and_a_graded_one_a_strong_one():
    rng = np.random.default_rng(2)
    pixels = rng.random((4000, 3)) * 0.8 + 0.1
    same = match.estimate(pixels, pixels[::-1])
    assert same.strength == 0
    assert np.allclose(same.rgb(pixels), pixels, atol=1e-9)
    graded = np.clip(pixels * [1.1, 0.95, 0.7] - 0.05, 0, 1)   # a warm cast, a little under
    t = match.estimate(pixels, graded)
    before = match.distance(match.rgb_to_lab(pixels), match.rgb_to_lab(graded))
    after = match.distance(match.rgb_to_lab(t.rgb(pixels)), match.rgb_to_lab(graded))
    assert t.strength == 1 and before > 8 and after < 0.4 * before


def test_cube_is_the_format_ffmpeg_reads():
    t = match.estimate(np.full((10, 3), 0.5) + np.linspace(-0.2, 0.2, 10)[:, None],
                       np.full((10, 3), 0.3) + np.linspace(-0.2, 0.2, 10)[:, None])
    lines = match.cube_text(t, size=5).splitlines()
    assert "LUT_3D_SIZE 5" in lines
    rows = [list(map(float, ln.split())) for ln in lines if ln[:1].isdigit()]
    assert len(rows) == 125 and all(0 <= v <= 1 for r in rows for v in r)


def test_default_and_choice():
    assert match_wanted(None, "openai") and not match_wanted(None, "local")
    assert match_wanted("on", "local") and not match_wanted("off", "openai")


# --------------------------------------------------------------------------- bad values refused (no process)


@pytest.mark.parametrize("text, want", [("match=on", "on"), ("match=OFF", "off")])
def test_note_option(text, want):
    note = parse_note(f"a fox | {text}")
    assert note.problems == [] and note.options.match == want


def test_note_option_bad_value_is_a_problem():
    note = parse_note("a fox | match=maybe")
    assert note.options.match is None
    assert note.problems == ["option match='maybe' is not valid: it must be on or off"]


def test_config_match(tmp_path):
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text("match = false\n")
    assert load_settings(cfg, environ={}).match == "off"
    cfg.write_text('match = "On"\n')
    assert load_settings(cfg, environ={}).match == "on"
    cfg.write_text('match = "sometimes"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ={})
    assert "match" in str(err.value) and "'on' or 'off'" in str(err.value)


def test_run_flag_bad_value_is_refused(tmp_path, capsys):
    tl = tmp_path / "cut.otio"
    tl.write_text("{}")
    assert main(["fill", str(tl), "-o", str(tmp_path / "out.otio"), "--match", "maybe"]) == 2
    err = capsys.readouterr().err
    assert "--match" in err and "'on'" in err and "Traceback" not in err
    assert not (tmp_path / "out.otio").exists()


@pytest.mark.slow
def test_scan_shows_a_bad_match_option_and_fill_refuses_it(tmp_path, capsys):
    tl = otio.schema.Timeline(name="cut")
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(gap(12, R25, marker("GEN: a fox | match=sideways", 0, 12, R25)))
    tl.tracks.append(v1)
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(src))
    assert main(["scan", str(src), "--resolution", "320x180"]) == 0
    assert "match='sideways' is not valid: it must be on or off" in capsys.readouterr().out
    out = tmp_path / "out.otio"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180"]) == 2
    assert "match='sideways'" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- a graded pair (real ffmpeg)


def make_set(path: Path) -> Path:
    """A still set wider than the frame: light from sky to ground, and a few objects."""
    ramp = "r='150+(70-150)*Y/H':g='180+(90-180)*Y/H':b='205+(60-205)*Y/H'"
    boxes = [(40, 60, 60, 70, "0xc68642"), (150, 25, 90, 110, "0x2e5e3e"), (270, 95, 70, 50, "0xe8e0d0"),
             (210, 120, 40, 40, "0x202020")]
    chain = f"color=s=420x180,format=gbrp,geq={ramp}" + "".join(
        f",drawbox=x={x}:y={y}:w={w}:h={h}:color={c}:t=fill" for x, y, w, h, c in boxes)
    ffmpeg("-f", "lavfi", "-i", chain, "-frames:v", "1", str(path))
    return path


def pan(the_set: Path, path: Path, start: int, frames: int, grade: str | None = None) -> Path:
    """Frames of a camera panning one pixel a frame across the set, graded when asked, then grain."""
    chain = f"crop=w=320:h=180:x='n+{start}':y=0" + (f",format=gbrpf32le,{grade}" if grade else "")
    chain += ",format=yuv420p,noise=alls=4:allf=t"
    ffmpeg("-loop", "1", "-framerate", "25", "-i", str(the_set), "-vf", chain, "-frames:v", str(frames),
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.fixture(scope="module")
def graded_pair(tmp_path_factory):
    """(plain clip, [before png, after png], before clip, after clip): the neighbours graded, the clip not."""
    d = tmp_path_factory.mktemp("graded")
    the_set = make_set(d / "set.png")
    before = pan(the_set, d / "before.mp4", 0, 20, TEAL_ORANGE)
    plain = pan(the_set, d / "generated.mp4", 20, 24)
    after = pan(the_set, d / "after.mp4", 44, 20, TEAL_ORANGE)
    from shotfill.media.frames import extract_frame
    pngs = [str(extract_frame(before, 19, d / "before.png")), str(extract_frame(after, 0, d / "after.png"))]
    return plain, pngs, before, after


def target(frames: int = 30) -> ConformTarget:
    return ConformTarget(width=320, height=180, rate=25, frames=frames, timecode="01:00:00:00")


@pytest.mark.slow
def test_graded_pair_distance_falls_in_one_pass(graded_pair, tmp_path, monkeypatch):
    plain, pngs, _, _ = graded_pair
    # The LUT's folder has the characters a filter graph must escape.
    looks = tmp_path / "it's a: look, v2"
    look = match.prepare(plain, pngs, looks, choice=None, provider="openai")
    assert look is not None and look.cube is not None and look.cube.parent == looks
    runs: list[list[str]] = []
    real_run = tools.run

    def recording(argv, **kw):
        runs.append(list(argv))
        return real_run(argv, **kw)

    monkeypatch.setattr(conform_mod.tools, "run", recording)
    dst = tmp_path / "matched.mov"
    conform(plain, dst, target(), look=look.cube)
    ffmpegs = [a for a in runs if Path(a[0]).name.startswith("ffmpeg")]     # probes are ffprobe
    encodes = [a for a in ffmpegs if "-filter_complex" in a]
    assert len(ffmpegs) == 1 and len(encodes) == 1        # one ffmpeg pass, the LUT inside it
    graph = encodes[0][encodes[0].index("-filter_complex") + 1]
    assert "lut3d" in graph and graph.index("lut3d") < graph.index("out_color_matrix")
    # ffprobe: exact frames, size, rate, timecode
    s = video_stream(dst)
    assert (s["width"], s["height"], s["r_frame_rate"]) == (320, 180, "25/1")
    assert s["tags"]["timecode"] == "01:00:00:00"
    assert decoded_frames(dst) == 30
    res = match.result(look, dst, pngs)
    assert res.applied and res.distance_before is not None and res.distance_after is not None
    assert res.distance_before > 8
    assert res.distance_after < 0.4 * res.distance_before   # the 60 % fall, measured on the file


@pytest.mark.slow
def test_no_look_is_the_plain_conform(graded_pair, tmp_path):
    plain, pngs, _, _ = graded_pair
    assert match.prepare(plain, pngs, tmp_path, choice="off", provider="openai") is None
    assert match.prepare(plain, pngs, tmp_path, choice=None, provider="local") is None
    assert match.prepare(plain, [None, str(tmp_path / "missing.png")], tmp_path, choice=None,
                         provider="openai") is None
    on = match.prepare(plain, [None, None], tmp_path, choice="on", provider="openai")
    assert on is not None and on.cube is None and "no neighbour frame" in on.warnings[0]
    info = probe(plain)
    assert "lut3d" not in " ".join(conform_argv(info, tmp_path / "x.mov", target()))


@pytest.mark.slow
def test_a_clip_whose_colours_cannot_be_read_keeps_its_place(graded_pair, tmp_path):
    _, pngs, _, _ = graded_pair
    broken = tmp_path / "clip.mp4"
    broken.write_bytes(b"not a video at all")
    look = match.prepare(broken, pngs, tmp_path / "looks", choice=None, provider="openai")
    assert look is not None and look.cube is None
    assert "left as generated" in look.warnings[0] and str(broken) in look.warnings[0]


# --------------------------------------------------------------------------- end to end, fake service


def write_cut(tmp_path: Path, note: str) -> Path:
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(90000, 25))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 10, R25, src=10, url="before.mp4", avail=(0, 20)))
    v1.append(gap(24, R25, marker(f"GEN: {note}", 0, 24, R25)))
    v1.append(clip("b", 10, R25, src=0, url="after.mp4", avail=(0, 20)))
    tl.tracks.append(v1)
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(src))
    return src


def neighbours_and_key(graded_pair, tmp_path: Path, monkeypatch) -> Path:
    """The graded neighbours beside write_cut's timeline and the gateway's key; the plain clip to serve."""
    plain, _, before, after = graded_pair
    for p in (before, after):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-match")
    return plain


def gateway_config(tmp_path: Path, url: str) -> Path:
    from fakes.openai import GATEWAY_MODEL

    cfg = tmp_path / "shotfill.toml"
    cfg.write_text(f'[providers.openai]\nbase_url = "{url}"\npoll_interval = 0.01\n' + GATEWAY_MODEL)
    return cfg


@pytest.mark.slow
def test_fill_matches_by_default_and_match_off_leaves_pixels_alone(graded_pair, tmp_path, monkeypatch, capsys):
    from fakes.openai import FakeOpenAI

    plain = neighbours_and_key(graded_pair, tmp_path, monkeypatch)
    with FakeOpenAI(plain.read_bytes(), key="sk-test-match") as fake:
        cfg = gateway_config(tmp_path, fake.url)
        outs = {}
        for name, note, flag in (("on", "a street | seed=3", []), ("off", "a street | seed=3 match=off", []),
                                 ("flag_off", "a street | seed=3", ["--match", "off"])):
            out = tmp_path / name / "filled.otio"
            code = main(["fill", str(write_cut(tmp_path, note)), "-o", str(out), "--config", str(cfg),
                         "--provider", "openai", "--state-dir", str(tmp_path / "state"), *flag])
            assert code == 0, capsys.readouterr().err
            [media] = [c.media_reference.target_url for c in otio.adapters.read_from_file(str(out)).find_clips()
                       if "shotfill" in c.metadata]
            outs[name] = (Path(media.removeprefix("file://")), json.loads((out.parent / "report.json").read_text()))
    # one generation: the match changes no request, so later runs reuse the clip from the cache
    assert sum(1 for r in fake.requests if r.method == "POST") == 1

    on_media, on_report = outs["on"]
    [row] = on_report["placeholders"]
    assert row["match"] == "matched"
    assert row["colour_distance_after"] < 0.4 * row["colour_distance_before"]
    html = (tmp_path / "on" / "report.html").read_text()
    assert "colour match" in html and "ΔE00" in html
    assert decoded_frames(on_media) == 24

    off_media, off_report = outs["off"]
    assert off_report["placeholders"][0]["match"] is None
    plain_conform = tmp_path / "plain.mov"
    conform(plain, plain_conform, ConformTarget(width=320, height=180, rate=25, frames=24, timecode="01:00:00:10"))
    assert framemd5(off_media) == framemd5(plain_conform)      # match=off: not one pixel changed
    assert framemd5(outs["flag_off"][0]) == framemd5(plain_conform)
    assert framemd5(on_media) != framemd5(plain_conform)
    assert on_media.name != off_media.name                   # the look is part of the media's name


@pytest.mark.slow
def test_each_take_records_its_own_colour_distances_in_the_report_and_the_json_summary(
        graded_pair, tmp_path, monkeypatch, capsys):
    from fakes.openai import FakeOpenAI

    plain = neighbours_and_key(graded_pair, tmp_path, monkeypatch)
    with FakeOpenAI(plain.read_bytes(), key="sk-test-match") as fake:
        cfg = gateway_config(tmp_path, fake.url)
        out = tmp_path / "takes" / "filled.otio"
        capsys.readouterr()
        code = main(["fill", str(write_cut(tmp_path, "a street | seed=3 takes=2")), "-o", str(out),
                     "--config", str(cfg), "--provider", "openai", "--state-dir", str(tmp_path / "state"),
                     "--json", "--quiet"])
        assert code == 0, capsys.readouterr().err
        assert sum(1 for r in fake.requests if r.method == "POST") == 2
    summary = json.loads(capsys.readouterr().out)
    [row] = summary["placeholders"]
    assert row["match"] == "matched"
    assert row["colour_distance_after"] < 0.4 * row["colour_distance_before"]
    [report_row] = json.loads((out.parent / "report.json").read_text())["placeholders"]
    for rows in (row["takes"], report_row["takes"]):
        assert [t["take"] for t in rows] == [1, 2]
        for t in rows:
            assert t["match"] == "matched"
            assert t["colour_distance_after"] < 0.4 * t["colour_distance_before"]


@pytest.mark.slow
def test_scan_and_dry_run_say_whether_and_toward_what_each_clip_will_be_matched(graded_pair, tmp_path, monkeypatch,
                                                                               capsys):
    neighbours_and_key(graded_pair, tmp_path, monkeypatch)
    cfg = gateway_config(tmp_path, "https://gateway.example")
    src = write_cut(tmp_path, "a street | seed=3")
    common = ["--config", str(cfg), "--resolution", "320x180"]
    for argv, said in (([], "colour match: on, toward a and b"),
                       (["--match", "off"], "colour match: off (match=off)")):
        capsys.readouterr()
        assert main(["scan", str(src), "--provider", "openai", *common, *argv]) == 0
        assert said in capsys.readouterr().out
        assert main(["fill", str(src), "-o", str(tmp_path / "o.otio"), "--provider", "openai", "--dry-run",
                     *common, *argv]) == 0
        assert said in capsys.readouterr().out
    assert main(["scan", str(src), "--provider", "local", *common]) == 0
    assert "colour match: off: the offline generator draws its frames from the neighbours" in capsys.readouterr().out
    assert main(["scan", str(src), "--provider", "openai", "--json", *common]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["plan"]["match"] == "on, toward a and b"
