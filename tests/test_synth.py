"""The offline generator's bridge and slate renders."""

from __future__ import annotations

import shutil
import tempfile

import pytest
from mediautil import close, framemd5, make_png, mean_rgb, video_stream

from shotfill.media import synth, tools
from shotfill.media.conform import conform, matches
from shotfill.media.probe import probe
from shotfill.model import Codec, ConformTarget

pytestmark = pytest.mark.slow          # real ffmpeg renders

HOSTILE = (
    "He said \"don't\" -- it's 50% done: C:\\path\\to\\x; 100%% %{pts} %{eif:n:d} ${HOME} `rm -rf`\n"
    "second line [a]=[b],c;d 'quoted' \\n \\\\ \\' \t tab\r\n"
    "ünïcødé café ✓ → naïve 日本語 עברית emoji 🎬 \x07bell"
)
#: a middle band where no text is drawn (label/timecode are above, prompt below)
MIDDLE = (0.05, 0.3, 0.9, 0.2)


def target(**kw) -> ConformTarget:
    base = dict(width=320, height=180, rate="24000/1001", frames=24, timecode="01:00:00:00")
    return ConformTarget(**{**base, **kw})


@pytest.fixture(scope="module")
def stills(tmp_path_factory):
    d = tmp_path_factory.mktemp("stills")
    # The before frame is bigger and 4:3, as a neighbour's frame may be.
    return make_png(d / "before.png", 640, 480, "red"), make_png(d / "after.png", 320, 180, "blue")


@pytest.fixture(scope="module")
def bridge(stills, tmp_path_factory):
    out = tmp_path_factory.mktemp("bridge") / "bridge.mov"
    t = target()
    synth.render_bridge(*stills, t, prompt="a slow push-in on the harbour at dusk",
                        shot_label="V1 gap 2", seed=3, out=out)
    return out, t


