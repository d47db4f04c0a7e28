"""Handles: every take covers the hole plus H frames before and after it.

The conformed file has hole + 2H frames and a timecode H frames before the hole's record timecode
(checked with ffprobe), the request asks the service for the longer clip, the OTIO clip shows frames
H .. H + hole - 1 of the file with the whole file available, and a model whose longest clip is too
short for hole + 2H makes fewer handles, evenly, and says so.
"""

from __future__ import annotations

import html
import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fakes.openai import GATEWAY_MODEL, FakeOpenAI, parse_multipart
from mediautil import decoded_frames, make_test_clip, video_stream
from hash_before import hash_before_later_fields
from shotfill.cli.app import main
from shotfill.config import load_settings
from shotfill.errors import ConfigError
from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash
from shotfill.rates import timecode_to_frames
from shotfill.scan.notes import parse_note
from timelines import clip, gap, marker, rt

KEY = "sk-handles-test-key"
HOLE = 20

#: rate, timeline start, frames of track before the hole, handles, the hole's record timecode, the file's timecode
CASES = {
    "25": (Fraction(25), "10:00:00:00", 50, 6, "10:00:02:00", "10:00:01:19"),
    "23.976": (Fraction(24000, 1001), "01:00:00:00", 48, 5, "01:00:02:00", "01:00:01:19"),
    # 29.97 DF: 01:01:00;00 and ;01 do not exist, so 4 frames before 01:01:00;02 is 01:00:59;26
    "29.97DF": (Fraction(30000, 1001), "01:00:00;00", 1800, 4, "01:01:00;02", "01:00:59;26"),
}


def cut(path: Path, rate: Fraction, start_tc: str, lead: int, note: str, *, hole: int = HOLE,
        after_media: Path | None = None) -> Path:
    """V1: a gap of ``lead`` frames, the GEN: hole, then shot_b (its media ``after_media``, when given)."""
    tl = otio.schema.Timeline(name=path.stem, global_start_time=rt(timecode_to_frames(start_tc, rate), rate))
    t = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    t.append(gap(lead, rate))
    t.append(gap(hole, rate, marker(f"GEN: {note}", 0, 1, rate)))
    url = otio.url_utils.url_from_filepath(str(after_media)) if after_media else None
    t.append(clip("shot_b", 24, rate, url=url, avail=(0, 24) if after_media else None))
    tl.tracks.append(t)
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(path))
    return path


def filled_clip(path: Path) -> otio.schema.Clip:
    [c] = [c for c in otio.adapters.read_from_file(str(path)).find_clips() if "shotfill" in c.metadata]
    return c


def media_of(c: otio.schema.Clip) -> Path:
    return Path(otio.url_utils.filepath_from_url(c.media_reference.target_url))


def check_file_and_clip(out: Path, rate: Fraction, h: int, record_tc: str, file_tc: str, hole: int = HOLE) -> None:
    c = filled_clip(out)
    media = media_of(c)
    # ffprobe: hole + 2H frames, the timecode H frames before the record timecode, at the timeline's rate
    s = video_stream(media)
    assert decoded_frames(media) == hole + 2 * h
    assert s["tags"].get("timecode") == file_tc
    assert Fraction(s["r_frame_rate"]) == rate
    # the clip shows frames H .. H + hole - 1 of the file; the whole file is available
    fps = float(rate)
    rec = timecode_to_frames(record_tc, rate)
    assert c.source_range.start_time == otio.opentime.RationalTime(rec, fps)
    assert c.source_range.duration == otio.opentime.RationalTime(hole, fps)
    avail = c.media_reference.available_range
    assert avail.start_time == otio.opentime.RationalTime(rec - h, fps)
    assert avail.duration == otio.opentime.RationalTime(hole + 2 * h, fps)
    assert c.source_range.start_time - avail.start_time == otio.opentime.RationalTime(h, fps)
    assert c.metadata["shotfill"]["handles"] == h


# --------------------------------------------------------------------------- the options


def test_handles_option_is_read_and_bad_values_are_problems():
    assert parse_note("a fox | handles=12").options.handles == 12
    assert parse_note("a fox | handles=0").options.handles == 0
    assert parse_note("a fox").options.handles is None
    for bad in ("-1", "1.5", "x", "10001"):
        note = parse_note(f"a fox | handles={bad}")
        assert note.options.handles is None
        assert any(f"handles='{bad}'" in p and "0 to 10000" in p for p in note.problems), note.problems


