"""Holes longer than the model's longest clip, made in segments that continue one another.

Through the OpenAI-style gateway fake, with a model declared in the test's shotfill.toml that makes
1-second clips and takes a first frame: a 60-frame hole at 24000/1001 becomes three segments, each
its own job, each (after the first) asked to start on the last frame the one before shows; the
fake decodes the picture it is sent, and the joined clip is checked frame by frame with ffmpeg.
"""

from __future__ import annotations

import json
import sqlite3
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fakes.openai import FakeOpenAI, mean_colour
from mediautil import SOURCE_CODECS, ffmpeg, video_stream
from shotfill.cli.app import main
from shotfill.config import load_settings
from shotfill.errors import Rejected
from shotfill.media import tools
from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash
from shotfill.plan.segments import longest_frames, plan_segments, segment_request, split
from shotfill.providers import get_provider
from shotfill.providers.base import ProviderContext

NTSC = Fraction(24000, 1001)
KEY = "sk-segments-test-key"
HOLE = 60
#: what 3 segments of a 60-frame hole at 23.976 with 1-second clips (24 frames at most) ask for and show
ASKED, SHOWN = (21, 21, 20), (21, 20, 19)

MODEL = '[providers.openai.models."sora-2"]\ndurations = [1]\nsizes = ["1280x720", "720x1280"]\n'


def config(path: Path, url: str, *, first_frame: bool = True, extra: str = "") -> Path:
    path.write_text(f'default_provider = "openai"\n[providers.openai]\nbase_url = "{url}"\npoll_interval = 0.01\n'
                    f"price_per_second = 0.1\n{extra}\n{MODEL}first_frame = {str(first_frame).lower()}\n")
    return path


def long_hole(path: Path, frames: int = HOLE, options: str = "match=off") -> Path:
    """A 23.976 timeline starting at 01:00:00:00: a shot, a long GEN: gap, a shot."""
    tl = otio.schema.Timeline(name="long", global_start_time=otio.opentime.RationalTime(86400, NTSC))
    t = otio.schema.Track(name="V1", kind="Video")
    hole = otio.schema.Gap(source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, NTSC),
                                                                 otio.opentime.RationalTime(frames, NTSC)))
    hole.markers.append(otio.schema.Marker(
        name=f"GEN: a long dolly shot down a corridor | {options}",
        marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, NTSC), otio.opentime.RationalTime(1, NTSC))))
    t.append(hole)
    tl.tracks.append(t)
    otio.adapters.write_to_file(tl, str(path))
    return path


def job_video(tmp: Path, number: int) -> bytes:
    """Job n's clip: 24 flat frames at 24 fps whose colour says the frame (red/green) and the job (blue)."""
    out = tmp / f"job{number}.mp4"
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=320x180:r=24,format=gbrp,geq=r='10+5*N':g='240-5*N':b={40 * number}",
           "-frames:v", "24", *SOURCE_CODECS["h264"], str(out))
    return out.read_bytes()


def which(rgb: tuple[float, ...]) -> tuple[int, int]:
    """(job, frame) a job video's colour stands for."""
    return round(rgb[2] / 40), round(((rgb[0] - 10) / 5 + (240 - rgb[1]) / 5) / 2)


def frames_of(path: Path) -> list[tuple[int, int]]:
    """(job, frame) of every decoded frame of a conformed clip."""
    s = video_stream(path)
    size = int(s["width"]) * int(s["height"]) * 3
    raw = ffmpeg("-i", str(path), "-sws_flags", "bicubic+accurate_rnd+full_chroma_int",
                 "-f", "rawvideo", "-pix_fmt", "rgb24", "-").stdout
    return [which(mean_colour(raw[i:i + size])) for i in range(0, len(raw), size)]