def test_bridge_moves_from_before_to_after(bridge):
    out, t = bridge
    first, mid, last = (mean_rgb(out, i, MIDDLE) for i in (0, t.frames // 2, t.frames - 1))
    assert close(first, (255, 0, 0), 10), first
    assert close(last, (0, 0, 255), 10), last
    assert 80 < mid[0] < 180 and 80 < mid[2] < 180 and mid[1] < 20, mid


def test_a_bridge_holds_and_dissolves_for_a_second_under_a_running_timecode(stills, tmp_path):
    t = target(rate="24", frames=96)
    out = synth.render_bridge(*stills, t, prompt="p", shot_label="s", seed=1, out=tmp_path / "long.mov")
    middle = [mean_rgb(out, i, MIDDLE) for i in range(t.frames)]
    hold = (t.frames - 1 - 24) // 2
    assert all(close(c, (255, 0, 0), 10) for c in middle[:hold]), middle
    assert all(close(c, (0, 0, 255), 10) for c in middle[hold + 24:]), middle
    mixed = [c for c in middle if not close(c, (255, 0, 0), 10) and not close(c, (0, 0, 255), 10)]
    assert 20 <= len(mixed) <= 24 and middle.index(mixed[0]) >= hold, middle
    # frame by frame from one picture to the other, not one mix held
    assert all(a[0] > b[0] and a[2] < b[2] for a, b in zip(mixed, mixed[1:])), mixed
    # Every frame differs, held ones too: the digits run over the box drawn once on the stills.
    assert len(set(framemd5(out))) == t.frames


def test_bridge_is_what_the_slot_needs_and_conform_just_copies_it(bridge, tmp_path, monkeypatch):
    out, t = bridge
    raw = video_stream(out, "-count_frames")
    assert (raw["width"], raw["height"], raw["r_frame_rate"]) == (320, 180, "24000/1001")
    assert int(raw["nb_read_frames"]) == 24 and raw["tags"]["timecode"] == "01:00:00:00"
    assert (raw["codec_name"], raw["profile"], raw["pix_fmt"]) == ("prores", "HQ", "yuv422p10le")
    assert matches(probe(out), t)

    ran: list[list[str]] = []
    real = tools.run
    monkeypatch.setattr(tools, "run", lambda argv, **kw: (ran.append(argv), real(argv, **kw))[1])
    conform(out, tmp_path / "placed.mov", t)
    assert not [a for a in ran if "ffprobe" not in a[0]], "no ffmpeg run: the render already matches"


def test_bridge_drop_frame_h264_and_one_frame(stills, tmp_path):
    t = target(rate="30000/1001", frames=30, timecode="00:59:59;29", codec=Codec.H264)
    info = probe(synth.render_bridge(*stills, t, prompt="p", shot_label="", seed=0, out=tmp_path / "b.mp4"))
    assert (info.frames, info.timecode, info.codec) == (30, "00:59:59;29", "h264")
    assert matches(info, t)

    one = target(frames=1)
    info = probe(synth.render_bridge(*stills, one, prompt="p", shot_label="x", seed=0, out=tmp_path / "1.mov"))
    assert info.frames == 1 and close(mean_rgb(tmp_path / "1.mov", 0, MIDDLE), (255, 0, 0), 10)


def test_slate_is_deterministic_per_seed(tmp_path):
    t = target(frames=12)
    kw = dict(prompt="wide establishing shot", shot_label="V2 gap 7")
    a = synth.render_slate(t, seed=42, out=tmp_path / "a.mov", **kw)
    b = synth.render_slate(t, seed=42, out=tmp_path / "b.mov", **kw)
    c = synth.render_slate(t, seed=43, out=tmp_path / "c.mov", **kw)
    assert framemd5(a) == framemd5(b)
    assert framemd5(a)[0] != framemd5(c)[0], "another seed, another card"
    assert len(set(framemd5(a))) == 12, "the running timecode changes every frame"
    info = probe(a)
    assert matches(info, t) and info.timecode == "01:00:00:00"


def test_text_is_actually_drawn(tmp_path):
    t = target(frames=1)
    a = synth.render_slate(t, prompt="first prompt", shot_label="s", seed=1, out=tmp_path / "a.mov")
    b = synth.render_slate(t, prompt="second prompt", shot_label="s", seed=1, out=tmp_path / "b.mov")
    assert framemd5(a) != framemd5(b)


@pytest.fixture
def hostile_paths(tmp_path, monkeypatch):
    """Font and text files in a folder whose name needs escaping at both filter-graph levels."""
    weird = tmp_path / "we:ird 'dir', [x];y=z%"
    weird.mkdir()
    font = tools.font_file()
    if font is None:
        pytest.skip("no font on this machine")
    shutil.copy(font, weird / "my font's:file.ttf")
    monkeypatch.setenv("SHOTFILL_FONT", str(weird / "my font's:file.ttf"))
    monkeypatch.setattr(tempfile, "tempdir", str(weird))
    tools.reset_cache()
    yield weird
    tools.reset_cache()


def test_hostile_prompt_and_paths_render(stills, hostile_paths):
    t = target(frames=6, timecode="01:00:00;00", rate="30000/1001")
    for render in ("bridge", "slate"):
        out = hostile_paths / f"{render} out:'1'.mov"
        if render == "bridge":
            synth.render_bridge(*stills, t, prompt=HOSTILE, shot_label=HOSTILE, seed=9, out=out)
        else:
            synth.render_slate(t, prompt=HOSTILE, shot_label="V1 ;[gap]=1", seed=9, out=out)
        info = probe(out)
        assert (info.frames, info.timecode) == (6, "01:00:00;00")
    assert sorted(p.name for p in hostile_paths.iterdir()) == [
        "bridge out:'1'.mov", "my font's:file.ttf", "slate out:'1'.mov"], "temp text files are cleaned up"


def test_prompt_wrapping():
    wrapped = synth._wrap("word " * 200, cols=20, max_lines=3)
    lines = wrapped.split("\n")
    assert len(lines) == 3 and all(len(line) <= 20 for line in lines) and lines[-1].endswith("\u2026")
    assert synth._printable("a\tb\x07c\r\nd") == "a    bc\nd"


def test_bridge_with_one_readable_neighbour_holds_it(tmp_path):
    from shotfill.media import synth
    from shotfill.model import ConformTarget
    from mediautil import make_png, decoded_frames

    png = make_png(tmp_path / "only.png", 320, 180, "red")
    target = ConformTarget(width=320, height=180, rate="25", frames=10, timecode="01:00:00:00")
    out = synth.render_bridge(png, png, target, prompt="one side", shot_label="V1_x", seed=1,
                              out=tmp_path / "b.mov")
    assert decoded_frames(out) == 10


@pytest.mark.parametrize("codec", [Codec.PRORES, Codec.H264])
def test_offline_renders_need_no_second_encode_on_any_ffmpeg(each_ffmpeg, all_ffprobes, stills, tmp_path,
                                                             monkeypatch, codec):
    t = target(frames=12, codec=codec)
    clips = [
        synth.render_bridge(*stills, t, prompt="p", shot_label="b", seed=1, out=tmp_path / f"b{codec.suffix}"),
        synth.render_slate(t, prompt="p", shot_label="s", seed=1, out=tmp_path / f"s{codec.suffix}"),
    ]
    ran: list[list[str]] = []
    real = tools.run
    monkeypatch.setattr(tools, "run", lambda argv, **kw: (ran.append(argv), real(argv, **kw))[1])
    for clip in clips:
        conform(clip, tmp_path / f"placed_{clip.name}", t)
        for label, ffprobe_bin in all_ffprobes.items():
            monkeypatch.setenv("SHOTFILL_FFPROBE", ffprobe_bin)
            tools.reset_cache()
            info = probe(clip)
            assert (info.color_primaries, info.color_transfer, info.color_space) == ("bt709",) * 3, \
                f"{clip.name} written by {each_ffmpeg[0]}, read by the {label} ffprobe"
            assert matches(info, t)
        monkeypatch.setenv("SHOTFILL_FFPROBE", each_ffmpeg[2])
        tools.reset_cache()
    assert not [a for a in ran if "ffprobe" not in a[0]], "conform ran no ffmpeg: the renders already match"
