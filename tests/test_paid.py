"""A paid job is never submitted twice, damaged media is never placed, short results are never passed off.

Real faults against the fake OpenAI Videos service on 127.0.0.1: a create that
answers slowly while a real ``python -m shotfill fill`` is SIGKILLed, a listing
that shows the job only once the slow create lands, a gateway that answers 404
to the listing, a downloaded clip overwritten in place on disk, a job the
service no longer has, and a service that returns a clip shorter than the hole.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fakes.openai import GATEWAY_MODEL, FakeOpenAI
from mediautil import decoded_frames, make_test_clip
from shotfill.cli.app import main
from shotfill.jobs.journal import Journal
from timelines import clip, gap, marker

#: a gateway's /v1/videos model, declared as shotfill.toml must (the catalog ships none for openai)

pytestmark = pytest.mark.slow

KEY = "sk-paid-test-4b1d93e07c"
R24 = Fraction(24)


def cut(folder: Path, holes: list[tuple[int, str]], media: Path) -> Path:
    """V1: a | hole | b | hole | a ..., neighbours from ``media`` (absolute paths: copies share them)."""
    folder.mkdir(parents=True, exist_ok=True)
    media.mkdir(parents=True, exist_ok=True)
    for name in ("a.mov", "b.mov"):
        if not (media / name).exists():
            make_test_clip(media / name, rate="24", frames=40)
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(86400, 24))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 20, R24, src=10, url=str(media / "a.mov"), avail=(0, 40)))
    for i, (frames, prompt) in enumerate(holes):
        v1.append(gap(frames, R24, marker(f"GEN: {prompt} | seed=5", 0, frames, R24)))
        v1.append(clip("b" if i % 2 == 0 else "a", 20, R24, src=4, url=str(media / ("b.mov" if i % 2 == 0 else "a.mov")),
                       avail=(0, 40)))
    tl.tracks.append(v1)
    path = folder / "cut.otio"
    otio.adapters.write_to_file(tl, str(path))
    return path


def config(tmp_path: Path, url: str, **extra: object) -> Path:
    lines = ['default_provider = "openai"', "[providers.openai]", f'base_url = "{url}"', "poll_interval = 0.01",
             "timeout = 60", "price_per_second = 0.1", *(f"{k} = {json.dumps(v)}" for k, v in extra.items())]
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text("\n".join(lines) + "\n" + GATEWAY_MODEL)
    return cfg


def fill_argv(src: Path, out: Path, cfg: Path, state: Path, *more: str) -> list[str]:
    return ["fill", str(src), "-o", str(out), "--config", str(cfg), "--state-dir", str(state), "--no-report", *more]


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return KEY


@pytest.fixture
def fake(small_video):
    with FakeOpenAI(small_video, key=KEY) as f:
        yield f


def creates(fake: FakeOpenAI) -> int:
    return fake.count("POST /v1/videos")


def kill_during_slow_create(argv: list[str], fake: FakeOpenAI, cwd: Path, seconds: float) -> None:
    """Start a real ``python -m shotfill`` and SIGKILL it while the service sits on the create."""
    fake.delay("POST /v1/videos", seconds)
    proc = subprocess.Popen([sys.executable, "-m", "shotfill", *argv], cwd=cwd, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while creates(fake) == 0:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the submit never went out"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
    assert fake.jobs == {}     # the create is still in flight: no job in the listing yet


# --------------------------------------------------------------------------- 2. never submitted twice


def test_a_run_killed_during_a_slow_create_finds_the_job_once_it_lands(fake, key, tmp_path, capsys):
    src = cut(tmp_path / "in", [(12, "a fox in snow")], tmp_path / "media")
    cfg = config(tmp_path, fake.url)   # looks for up to recover_wait = 120 s by default
    argv = fill_argv(src, tmp_path / "out" / "filled.otio", cfg, tmp_path / "state")
    kill_during_slow_create(argv, fake, tmp_path, seconds=4)
    assert Journal(tmp_path / "state" / "journal.sqlite").all()[0].state == "submitting"

    # The listing is empty at first (the slow create has not landed): that is no proof it never
    # arrived, so the run looks again until it shows up, and never creates a second job.
    code = main(argv)
    io = capsys.readouterr()
    assert code == 0, io.out + io.err
    assert creates(fake) == 1 and len(fake.jobs) == 1
    assert fake.count("GET /v1/videos") >= 2
    [job_id] = fake.jobs
    back = otio.adapters.read_from_file(str(tmp_path / "out" / "filled.otio"))
    [gen] = [c for c in back.find_clips() if "shotfill" in c.metadata]
    assert gen.metadata["shotfill"]["job_id"] == job_id


def test_a_lost_submit_with_no_listing_says_it_is_uncertain_and_what_resubmit_does(fake, key, tmp_path, capsys):
    src = cut(tmp_path / "in", [(12, "a fox in snow")], tmp_path / "media")
    cfg = config(tmp_path, fake.url)
    argv = fill_argv(src, tmp_path / "out" / "filled.otio", cfg, tmp_path / "state")
    kill_during_slow_create(argv, fake, tmp_path, seconds=1)
    # a gateway without a listing
    fake.fail("GET /v1/videos", status=404, body={"error": {"message": "Not Found", "type": "not_found"}}, times=50)

    code = main(argv)
    io = capsys.readouterr()
    assert code == 1
    assert "uncertain" in io.out and "nothing was sent again" in io.out and "--resubmit" in io.out
    assert "check the model and options" not in io.out + io.err
    assert "Traceback" not in io.err
    assert creates(fake) == 1
    assert not (tmp_path / "out" / "filled_media").exists() or not list((tmp_path / "out" / "filled_media").glob("*.mov"))


def test_look_alike_holes_in_one_run_share_one_job(fake, key, tmp_path, capsys):
    media = tmp_path / "media"
    one = cut(tmp_path / "p" / "reel", [(12, "a fox in snow")], media)
    two = cut(tmp_path / "q" / "reel", [(12, "a fox in snow")], media)
    cfg = config(tmp_path, fake.url)
    code = main(["fill", str(one), str(two), "-o", str(tmp_path / "out"), "--config", str(cfg),
                 "--state-dir", str(tmp_path / "state"), "--no-report"])
    io = capsys.readouterr()
    assert code == 0, io.out + io.err
    assert creates(fake) == 1
    outs = sorted((tmp_path / "out").glob("*.otio"))
    assert len(outs) == 2
    placed = [c.media_reference.target_url for o in outs
              for c in otio.adapters.read_from_file(str(o)).find_clips() if "shotfill" in c.metadata]
    assert len(placed) == 2
    for url in placed:
        assert decoded_frames(Path(url.removeprefix("file://"))) == 12


# --------------------------------------------------------------------------- 4. damaged media never placed


def _damage_in_place(path: Path) -> None:
    """Overwrite bytes in the middle of the file, in place: every hard link sees it."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"\x00" * 256)