@pytest.fixture
def gateway(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    videos = {n: job_video(tmp_path, n) for n in (1, 2, 3, 4, 5)}
    with FakeOpenAI(videos[1], key=KEY) as fake:
        fake.seconds = {"1"}
        fake.video_for = lambda n: videos[(n - 1) % 5 + 1]
        fake.config = config(tmp_path / "shotfill.toml", fake.url)
        yield fake


def creates(fake: FakeOpenAI) -> list[dict]:
    return sorted(fake.jobs.values(), key=lambda j: j["number"])


def fill(src: Path, out: Path, cfg: Path, *extra: str) -> list[str]:
    return ["fill", str(src), "-o", str(out), "--config", str(cfg), "--resolution", "320x180", *extra]


# --------------------------------------------------------------------------- the plan


def _req(frames: int = HOLE) -> GenerationRequest:
    return GenerationRequest(placeholder_id="V1_01000000", provider="openai", model="sora-2", prompt="a corridor",
                             seed=3, width=320, height=180, rate=NTSC, frames=frames, timecode="01:00:00:00")


def _provider(tmp_path: Path, first_frame: bool = True):
    cfg = config(tmp_path / "shotfill.toml", "http://127.0.0.1:9", first_frame=first_frame)
    return get_provider("openai", ProviderContext(settings=load_settings(cfg)))


def test_the_fewest_near_equal_segments_each_within_the_models_longest_clip(tmp_path):
    openai = _provider(tmp_path)
    req = _req()
    assert longest_frames(openai, req) == 24          # 1 s at 23.976 (within the plan's 1 ms slack)
    assert split(HOLE, 24) == ASKED                   # 60 + 2 repeated frames in 3 near-equal asks
    assert split(47, 24) == (24, 24) and split(48, 24) == (17, 17, 16) and split(10, 1) is None
    segs = plan_segments(openai, req, openai.plan(req))
    assert segs is not None and segs.count == 3
    assert segs.frames == SHOWN and sum(segs.frames) == HOLE and segs.request_frames == ASKED
    assert [p.seconds for p in segs.plans] == [1, 1, 1] and segs.estimated_cost == pytest.approx(0.3)
    # a hole the model makes in one clip needs no segments
    short = _req(24)
    assert plan_segments(openai, short, openai.plan(short)) is None


def test_each_segment_has_its_own_hash_and_the_first_is_not_a_whole_hole_request(tmp_path):
    frame = tmp_path / "last.png"
    frame.write_bytes(b"\x89PNG\r\n\x1a\n not really, but bytes")
    whole = _req()
    whole = whole.model_copy(update={"request_hash": request_hash(whole)})
    one = segment_request(whole, 1, 3, 21, None, hashed=True)
    same_length = whole.model_copy(update={"frames": 21})
    assert one.request_hash not in (whole.request_hash, request_hash(same_length))
    two = segment_request(whole, 2, 3, 21, str(frame), hashed=True)
    three = segment_request(whole, 3, 3, 20, str(frame), hashed=True)
    assert len({one.request_hash, two.request_hash, three.request_hash}) == 3
    # the first frame's bytes decide the next segment: another picture, another hash
    frame.write_bytes(b"other bytes")
    assert segment_request(whole, 2, 3, 21, str(frame), hashed=True).request_hash != two.request_hash


def test_a_model_that_continues_neither_way_keeps_the_refusal_saying_so(tmp_path):
    openai = _provider(tmp_path, first_frame=False)
    req = _req()
    with pytest.raises(Rejected) as err:
        plan_segments(openai, req, openai.plan(req))
    text = str(err.value)
    assert "longer than openai sora-2's longest clip" in text
    assert "cannot be made in segments either" in text and "neither from a first frame" in text


# --------------------------------------------------------------------------- a run


@pytest.mark.slow
def test_a_long_hole_is_made_in_segments_and_joined_frame_exact(gateway, tmp_path):
    src = long_hole(tmp_path / "long.otio")
    out = tmp_path / "out" / "long.otio"
    assert main(fill(src, out, gateway.config, "-q", "--json")) == 0
    jobs = creates(gateway)
    assert [j["fields"]["seconds"] for j in jobs] == ["1", "1", "1"]
    # segment 1 has no shot before; segments 2 and 3 start on the last frame the one before shows
    assert "input_reference" not in jobs[0]["files"]
    for k in (1, 2):
        w, h, rgb = jobs[k]["reference"]
        assert (w, h) == (1280, 720)
        assert which(mean_colour(rgb)) == (k, ASKED[k - 1] - 1)

    [clip] = [c for c in otio.adapters.read_from_file(str(out)).find_clips() if "shotfill" in c.metadata]
    media = Path(clip.media_reference.target_url.removeprefix("file://"))
    s = video_stream(media, "-count_frames")
    assert int(s["nb_read_frames"]) == HOLE and s["r_frame_rate"] == "24000/1001"
    tc = json.loads(ffmpeg_probe_tags(media))
    assert tc == "01:00:00:00"
    # every picture once, in order: job 1's frames 0..20, job 2's 1..20, job 3's 1..19
    expected = [(1, n) for n in range(21)] + [(2, n) for n in range(1, 21)] + [(3, n) for n in range(1, 20)]
    assert frames_of(media) == expected

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    [row] = report["placeholders"]
    segs = row["segments"]
    assert segs["count"] == 3
    assert [(g["frames"], g["seconds"], g["status"]) for g in segs["segments"]] == [(21, 1, "made"), (20, 1, "made"),
                                                                                  (19, 1, "made")]
    assert [g["job_id"] for g in segs["segments"]] == [j["video"]["id"] for j in jobs]
    assert row["estimated_cost"] == pytest.approx(0.3)
    html = (tmp_path / "out" / "report.html").read_text()
    assert f"3: 21 fr made ({jobs[0]['video']['id']}), 20 fr made" in html
    # a second run pays nothing: every segment is cached, and their hashes come out the same
    assert main(fill(src, out, gateway.config, "-q")) == 0
    assert gateway.count("POST /v1/videos") == 3


def ffmpeg_probe_tags(path: Path) -> str:
    import subprocess
    argv = [tools.ffprobe_path(), "-v", "error", "-of", "json", "-show_entries", "stream_tags=timecode:format_tags=timecode",
            str(path)]
    data = json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)
    tags = [s.get("tags", {}).get("timecode") for s in data.get("streams", [])]
    tags.append(data.get("format", {}).get("tags", {}).get("timecode"))
    return json.dumps(next(t for t in tags if t))


