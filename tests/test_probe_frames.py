"""probe() against ffprobe's own answers, and exact frame extraction."""

from __future__ import annotations

from fractions import Fraction

import pytest
from mediautil import (
    counter_index, decoded_frames, ffmpeg, make_test_clip, mean_rgb, video_stream,
)

from shotfill.errors import MediaError
from shotfill.media.frames import extract_frame
from shotfill.media.probe import probe

pytestmark = pytest.mark.slow          # real ffmpeg and ffprobe


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    return {
        "prores": make_test_clip(d / "a.mov", rate="24000/1001", frames=30, codec="prores",
                                 extra=("-timecode", "01:00:10:00")),
        "h264": make_test_clip(d / "b.mp4", rate="30000/1001", frames=31,
                               extra=("-timecode", "00:59:59;28", "-bf", "2")),
        "counter": make_test_clip(d / "take:1 'a'.mp4", frames=40, source="counter",
                                  extra=("-bf", "3", "-g", "12")),
    }


def test_prores_mov(each_ffmpeg, clips):
    info = probe(clips["prores"])
    assert (info.width, info.height, info.frames) == (320, 180, 30)
    assert info.rate == Fraction(24000, 1001)
    assert (info.codec, info.profile, info.pix_fmt) == ("prores", "HQ", "yuv422p10le")
    assert info.timecode == "01:00:10:00"
    assert info.sample_aspect_ratio == "1:1"
    raw = video_stream(clips["prores"])
    assert raw["r_frame_rate"] == "24000/1001" and int(raw["nb_frames"]) == info.frames
    assert decoded_frames(clips["prores"]) == info.frames


def test_h264_mp4_with_b_frames_and_drop_frame_timecode(clips):
    info = probe(clips["h264"])
    assert info.frames == 31 == decoded_frames(clips["h264"])
    assert info.rate == Fraction(30000, 1001)
    assert info.timecode == "00:59:59;28"
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")


def test_edit_listed_cut_counts_shown_frames_not_samples(clips, tmp_path):
    # A stream-copied cut keeps the GOP's leading samples (nb_frames) but shows fewer.
    cut = tmp_path / "cut.mp4"
    ffmpeg("-ss", "0.5", "-i", str(clips["counter"]), "-c", "copy", str(cut))
    raw = video_stream(cut)
    assert int(raw["nb_frames"]) > decoded_frames(cut), "precondition: container overcounts"
    assert probe(cut).frames == decoded_frames(cut)


def test_colour_tags_and_anamorphic_sar(each_ffmpeg, tmp_path):
    # setparams, since output options alone reach no file on some builds (Debian's 5.1)
    clip = make_test_clip(tmp_path / "ana.mov", w=240, h=180, frames=3, codec="prores",
                          extra=("-vf", "setsar=4/3,setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709",
                                 "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"))
    info = probe(clip)
    assert info.sample_aspect_ratio == "4:3"
    assert (info.color_primaries, info.color_transfer, info.color_space) == ("bt709",) * 3


def test_missing_unreadable_and_audio_only_files_are_media_errors(tmp_path):
    with pytest.raises(MediaError, match="nope.mov does not exist"):
        probe(tmp_path / "nope.mov")
    junk = tmp_path / "junk.mov"
    junk.write_text("not a movie")
    with pytest.raises(MediaError, match="junk.mov"):
        probe(junk)
    wav = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=d=0.2", str(wav))
    with pytest.raises(MediaError, match="tone.wav has no video stream"):
        probe(wav)


@pytest.mark.parametrize("index", [0, 1, 13, 39])
def test_extract_frame_is_exact(each_ffmpeg, clips, tmp_path, index):
    png = extract_frame(clips["counter"], index, tmp_path / f"f {index}.png")
    assert counter_index(mean_rgb(png)) == index


def test_extract_frame_from_prores(tmp_path):
    clip = make_test_clip(tmp_path / "c.mov", frames=12, source="counter", codec="prores")
    assert counter_index(mean_rgb(extract_frame(clip, 11, tmp_path / "last.png"))) == 11


def test_extract_frame_out_of_range(clips, tmp_path):
    out = tmp_path / "x.png"
    for bad in (-1, 40):
        with pytest.raises(MediaError, match="has no frame"):
            extract_frame(clips["counter"], bad, out)
    assert not out.exists()
    assert counter_index(mean_rgb(extract_frame(clips["counter"], 99, out, clamp=True))) == 39
    assert counter_index(mean_rgb(extract_frame(clips["counter"], -5, out, clamp=True))) == 0


