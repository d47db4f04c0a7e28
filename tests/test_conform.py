"""conform(): one ffmpeg pass to the exact size, rate, length, codec and timecode, verified."""

from __future__ import annotations

import filecmp
from fractions import Fraction

import pytest
from mediautil import (
    close, counter_index, decoded_frames, ffprobe_json, framemd5, make_test_clip, mean_rgb, pixel,
    video_stream,
)

from shotfill.errors import ConformError, UsageError
from shotfill.media import conform as conform_mod
from shotfill.media import tools
from shotfill.media.conform import conform, conform_argv
from shotfill.media.probe import probe
from shotfill.model import Codec, ConformTarget, Fit

pytestmark = pytest.mark.slow          # real ffmpeg and ffprobe


def target(**kw) -> ConformTarget:
    base = dict(width=320, height=180, rate="24000/1001", frames=24, timecode="01:00:00:00")
    return ConformTarget(**{**base, **kw})


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """A 4:3 25 fps source, so every conform scales, changes rate and fits."""
    return make_test_clip(tmp_path_factory.mktemp("src") / "src.mp4", w=240, h=180, frames=30)


@pytest.fixture
def ffmpeg_calls(monkeypatch):
    """argv of every ffmpeg (not ffprobe) run through tools.run."""
    calls: list[list[str]] = []
    real = tools.run

    def recording(argv, **kw):
        if "ffprobe" not in argv[0]:
            calls.append(list(argv))
        return real(argv, **kw)

    monkeypatch.setattr(tools, "run", recording)
    return calls


def graph_of(argv: list[str]) -> str:
    return argv[argv.index("-filter_complex") + 1]


def filter_names(graph: str) -> list[str]:
    return [f.split("]", 1)[1].split("=", 1)[0] for f in graph.split(";")]


def opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


# -- the command line ------------------------------------------------------------------------

def test_a_thread_share_binds_the_filter_graph_too(src, tmp_path):
    # Filters slice-thread over every core unless told; a conform given one thread (one of several side
    # by side, or on a Dask worker of one thread) must stay on it, and runs it once ffmpeg accepts it.
    argv = conform_argv(probe(src), tmp_path / "o.mov", target(frames=4), threads=1)
    assert opt(argv, "-filter_complex_threads") == "1" and opt(argv, "-filter_threads") == "1"
    assert opt(argv, "-threads") == "1"
    tools.run(argv, what="a one-thread conform")
    assert probe(tmp_path / "o.mov").frames == 4
    free = conform_argv(probe(src), tmp_path / "p.mov", target(frames=4))
    assert "-filter_complex_threads" not in free and "-threads" not in free


def test_argv_is_one_pass_with_rational_rate_hold_and_cut(src, tmp_path):
    t = target(rate="30000/1001", frames=48, timecode="01:00:00;00", fit=Fit.FIT)
    argv = conform_argv(probe(src), tmp_path / "o.mov", t)
    assert argv[0] == tools.ffmpeg_path()
    assert argv.count("-i") == 1 and argv.count("-filter_complex") == 1
    graph = graph_of(argv)
    assert filter_names(graph) == ["setpts", "fps", "tpad", "trim", "scale", "pad", "setsar", "format",
                                   "setparams"]
    assert "fps=fps=30000/1001" in graph and "29.97" not in " ".join(argv)
    assert "tpad=stop=-1:stop_mode=clone" in graph
    assert "trim=end_frame=48" in graph and opt(argv, "-frames:v") == "48"
    assert "out_color_matrix=bt709" in graph and "setsar=sar=1" in graph
    assert "pad=color=black:h=180:w=320:x=40:y=0" in graph
    for flag in ("-color_primaries", "-color_trc", "-colorspace"):
        assert opt(argv, flag) == "bt709"
    assert opt(argv, "-timecode") == "01:00:00;00"
    assert opt(argv, "-c:v") == "prores" and opt(argv, "-profile:v") == "3"
    assert "format=pix_fmts=yuv422p10le" in graph
    # on the frames too: output options alone do not reach the file on every build (Debian's 5.1)
    assert "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv" in graph
    assert "-an" in argv and "-nostdin" in argv and opt(argv, "-f") == "mov"


@pytest.mark.parametrize("codec, encoder, extra", [
    (Codec.PRORES_KS, "prores_ks", ("-profile:v", "3")),
    (Codec.DNXHR, "dnxhd", ("-profile:v", "dnxhr_hq")),
    (Codec.H264, "libx264", ("-movflags", "+faststart")),
])
def test_argv_codecs(src, tmp_path, codec, encoder, extra):
    argv = conform_argv(probe(src), tmp_path / f"o{codec.suffix}", target(codec=codec))
    assert opt(argv, "-c:v") == encoder and opt(argv, extra[0]) == extra[1]


def test_anamorphic_source_is_fitted_by_display_aspect(tmp_path):
    # 240x180 at SAR 4:3 displays as 320x180: no crop or pad needed.
    clip = make_test_clip(tmp_path / "ana.mov", w=240, h=180, frames=2, codec="prores", extra=("-vf", "setsar=4/3"))
    graph = graph_of(conform_argv(probe(clip), tmp_path / "o.mov", target()))
    assert "scale=h=180" in graph and ":w=320" in graph
    assert not {"crop", "pad"} & set(filter_names(graph))