@pytest.mark.slow
def test_a_failed_segment_fails_the_placeholder_keeps_the_paid_ones_and_a_rerun_pays_the_rest(gateway, tmp_path,
                                                                                              capsys):
    src = long_hole(tmp_path / "long.otio")
    out = tmp_path / "out" / "long.otio"
    gateway.fail_next_job(after=1)            # segment 2's job ends failed, once
    assert main(fill(src, out, gateway.config, "-q", "--json")) == 1
    summary = json.loads(capsys.readouterr().out)
    [row] = summary["placeholders"]
    assert row["result"] == "failed" and "segment 2 of 3" in row["error"]
    assert "segment 1 is kept" in row["error"]
    assert [g["status"] for g in row["segments"]["segments"]] == ["made", "failed", "planned"]
    assert gateway.count("POST /v1/videos") == 2
    with sqlite3.connect(tmp_path / "out" / ".shotfill" / "journal.sqlite") as db:
        states = sorted(state for (state,) in db.execute("SELECT state FROM jobs"))
    assert states == ["downloaded", "failed"]
    first_reference = creates(gateway)[1]["reference"]

    assert main(fill(src, out, gateway.config, "-q", "--json")) == 0
    summary = json.loads(capsys.readouterr().out)
    [row] = summary["placeholders"]
    assert row["result"] == "filled"
    jobs = creates(gateway)
    assert len(jobs) == 4                      # segments 2 and 3 only: segment 1 was paid already
    assert jobs[2]["reference"] == first_reference   # segment 2 starts on the same kept frame
    assert [g["status"] for g in row["segments"]["segments"]] == ["paid", "made", "made"]
    [clip] = [c for c in otio.adapters.read_from_file(str(out)).find_clips() if "shotfill" in c.metadata]
    media = Path(clip.media_reference.target_url.removeprefix("file://"))
    assert [j for j, _ in frames_of(media)] == [1] * 21 + [3] * 20 + [4] * 19