@pytest.mark.parametrize("rate, codec", [("24000/1001", "h264"), ("30000/1001", "prores"), ("25", "h264")])
def test_frames_are_seeked_exactly(each_ffmpeg, tmp_path, rate, codec):
    clip = make_test_clip(tmp_path / f"c.{'mov' if codec == 'prores' else 'mp4'}", rate=rate, frames=48,
                          source="counter", codec=codec, extra=("-g", "20", "-bf", "3") if codec == "h264" else ())
    for index in (0, 1, 19, 20, 21, 33, 47):
        assert counter_index(mean_rgb(extract_frame(clip, index, tmp_path / "f.png"))) == index


def test_seek_counts_from_the_video_start_when_audio_starts_first(tmp_path):
    video = make_test_clip(tmp_path / "v.mp4", frames=30, source="counter")
    both = tmp_path / "late video.mov"
    ffmpeg("-itsoffset", "0.4", "-i", str(video), "-f", "lavfi", "-i", "sine=d=2",
           "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(both))
    assert float(video_stream(both)["start_time"]) > 0.3, "precondition: video starts late"
    for index in (0, 12, 29):
        assert counter_index(mean_rgb(extract_frame(both, index, tmp_path / "f.png"))) == index


def ffmpeg_runs(monkeypatch) -> list[list[str]]:
    from shotfill.media import tools

    runs: list[list[str]] = []
    real = tools.run
    monkeypatch.setattr(tools, "run", lambda argv, **kw: (runs.append(list(argv)), real(argv, **kw))[1])
    return runs


def test_a_frame_is_seeked_before_decode_not_selected_from_the_start(clips, tmp_path, monkeypatch):
    runs = ffmpeg_runs(monkeypatch)
    assert counter_index(mean_rgb(extract_frame(clips["counter"], 5, tmp_path / "f.png"))) == 5
    [argv] = [a for a in runs if "ffprobe" not in a[0]]
    assert argv.index("-ss") < argv.index("-i") and "select" not in " ".join(argv)
    assert len(runs) <= 2, "at most one ffprobe (none when the file was read before), one ffmpeg"


def test_a_frame_is_decoded_on_one_thread_into_the_bytes_a_threaded_decode_gives(tmp_path, monkeypatch):
    # The request hash covers the PNG's bytes: one decoder thread must not change one of them.
    clip = make_test_clip(tmp_path / "b.mp4", w=640, h=360, frames=30, extra=("-bf", "3", "-g", "30"))
    runs = ffmpeg_runs(monkeypatch)
    png = extract_frame(clip, 17, tmp_path / "one.png")
    [argv] = [a for a in runs if "ffprobe" not in a[0]]
    assert argv[argv.index("-i") - 2:argv.index("-i")] == ["-threads", "1"], argv
    threaded = tmp_path / "threaded.png"
    ffmpeg("-threads", "4", "-i", str(clip), "-vf", "select=eq(n\\,17)", "-frames:v", "1", "-c:v", "png",
           "-update", "1", str(threaded))
    assert png.read_bytes() == threaded.read_bytes()


def test_edit_listed_cut_is_taken_by_decode_index(clips, tmp_path, monkeypatch):
    cut = tmp_path / "cut.mp4"
    ffmpeg("-ss", "0.5", "-i", str(clips["counter"]), "-c", "copy", str(cut))
    shown = decoded_frames(cut)
    runs = ffmpeg_runs(monkeypatch)
    for index in (0, 3, shown - 1):
        png = extract_frame(cut, index, tmp_path / f"c{index}.png")
        assert counter_index(mean_rgb(png)) == counter_index(mean_rgb(cut, index)), index
    assert all("select" in " ".join(a) for a in runs if "ffprobe" not in a[0])


def test_both_neighbours_in_one_ffmpeg_and_a_bad_one_costs_the_other_nothing(clips, tmp_path, monkeypatch):
    from shotfill.model import Neighbour
    from shotfill.plan.requests import neighbour_frames

    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\0" * 4096)
    nb = lambda path, f: Neighbour(name="n", kind="clip", media_path=str(path), source_frame=f,  # noqa: E731
                                   source_rate="25", available_start=0)
    runs = ffmpeg_runs(monkeypatch)
    before, after = neighbour_frames([(nb(clips["counter"], 39), tmp_path / "b.png"),
                                      (nb(clips["counter"], 7), tmp_path / "a.png")])
    assert counter_index(mean_rgb(before)) == 39 and counter_index(mean_rgb(after)) == 7
    assert len([a for a in runs if "ffprobe" not in a[0]]) == 1, "one ffmpeg for both frames"
    assert len([a for a in runs if "ffprobe" in a[0]]) <= 1, "at most one ffprobe for the one file"

    assert neighbour_frames([(nb(junk, 0), tmp_path / "j.png"), (nb(clips["counter"], 2), tmp_path / "c.png")]) \
        == [None, tmp_path / "c.png"]
    assert counter_index(mean_rgb(tmp_path / "c.png")) == 2
    assert not (tmp_path / "j.png").exists()


def test_a_file_is_probed_once_until_it_changes(clips, tmp_path, monkeypatch):
    import os
    import shutil

    clip = tmp_path / "c.mov"
    shutil.copyfile(clips["prores"], clip)
    first = probe(clip)
    runs = ffmpeg_runs(monkeypatch)
    moved = tmp_path / "moved.mov"
    os.replace(clip, moved)
    os.link(moved, tmp_path / "linked.mov")
    assert probe(moved) == first.model_copy(update={"path": str(moved)})
    assert probe(tmp_path / "linked.mov").frames == first.frames
    assert runs == [], "a renamed or linked file is the same file: no second ffprobe"

    make_test_clip(moved, frames=7)     # written again (same path, new content)
    assert probe(moved).frames == 7 and len(runs) >= 1


def test_a_neighbour_is_located_without_demuxing_it_whole_and_a_check_still_counts_packets(each_ffmpeg, clips,
                                                                                            tmp_path, monkeypatch):
    import shutil

    from shotfill.model import Neighbour
    from shotfill.plan.requests import neighbour_frames

    clip = tmp_path / "original.mp4"
    shutil.copyfile(clips["counter"], clip)
    nb = Neighbour(name="n", kind="clip", media_path=str(clip), source_frame=21, source_rate="25", available_start=0)
    runs = ffmpeg_runs(monkeypatch)
    [png] = neighbour_frames([(nb, tmp_path / "n.png")])
    assert png is not None and counter_index(mean_rgb(png)) == 21
    probes = [a for a in runs if "ffprobe" in a[0]]
    assert len(probes) == 1 and "-count_packets" not in probes[0], "locating a frame reads the container only"
    assert probe(clip, exact=False).frames == 40 and len(runs) == 2, "the located answer serves a locating caller"
    assert probe(clip).frames == 40
    assert "-count_packets" in runs[-1], "a check (exact=True) is not served by a located answer"
    runs.clear()
    assert probe(clip, exact=False).frames == 40 and runs == [], "an exact answer serves a locating caller"


def test_an_edit_listed_cut_located_still_counts_the_shown_frames(clips, tmp_path):
    cut = tmp_path / "cut.mp4"
    ffmpeg("-ss", "0.5", "-i", str(clips["counter"]), "-c", "copy", str(cut))
    assert probe(cut, exact=False).frames == decoded_frames(cut)


def test_callers_probing_one_file_at_once_share_one_ffprobe(tmp_path, monkeypatch):
    """Two placeholders beside one shot are planned in parallel: the second waits for the first's ffprobe."""
    import stat
    from concurrent.futures import ThreadPoolExecutor

    from shotfill.media import tools

    clip = make_test_clip(tmp_path / "shared.mp4", frames=10)
    log = tmp_path / "ffprobe.log"
    slow = tmp_path / "slow-ffprobe"      # slow enough that every caller arrives while the first still reads
    slow.write_text(f"#!/bin/sh\necho \"$*\" >> '{log}'\nsleep 0.5\nexec '{tools.ffprobe_path()}' \"$@\"\n")
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("SHOTFILL_FFPROBE", str(slow))
    tools.reset_cache()
    try:
        with ThreadPoolExecutor(4) as pool:
            infos = list(pool.map(lambda _: probe(clip, exact=False), range(4)))
        assert {i.frames for i in infos} == {10}
        assert len(log.read_text().splitlines()) == 1, "one ffprobe for four callers"
        junk = tmp_path / "junk.mov"
        junk.write_bytes(b"\0" * 4096)
        with ThreadPoolExecutor(3) as pool:
            errors = list(pool.map(lambda _: _error_of(lambda: probe(junk, exact=False)), range(3)))
        assert all(isinstance(e, MediaError) and "junk.mov" in str(e) for e in errors), errors
        assert len(log.read_text().splitlines()) == 2, "the callers waiting on a failed read get its error"
    finally:
        monkeypatch.delenv("SHOTFILL_FFPROBE")
        tools.reset_cache()


def _error_of(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the test compares them
        return exc
    return None