def _downloaded(state: Path):
    [rec] = Journal(state / "journal.sqlite").all()
    assert rec.state == "downloaded" and rec.media_path
    return rec


def test_a_damaged_download_is_fetched_again_by_job_id(fake, key, tmp_path, capsys, small_video):
    src = cut(tmp_path / "in", [(12, "a fox in snow")], tmp_path / "media")
    cfg = config(tmp_path, fake.url)
    argv = fill_argv(src, tmp_path / "out" / "filled.otio", cfg, tmp_path / "state")
    assert main(argv) == 0
    capsys.readouterr()
    rec = _downloaded(tmp_path / "state")
    kept = Path(rec.media_path)
    cached = list((tmp_path / "state" / "cache").rglob(rec.request_hash))
    assert cached and cached[0].stat().st_ino == kept.stat().st_ino     # one file, two names
    _damage_in_place(kept)
    downloads = fake.count("GET /v1/videos/*/content")

    code = main(argv)
    io = capsys.readouterr()
    assert code == 0, io.out + io.err
    assert fake.count("GET /v1/videos/*/content") == downloads + 1     # fetched again by its job id
    assert creates(fake) == 1                                          # and never paid again
    again = _downloaded(tmp_path / "state")
    assert Path(again.media_path).read_bytes() == small_video
    assert again.sha256 == hashlib.sha256(small_video).hexdigest()