@pytest.mark.slow
def test_dry_run_and_scan_show_the_segments_and_the_cost_counts_them(gateway, tmp_path, capsys):
    src = long_hole(tmp_path / "long.otio")
    out = tmp_path / "out" / "long.otio"
    assert main(fill(src, out, gateway.config, "--dry-run", "--json")) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["estimated_total"] == pytest.approx(0.3)
    [p] = dry["placeholders"]
    assert p["refused"] is None and p["segments"]["frames"] == list(SHOWN)
    assert p["segments"]["request_frames"] == list(ASKED)
    assert main(fill(src, out, gateway.config, "--dry-run")) == 0
    text = capsys.readouterr().out
    assert "sora-2: 3 segments at 1280x720; est. 0.30" in text
    assert "in 3 segments of 21, 20, 19 frames (1 s each)" in text
    assert "segment 3: 19 frames shown, 1 s asked; est. 0.10" in text
    assert main(["scan", str(src), "--config", str(gateway.config), "--resolution", "320x180"]) == 0
    text = capsys.readouterr().out
    assert "est. 0.30" in text and "in 3 segments of 21, 20, 19 frames" in text and "REFUSED" not in text
    assert main(["scan", str(src), "--config", str(gateway.config), "--resolution", "320x180", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["plan"]["segments"]["count"] == 3 and row["plan"]["estimated_cost"] == pytest.approx(0.3)
    assert gateway.requests == []


@pytest.mark.slow
def test_max_cost_below_the_segments_total_skips_the_placeholder_before_any_is_paid(gateway, tmp_path, capsys):
    src = long_hole(tmp_path / "long.otio")
    out = tmp_path / "out" / "long.otio"
    assert main(fill(src, out, gateway.config, "-q", "--json", "--max-cost", "0.25")) == 0
    [row] = json.loads(capsys.readouterr().out)["placeholders"]
    assert row["result"] == "skipped" and "over budget" in row["error"] and "0.30" in row["error"]
    assert [g["status"] for g in row["segments"]["segments"]] == ["skipped"] * 3
    assert gateway.count("POST /v1/videos") == 0
    assert main(fill(src, out, gateway.config, "-q", "--json", "--max-cost", "0.3")) == 0
    [row] = json.loads(capsys.readouterr().out)["placeholders"]
    assert row["result"] == "filled" and gateway.count("POST /v1/videos") == 3


@pytest.mark.slow
def test_fill_refuses_a_long_hole_for_a_model_that_cannot_continue(gateway, tmp_path, capsys):
    cfg = config(tmp_path / "plain.toml", gateway.url, first_frame=False)
    src = long_hole(tmp_path / "long.otio")
    assert main(["scan", str(src), "--config", str(cfg), "--resolution", "320x180"]) == 0
    assert "cannot be made in segments either" in capsys.readouterr().out
    assert main(fill(src, tmp_path / "out" / "long.otio", cfg, "-q", "--json")) == 1
    [row] = json.loads(capsys.readouterr().out)["placeholders"]
    assert row["result"] == "failed" and "longest clip" in row["error"]
    assert "neither from a first frame (first_frame) nor by extending it (extend)" in row["error"]
    assert gateway.requests == []


def test_a_chained_segment_is_hashed_by_the_segment_it_continues_not_by_its_frame_bytes(tmp_path):
    # Another ffmpeg build may write the extracted last frame with other bytes: the kept segment
    # must still be found (never paid twice), so its hash names the segment before, not the PNG.
    from shotfill.model import GenerationRequest
    from shotfill.plan.segments import segment_request

    one, other = tmp_path / "one.png", tmp_path / "other.png"
    one.write_bytes(b"\x89PNG first build")
    other.write_bytes(b"\x89PNG second build")
    whole = GenerationRequest(placeholder_id="V1_x", provider="openai", prompt="fog", seed=1, width=320,
                              height=180, rate=24, frames=60, timecode="01:00:00:00")
    a = segment_request(whole, 2, 3, 21, str(one), chained_from="h1", hashed=True)
    b = segment_request(whole, 2, 3, 21, str(other), chained_from="h1", hashed=True)
    c = segment_request(whole, 2, 3, 21, str(one), chained_from="h1-other", hashed=True)
    assert a.request_hash == b.request_hash
    assert a.request_hash != c.request_hash


@pytest.mark.slow
def test_a_long_hole_with_handles_is_made_in_segments_covering_the_handles_too(gateway, tmp_path):
    src = long_hole(tmp_path / "long.otio")
    out = tmp_path / "out" / "long.otio"
    assert main(fill(src, out, gateway.config, "-q", "--handles", "6")) == 0
    [row] = json.loads((tmp_path / "out" / "report.json").read_text())["placeholders"]
    assert row["handles_made"] == 6
    assert row["segments"]["count"] == gateway.count("POST /v1/videos") >= 4
    assert sum(g["frames"] for g in row["segments"]["segments"]) == HOLE + 12
    [clip] = [c for c in otio.adapters.read_from_file(str(out)).find_clips() if "shotfill" in c.metadata]
    media = Path(clip.media_reference.target_url.removeprefix("file://"))
    assert int(video_stream(media, "-count_frames")["nb_read_frames"]) == HOLE + 12
    assert json.loads(ffmpeg_probe_tags(media)) == "00:59:59:18"      # 6 frames before 01:00:00:00
    assert clip.source_range.start_time.to_frames() == 86400 - 6 + 6
    assert clip.media_reference.available_range.duration.to_frames() == HOLE + 12


def sounding_job_video(tmp: Path, number: int) -> bytes:
    """Job n's clip with sound: the picture of :func:`job_video`, and 1 s of 48 kHz float PCM whose sample
    k is 0.25 n + 0.2 k / 48000, so each sample of a joined clip says which job and which sample it is."""
    out = tmp / f"job{number}_sound.mov"
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=320x180:r=24,format=gbrp,geq=r='10+5*N':g='240-5*N':b={40 * number}",
           "-f", "lavfi", "-i", f"aevalsrc=0.25*{number}+0.2*n/48000:s=48000:d=1", "-frames:v", "24",
           *SOURCE_CODECS["h264"], "-c:a", "pcm_f32le", str(out))
    return out.read_bytes()


@pytest.mark.slow
def test_a_long_hole_with_sound_joins_each_segments_sound_sample_exact(gateway, tmp_path):
    """audio=on: each segment's sound is cut to the frames it shows (the repeated first frame's sound dropped
    with it), joined in the same pass, and the whole is exactly the hole's 60 x 2002 samples."""
    import numpy as np
    from shotfill.media.audio import samples_for
    videos = {n: sounding_job_video(tmp_path, n) for n in (1, 2, 3)}
    gateway.video_for = lambda n: videos[n]
    cfg = Path(gateway.config)
    cfg.write_text(cfg.read_text() + "audio = true\n")
    src = long_hole(tmp_path / "long.otio", options="match=off audio=on")
    out = tmp_path / "out" / "long.otio"
    assert main(fill(src, out, cfg, "-q")) == 0
    assert gateway.count("POST /v1/videos") == 3
    tl = otio.adapters.read_from_file(str(out))
    [clip] = [c for c in tl.video_tracks()[0] if isinstance(c, otio.schema.Clip) and "shotfill" in c.metadata]
    media = Path(clip.media_reference.target_url.removeprefix("file://"))
    assert int(video_stream(media, "-count_frames")["nb_read_frames"]) == HOLE
    assert frames_of(media)[21] == (2, 1), "the picture is joined as without sound"
    streams = json.loads(_probe(media, "-show_streams"))["streams"]
    [a] = [x for x in streams if x["codec_type"] == "audio"]
    total = samples_for(HOLE, NTSC)
    assert total == 60 * 2002
    assert (a["codec_name"], int(a["sample_rate"]), int(a["duration_ts"])) == ("pcm_s24le", 48000, total)
    raw = ffmpeg("-i", str(media), "-map", "0:a:0", "-ac", "1", "-f", "f32le", "-c:a", "pcm_f32le", "-").stdout
    got = np.frombuffer(raw, "<f4").astype(np.float64)
    assert len(got) == total
    # Segment k shows SHOWN[k] frames; after the first, its own frame 0 (the one before's last) is not shown,
    # so its sound starts at its sample 2002 (one frame at 23.976).
    job = np.concatenate([np.full(2002 * f, k + 1) for k, f in enumerate(SHOWN)])
    first = np.concatenate([np.arange(2002 * f) + (0 if k == 0 else 2002) for k, f in enumerate(SHOWN)])
    want = 0.25 * job + 0.2 * first / 48000
    assert np.abs(got - want).max() < 2e-6   # a sample off would be 4.2e-6
    # placed under the clip, the whole hole long
    [sound] = [c for t in tl.audio_tracks() for c in t if isinstance(c, otio.schema.Clip)]
    assert sound.source_range == clip.source_range


def _probe(path: Path, *what: str) -> str:
    import subprocess
    argv = [tools.ffprobe_path(), "-v", "error", "-of", "json", *what, str(path)]
    return subprocess.run(argv, capture_output=True, check=True).stdout.decode()


@pytest.mark.slow
def test_a_segment_without_sound_is_joined_as_silence_of_its_frames(tmp_path):
    import numpy as np
    from shotfill.media.audio import samples_for
    from shotfill.media.conform import Part, conform_joined
    from shotfill.model import Codec, ConformTarget
    one, two = tmp_path / "one.mov", tmp_path / "two.mp4"
    one.write_bytes(sounding_job_video(tmp_path, 1))
    two.write_bytes(job_video(tmp_path, 2))
    target = ConformTarget(width=320, height=180, rate=Fraction(25), frames=40, timecode="01:00:00:00",
                           codec=Codec.PRORES, audio=True)
    info = conform_joined([Part(str(one), 21), Part(str(two), 19, skip=1)], tmp_path / "joined.mov", target)
    assert info.audio is not None and info.audio.samples == samples_for(40, Fraction(25)) == 76800
    raw = ffmpeg("-i", str(tmp_path / "joined.mov"), "-map", "0:a:0", "-ac", "1", "-f", "f32le", "-c:a", "pcm_f32le",
                 "-").stdout
    got = np.frombuffer(raw, "<f4").astype(np.float64)
    assert len(got) == 76800
    assert np.abs(got[:40320] - (0.25 + 0.2 * np.arange(40320) / 48000)).max() < 2e-6
    assert not got[40320:].any(), "the segment without sound is silence for its 19 frames"


@pytest.mark.slow
def test_each_take_of_a_long_hole_reports_its_own_segments(gateway, tmp_path, capsys):
    src = long_hole(tmp_path / "long.otio", options="match=off takes=2")
    out = tmp_path / "out" / "long.otio"
    capsys.readouterr()
    assert main(fill(src, out, gateway.config, "-q", "--json")) == 0
    said = json.loads(capsys.readouterr().out)
    jobs = {j["video"]["id"] for j in creates(gateway)}
    assert len(jobs) == 6, "two takes of three segments each"
    [row] = json.loads((tmp_path / "out" / "report.json").read_text())["placeholders"]
    [summary] = said["placeholders"]
    for shown in (row, summary):
        assert [t["take"] for t in shown["takes"]] == [1, 2]
        per_take = [[g["job_id"] for g in t["segments"]["segments"]] for t in shown["takes"]]
        assert [len(ids) for ids in per_take] == [3, 3]
        assert set(per_take[0]) | set(per_take[1]) == jobs and not set(per_take[0]) & set(per_take[1])
        assert [(g["frames"], g["status"]) for t in shown["takes"] for g in t["segments"]["segments"]] == \
            [(21, "made"), (20, "made"), (19, "made")] * 2
        # the placeholder's own segments are the shown take's
        assert [g["job_id"] for g in shown["segments"]["segments"]] == per_take[0]
    html = (tmp_path / "out" / "report.html").read_text()
    for ids in per_take:
        assert f"segments 3: 21 fr made ({ids[0]})" in html