def test_config_handles_is_checked(tmp_path):
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text("handles = 12\n")
    assert load_settings(cfg, cwd=tmp_path).handles == 12
    for bad in ("-2", "1.5", "20000"):
        cfg.write_text(f"handles = {bad}\n")
        with pytest.raises(ConfigError, match="handles"):
            load_settings(cfg, cwd=tmp_path)


@pytest.mark.parametrize("value", ["-1", "2.5", "x", "10001"])
def test_bad_handles_flag_is_refused_by_scan_and_fill(tmp_path, capsys, value):
    rate, start, lead, *_ = CASES["25"]
    src = cut(tmp_path / "cut.otio", rate, start, lead, "a fox")
    assert main(["scan", str(src), "--handles", value, "--resolution", "320x180"]) == 2
    out = tmp_path / "out.otio"
    assert main(["fill", str(src), "-o", str(out), "--handles", value, "--resolution", "320x180"]) == 2
    err = capsys.readouterr().err
    assert "--handles" in err and "0 to 10000" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("value", ["-3", "1.5", "lots", "99999"])
def test_fill_refuses_a_bad_handles_note_naming_the_placeholder(tmp_path, capsys, value):
    rate, start, lead, *_ = CASES["25"]
    src = cut(tmp_path / "cut.otio", rate, start, lead, f"a fox | handles={value}")
    out = tmp_path / "o" / "out.otio"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180"]) == 2
    err = capsys.readouterr().err
    assert "V1_10000200 at 10:00:02:00" in err and f"handles='{value}'" in err and "Traceback" not in err
    assert not out.parent.exists()
    assert main(["scan", str(src), "--resolution", "320x180"]) == 0
    assert f"PROBLEM: option handles='{value}' is not valid" in capsys.readouterr().out


def test_a_request_without_handles_hashes_as_before_the_field_existed():
    req = GenerationRequest(placeholder_id="V1", provider="openai", model="sora-2", prompt="a fox", seed=3,
                            width=320, height=180, rate="25", frames=20, timecode="10:00:02:00")
    assert req.handles == 0
    # the hash as computed before handles existed: the same fields, no "handles" key
    assert request_hash(req) == hash_before_later_fields(req)
    # with handles it is another request (another clip, another cache entry)
    longer = req.model_copy(update={"frames": 32, "handles": 6, "timecode": "10:00:01:19"})
    assert request_hash(longer) != request_hash(req)
    assert request_hash(longer.model_copy(update={"frames": 20, "timecode": "10:00:02:00"})) != request_hash(req)


# --------------------------------------------------------------------------- the plan