def test_a_damaged_download_whose_job_is_gone_is_not_placed_and_only_resubmit_pays_again(
        fake, key, tmp_path, capsys, small_video):
    src = cut(tmp_path / "in", [(12, "a fox in snow")], tmp_path / "media")
    cfg = config(tmp_path, fake.url)
    out = tmp_path / "out" / "filled.otio"
    argv = fill_argv(src, out, cfg, tmp_path / "state")
    assert main(argv) == 0
    capsys.readouterr()
    rec = _downloaded(tmp_path / "state")
    _damage_in_place(Path(rec.media_path))
    fake.jobs.clear()                                                  # the service forgot the job
    out.unlink()

    code = main(argv)
    io = capsys.readouterr()
    assert code == 1
    assert "damaged" in io.out and "--resubmit" in io.out and "Traceback" not in io.err
    assert creates(fake) == 1
    back = otio.adapters.read_from_file(str(out))
    assert not [c for c in back.find_clips() if "shotfill" in c.metadata]   # nothing damaged was placed
    assert _downloaded(tmp_path / "state").sha256 == rec.sha256        # still on record: never "failed"

    code = main(argv)                                                  # again: still refused, still unpaid
    capsys.readouterr()
    assert code == 1 and creates(fake) == 1

    code = main([*argv, "--resubmit"])
    io = capsys.readouterr()
    assert code == 0, io.out + io.err
    assert creates(fake) == 2
    assert Path(_downloaded(tmp_path / "state").media_path).read_bytes() == small_video


def test_a_journal_from_before_the_checksum_column_is_migrated(tmp_path):
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE jobs (request_hash TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT, job_id TEXT, "
               "state TEXT NOT NULL, media_path TEXT, cost REAL, data TEXT, error TEXT, updated_at REAL NOT NULL)")
    db.execute("INSERT INTO jobs VALUES ('ab', 'openai', 'sora-2', 'video_1', 'downloaded', '/x.mp4', 0.4, '{}', "
               "NULL, 1.0)")
    db.commit()
    db.close()
    j = Journal(path)
    rec = j.get("ab")
    assert rec is not None and rec.job_id == "video_1" and rec.sha256 is None
    j.downloaded("ab", "openai", "/x.mp4", sha256="f" * 64)
    assert j.get("ab").sha256 == "f" * 64
    j.close()


# --------------------------------------------------------------------------- 9. short results


def test_a_short_clip_is_warned_about_and_past_a_quarter_of_the_hole_refused(fake, key, tmp_path, capsys):
    # The service's clip is 24 frames; holes of 28 (4 held: a warning) and 40 (16 held, 40 %: refused).
    src = cut(tmp_path / "in", [(28, "a fox in snow"), (40, "a hare in rain")], tmp_path / "media")
    cfg = config(tmp_path, fake.url)
    out = tmp_path / "out" / "filled.otio"
    argv = ["fill", str(src), "-o", str(out), "--config", str(cfg), "--state-dir", str(tmp_path / "state")]
    code = main(argv)
    io = capsys.readouterr()
    assert code == 1, io.out + io.err
    assert "WARNING" in io.out and "held for the last 4 frames" in io.out
    assert "FAILED" in io.out and "16 frames (40% of the hole" in io.out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    by_result = {p["result"]: p for p in report["placeholders"]}
    assert by_result["filled"]["warnings"] and "4 frames" in by_result["filled"]["warnings"][0]
    assert by_result["failed"]["warnings"] == [] and "not placed" in by_result["failed"]["error"]
    back = otio.adapters.read_from_file(str(out))
    [placed] = [c for c in back.find_clips() if "shotfill" in c.metadata]
    assert decoded_frames(Path(placed.media_reference.target_url.removeprefix("file://"))) == 28

    # the refused clip stays paid for: a later run sends nothing new
    assert {r.state for r in Journal(tmp_path / "state" / "journal.sqlite").all()} == {"downloaded"}
    assert creates(fake) == 2
    assert main([*argv, "--json", "-q"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert creates(fake) == 2
    assert [p["warnings"] for p in summary["placeholders"] if p["result"] == "filled"][0]