# -- real runs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rate, frames, tc", [
    ("24000/1001", 24, "01:00:00:00"),
    ("25", 30, "10:00:00:00"),
    ("30000/1001", 36, "01:00:00;00"),
    ("60000/1001", 48, "00:59:59;58"),
    ("50", 40, "01:02:03:04"),
])
def test_rates_frames_and_timecode(each_ffmpeg, src, tmp_path, ffmpeg_calls, rate, frames, tc):
    t = target(rate=rate, frames=frames, timecode=tc)
    dst = tmp_path / "out.mov"
    info = conform(src, dst, t)
    assert len(ffmpeg_calls) == 1, "one ffmpeg pass"
    assert (info.width, info.height, info.frames, info.timecode) == (320, 180, frames, tc)
    assert info.rate == Fraction(rate) and info.path == str(dst)
    # ffprobe's own view, not ours
    raw = video_stream(dst, "-count_frames")
    assert raw["r_frame_rate"] == (rate if "/" in rate else f"{rate}/1")
    assert int(raw["nb_read_frames"]) == frames
    assert raw["tags"]["timecode"] == tc
    assert (raw["color_primaries"], raw["color_transfer"], raw["color_space"]) == ("bt709",) * 3
    assert raw["sample_aspect_ratio"] == "1:1"
    assert not [p for p in tmp_path.iterdir() if p.name != "out.mov"], "no temp files left"


@pytest.mark.parametrize("fit", list(Fit))
def test_fit_policies(src, tmp_path, fit):
    # A white 4:3 picture into a 16:9 frame.
    white = make_test_clip(tmp_path / "white.mp4", w=240, h=180, frames=4, source="white")
    dst = conform(white, tmp_path / "o.mov", target(frames=4, fit=fit))
    assert (dst.width, dst.height) == (320, 180)
    edge, centre = pixel(tmp_path / "o.mov", 4, 90), pixel(tmp_path / "o.mov", 160, 90)
    assert close(centre, (255, 255, 255), 8)
    if fit is Fit.FIT:
        assert close(edge, (0, 0, 0), 8), "pillarbox bars are black"
        assert close(pixel(tmp_path / "o.mov", 39, 90), (0, 0, 0), 8)
        assert close(pixel(tmp_path / "o.mov", 42, 90), (255, 255, 255), 8)
    else:
        assert close(edge, (255, 255, 255), 8), "no bars"


def test_fill_crops_the_centre(tmp_path):
    # testsrc2 at 240x180 filled into 320x180: scaled to 320x240, 30 rows cut top and bottom.
    clip = make_test_clip(tmp_path / "t.mp4", w=240, h=180, frames=2, codec="h264_lossless")
    conform(clip, tmp_path / "o.mov", target(frames=2, fit=Fit.FILL))
    graph = graph_of(conform_argv(probe(clip), tmp_path / "x.mov", target(frames=2)))
    assert "scale=h=240" in graph and "crop=h=180:w=320:x=0:y=30" in graph


def test_short_source_holds_its_last_frame(tmp_path):
    short = make_test_clip(tmp_path / "short.mp4", frames=10, source="counter", codec="h264_lossless")
    dst = tmp_path / "o.mov"
    info = conform(short, dst, target(rate="25", frames=24))
    assert info.frames == 24 == decoded_frames(dst)
    hashes = framemd5(dst)
    assert len(set(hashes[9:])) == 1, "frames 9..23 are the held last frame"
    assert counter_index(mean_rgb(dst, 23)) == 9
    assert counter_index(mean_rgb(dst, 5)) == 5


def test_long_source_is_cut(tmp_path):
    long = make_test_clip(tmp_path / "long.mp4", frames=40, source="counter", codec="h264_lossless")
    dst = tmp_path / "o.mov"
    assert conform(long, dst, target(rate="25", frames=12)).frames == 12
    assert decoded_frames(dst) == 12
    assert counter_index(mean_rgb(dst, 11)) == 11


@pytest.mark.parametrize("codec, codec_name, profile, pix_fmt, brand", [
    (Codec.PRORES, "prores", "HQ", "yuv422p10le", "qt  "),
    (Codec.PRORES_KS, "prores", "HQ", "yuv422p10le", "qt  "),
    (Codec.DNXHR, "dnxhd", "DNXHR HQ", "yuv422p", "qt  "),
    (Codec.H264, "h264", "High", "yuv420p", "isom"),
])
def test_codecs(each_ffmpeg, src, tmp_path, codec, codec_name, profile, pix_fmt, brand):
    dst = tmp_path / f"o{codec.suffix}"
    info = conform(src, dst, target(codec=codec, frames=12))
    assert (info.codec, info.profile, info.pix_fmt) == (codec_name, profile, pix_fmt)
    raw = ffprobe_json(dst)
    stream = next(s for s in raw["streams"] if s["codec_type"] == "video")
    assert (stream["codec_name"], stream["profile"], stream["pix_fmt"]) == (codec_name, profile, pix_fmt)
    assert raw["format"]["tags"]["major_brand"] == brand
    assert not any(s["codec_type"] == "audio" for s in raw["streams"])
    if codec is Codec.H264:
        data = dst.read_bytes()
        assert data.index(b"moov") < data.index(b"mdat"), "faststart"