def test_scan_and_dry_run_show_the_handles(tmp_path, capsys):
    rate, start, lead, h, record, file_tc = CASES["29.97DF"]
    src = cut(tmp_path / "cut.otio", rate, start, lead, f"a fox | handles={h}")
    assert main(["scan", str(src), "--resolution", "320x180", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["options"]["handles"] == h and row["timecode"] == record
    assert row["plan"]["handles"] == h and row["plan"]["handles_made"] == h
    # the local generator is asked for the longer clip
    assert row["plan"]["seconds"] == pytest.approx((HOLE + 2 * h) / float(rate))
    assert main(["scan", str(src), "--resolution", "320x180"]) == 0
    assert f"handles {h} frames each side" in capsys.readouterr().out
    # --handles for the run; the note wins over it
    plain = cut(tmp_path / "plain.otio", rate, start, lead, "a fox")
    assert main(["scan", str(plain), "--resolution", "320x180", "--json", "--handles", "3"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["plan"]["handles_made"] == 3
    assert main(["scan", str(src), "--resolution", "320x180", "--json", "--handles", "3"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["plan"]["handles_made"] == h


def _fal_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text('[providers.fal.models."acme/ltx-9"]\nmin_seconds = 1\nmax_seconds = 20\nframes = "8n+1"\n'
                   'rates = [24, 25, 30]\nsizes = ["1280x720"]\nprice_per_second = 0.05\n'
                   'inputs = { prompt = "prompt", num_frames = "num_frames", fps = "fps" }\n')
    return cfg


def test_the_request_asks_for_hole_plus_two_handles_at_the_planned_rate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FAL_KEY", KEY)
    cfg = _fal_config(tmp_path)
    rate, start, lead, *_ = CASES["25"]
    base = ["--config", str(cfg), "--provider", "fal", "--model", "acme/ltx-9", "--resolution", "320x180"]
    frames = {}
    for h in (0, 10):
        src = cut(tmp_path / f"cut{h}.otio", rate, start, lead, f"a fox | handles={h}", hole=40)
        assert main(["fill", str(src), "-o", str(tmp_path / "o.otio"), "--dry-run", "--json", *base]) == 0
        [row] = json.loads(capsys.readouterr().out)["placeholders"]
        frames[h] = (row["body"]["num_frames"], row["body"]["fps"])
    # 40 frames at 25 -> 41 (8n+1); with 10 handles each side 60 -> 65
    assert frames == {0: (41, 25), 10: (65, 25)}


# --------------------------------------------------------------------------- fills


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_local_fill_with_handles(tmp_path, case, capsys):
    rate, start, lead, h, record, file_tc = CASES[case]
    after = make_test_clip(tmp_path / "shot_b.mov", rate=str(rate), frames=24)
    src = cut(tmp_path / "cut.otio", rate, start, lead, f"a fox in snow | handles={h}", after_media=after)
    out = tmp_path / "out" / "cut.otio"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180", "-q"]) == 0
    check_file_and_clip(out, rate, h, record, file_tc)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    [row] = report["placeholders"]
    assert (row["handles"], row["handles_made"]) == (h, h) and row["warnings"] == []
    # the report's thumbnails are frames of the hole, not of the handles
    th = row["thumbnails"]
    assert (th["first"]["frame"], th["last"]["frame"]) == (h, h + HOLE - 1)


@pytest.fixture
def openai_fake(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    # 4.4 s at 25 fps: long enough for every clip these tests ask for
    video = make_test_clip(tmp_path / "served.mp4", rate="25", frames=110).read_bytes()
    with FakeOpenAI(video, key=KEY) as fake:
        cfg = tmp_path / "shotfill.toml"
        cfg.write_text(f'default_provider = "openai"\n[providers.openai]\nbase_url = "{fake.url}"\n'
                       "poll_interval = 0.01\nprice_per_second = 0.1\n" + GATEWAY_MODEL)
        fake.config = cfg
        yield fake


def _sent_seconds(fake: FakeOpenAI) -> list[str]:
    return [parse_multipart(r)[0]["seconds"] for r in fake.requests if r.method == "POST"]


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_remote_fill_with_handles(openai_fake, tmp_path, case, capsys):
    rate, start, lead, h, record, file_tc = CASES[case]
    src = cut(tmp_path / "cut.otio", rate, start, lead, "a fox in snow")
    out = tmp_path / "out" / "cut.otio"
    assert main(["fill", str(src), "-o", str(out), "--config", str(openai_fake.config), "--resolution", "320x180",
                 "--handles", str(h), "-q", "--no-report"]) == 0
    check_file_and_clip(out, rate, h, record, file_tc)
    assert _sent_seconds(openai_fake) == ["4"]


@pytest.mark.slow
def test_handles_make_the_service_asked_for_a_longer_clip(openai_fake, tmp_path, capsys):
    rate, start, lead, *_ = CASES["25"]
    # 95 frames at 25 is 3.8 s: 4 s covers the hole alone, 95 + 2 x 6 = 107 frames (4.28 s) needs 8 s
    src = cut(tmp_path / "cut.otio", rate, start, lead, "a fox | handles=6", hole=95)
    out = tmp_path / "out" / "cut.otio"
    assert main(["fill", str(src), "-o", str(out), "--config", str(openai_fake.config), "--resolution", "320x180",
                 "-q", "--no-report"]) == 0
    assert _sent_seconds(openai_fake) == ["8"]
    check_file_and_clip(out, rate, 6, "10:00:02:00", "10:00:01:19", hole=95)


@pytest.mark.slow
def test_handles_shrink_evenly_when_the_longest_clip_is_short(openai_fake, tmp_path, capsys):
    cfg = openai_fake.config
    cfg.write_text(cfg.read_text().replace("durations = [4, 8, 12]", "durations = [4]"))
    rate, start, lead, *_ = CASES["25"]
    # 95 frames + 2 x 12 would be 4.76 s; the model makes 4 s (100 frames) at most: 2 frames each side
    src = cut(tmp_path / "cut.otio", rate, start, lead, "a fox | handles=12", hole=95)
    note = "handles 12 → 2 frames: openai sora-2's longest clip is 4 s"
    assert main(["scan", str(src), "--config", str(cfg), "--resolution", "320x180"]) == 0
    text = capsys.readouterr().out
    assert f"note: {note}" in text and "handles 2 frames each side" in text and "REFUSED" not in text
    out = tmp_path / "out" / "cut.otio"
    assert main(["fill", str(src), "-o", str(out), "--config", str(cfg), "--resolution", "320x180", "-q"]) == 0
    assert f"WARNING V1_10000200 at 10:00:02:00: {note}" in capsys.readouterr().out
    check_file_and_clip(out, rate, 2, "10:00:02:00", "10:00:01:23", hole=95)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    [row] = report["placeholders"]
    assert (row["handles"], row["handles_made"]) == (12, 2) and note in row["warnings"]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "2 frames each side (asked 12)" in page and html.escape(note) in page
    # a hole the longest clip cannot cover at all is made in segments, which cover the handles in full
    long = cut(tmp_path / "long.otio", rate, start, lead, "a fox | handles=12", hole=120)
    assert main(["scan", str(long), "--config", str(cfg), "--resolution", "320x180", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    segs = row["plan"]["segments"]
    assert segs["count"] == 2 and sum(g["frames"] for g in segs["segments"]) == 120 + 2 * 12
    assert row["plan"]["handles_made"] == 12


@pytest.mark.slow
def test_the_colour_match_reads_the_hole_not_the_handles(tmp_path):
    from mediautil import counter_index
    from shotfill.media import match

    # 30 frames whose colour says their number: 5 handle frames, a 20-frame hole, 5 handle frames
    path = make_test_clip(tmp_path / "counter.mov", rate="25", frames=30, source="counter", codec="prores")
    span = match.hole_span(5, 20, Fraction(25))
    assert match.hole_span(0, 20, Fraction(25)) is None
    pics = match.clip_pixels(path, count=3, span=span).reshape(3, -1, 3) * 255
    assert [counter_index(tuple(p.mean(axis=0))) for p in pics] == [5, 15, 24]


@pytest.mark.slow
def test_every_take_has_the_handles(tmp_path):
    rate, start, lead, *_ = CASES["25"]
    src = cut(tmp_path / "cut.otio", rate, start, lead, "a fox | takes=2 handles=3")
    out = tmp_path / "out" / "cut.otio"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180", "-q", "--no-report"]) == 0
    c = filled_clip(out)
    refs = c.media_references()
    assert sorted(refs) == ["take1", "take2"]
    for ref in refs.values():
        media = Path(otio.url_utils.filepath_from_url(ref.target_url))
        assert decoded_frames(media) == HOLE + 6 and video_stream(media)["tags"]["timecode"] == "10:00:01:22"
        assert ref.available_range.duration.value == HOLE + 6
        assert c.source_range.start_time - ref.available_range.start_time == otio.opentime.RationalTime(3, 25)


def test_farm_export_passes_the_handles_to_its_tasks(tmp_path, monkeypatch):
    from shotfill.cli.app import build_parser
    from shotfill.cli.farm import fill_options

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["farm", "export", "cut.otio", "-o", "out.otio", "--bundle", "job",
                                      "--handles", "6", "--takes", "2", "--match", "off"])
    words = fill_options(args)
    for flag, value in (("--handles", "6"), ("--takes", "2"), ("--match", "off")):
        assert words[words.index(flag) + 1] == value
    # and a task's fill reads them back
    assert build_parser().parse_args(["fill", "cut.otio", "-o", "out.otio", *words]).handles == 6


@pytest.mark.slow
def test_with_handles_the_neighbour_frames_are_the_ones_the_handles_overlap(tmp_path):
    """The clip starts H frames before the cut: its first frame is the shot before's H frames before its end."""
    from shotfill.media.frames import extract_frame
    from shotfill.model import Neighbour, Placeholder, ShotOptions
    from shotfill.plan.requests import PlanSettings, plan_request

    media = make_test_clip(tmp_path / "n.mov", rate="25", frames=60)
    before = Neighbour(name="a", kind="clip", media_path=str(media), source_frame=39, source_rate="25",
                       available_start=0, available_frames=60)
    after = Neighbour(name="b", kind="clip", media_path=str(media), source_frame=10, source_rate="25",
                      available_start=0, available_frames=60)
    ph = Placeholder(id="V1_x", track="V1", track_index=0, item_path=(0, 1), kind="gap", start=40, duration=20,
                     rate="25", record_frame=90040, timecode="01:00:01:15", prompt="fog", options=ShotOptions(),
                     marker_name="GEN: fog", marker_on="gap", before=before, after=after)
    ps = PlanSettings(width=320, height=180, provider="local")
    plain = plan_request(ph, ps, tmp_path / "f")
    shifted = plan_request(ph, ps, tmp_path / "f", handles=4)
    want = {n: extract_frame(media, n, tmp_path / f"want{n}.png").read_bytes() for n in (39, 35, 10, 14)}
    assert Path(plain.first_frame).read_bytes() == want[39] and Path(plain.last_frame).read_bytes() == want[10]
    assert Path(shifted.first_frame).read_bytes() == want[35] and Path(shifted.last_frame).read_bytes() == want[14]
    assert shifted.frames == 28 and shifted.timecode == "01:00:01:11"