@pytest.mark.parametrize("codec", [Codec.PRORES, Codec.DNXHR, Codec.H264])
def test_colour_tags_reach_the_file_for_every_ffprobe(each_ffmpeg, all_ffprobes, src, tmp_path, monkeypatch, codec):
    dst = tmp_path / f"o{codec.suffix}"
    conform(src, dst, target(codec=codec, frames=6))
    for label, ffprobe_bin in all_ffprobes.items():
        monkeypatch.setenv("SHOTFILL_FFPROBE", ffprobe_bin)
        tools.reset_cache()
        raw = video_stream(dst)
        assert (raw.get("color_primaries"), raw.get("color_transfer"), raw.get("color_space")) == ("bt709",) * 3, \
            f"written by {each_ffmpeg[0]}, read by the {label} ffprobe"
        assert conform_mod.matches(probe(dst), target(codec=codec, frames=6)), label


def test_untagged_result_is_an_error_not_a_silent_second_encode(src, tmp_path, monkeypatch):
    untagged = make_test_clip(tmp_path / "u.mov", rate="24000/1001", frames=6, codec="prores",
                              extra=("-timecode", "01:00:00:00"))
    wrong = conform_mod.problems(probe(untagged), target(frames=6))
    assert wrong and all("colour" in w for w in wrong), wrong

    # A build that drops the tags: no setparams in the graph, no colour output options.
    real_kwargs = conform_mod.encode_kwargs
    monkeypatch.setattr(conform_mod, "tag_bt709", lambda v: v)
    monkeypatch.setattr(conform_mod, "encode_kwargs", lambda t, threads=None: {
        k: v for k, v in real_kwargs(t, threads=threads).items()
        if k not in ("color_primaries", "color_trc", "colorspace")})
    with pytest.raises(ConformError, match=r"colour is tagged"):
        conform(src, tmp_path / "bad.mov", target(frames=6))
    assert not (tmp_path / "bad.mov").exists()


def test_suffix_must_match_codec(src, tmp_path):
    with pytest.raises(UsageError, match=r"\.mp4"):
        conform(src, tmp_path / "o.mov", target(codec=Codec.H264))


# -- no re-encode when it already matches --------------------------------------------------------

@pytest.fixture
def conformed(each_ffmpeg, src, tmp_path):
    t = target(frames=12)
    return conform(src, tmp_path / "ready.mov", t), t


def test_matching_source_with_same_timecode_is_copied(conformed, tmp_path, ffmpeg_calls):
    info, t = conformed
    dst = tmp_path / "copy.mov"
    conform(info.path, dst, t)
    assert ffmpeg_calls == [], "no ffmpeg at all"
    assert filecmp.cmp(info.path, dst, shallow=False)


def test_matching_source_with_other_timecode_is_restamped_not_reencoded(conformed, tmp_path, ffmpeg_calls):
    info, t = conformed
    dst = tmp_path / "restamped.mov"
    out = conform(info.path, dst, t.model_copy(update={"timecode": "02:00:00:00"}))
    assert out.timecode == "02:00:00:00" == video_stream(dst)["tags"]["timecode"]
    assert len(ffmpeg_calls) == 1
    assert "-filter_complex" not in ffmpeg_calls[0] and opt(ffmpeg_calls[0], "-c:v") == "copy"
    assert framemd5(dst) == framemd5(info.path)


def test_in_place_conform_of_a_matching_file_does_nothing(conformed, ffmpeg_calls):
    info, t = conformed
    before = (info.path, open(info.path, "rb").read())
    assert conform(info.path, info.path, t).frames == 12
    assert ffmpeg_calls == [] and open(before[0], "rb").read() == before[1]


def test_other_profile_is_reencoded(src, tmp_path, ffmpeg_calls):
    lt = make_test_clip(tmp_path / "lt.mov", rate="24000/1001", frames=24, codec="prores",
                        extra=("-profile:v", "1", "-color_primaries", "bt709", "-color_trc", "bt709",
                               "-colorspace", "bt709"))
    assert probe(lt).profile == "LT"
    assert conform(lt, tmp_path / "o.mov", target()).profile == "HQ"
    assert "-filter_complex" in ffmpeg_calls[0]


# -- verification ------------------------------------------------------------------------------------

def test_wrong_result_raises_and_leaves_no_file(src, tmp_path, monkeypatch):
    real = conform_mod.conform_argv

    def one_frame_short(*a, **kw):
        argv = real(*a, **kw)
        argv[argv.index("-frames:v") + 1] = "11"
        return argv

    monkeypatch.setattr(conform_mod, "conform_argv", one_frame_short)
    dst = tmp_path / "bad.mov"
    with pytest.raises(ConformError, match=r"bad\.mov.*11 frames, not 12"):
        conform(src, dst, target(frames=12))
    assert list(tmp_path.iterdir()) == []
