"""The batch engine: many timelines, the cache, the journal (SIGKILL / Ctrl-C), the budget, progress, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fakes.openai import GATEWAY_MODEL
from mediautil import decoded_frames
from shotfill.cli.app import main
from timelines import generated, holes_timeline

#: a gateway's /v1/videos model, declared as shotfill.toml must (the catalog ships none for openai)

pytestmark = pytest.mark.slow          # real fills and killed child processes

KEY = "sk-batch-test-key"
R25 = Fraction(25)
ROOT = Path(__file__).resolve().parents[1]




def test_many_timelines_folder_and_glob_give_one_output_each(tmp_path, capsys):
    a = holes_timeline(tmp_path / "in" / "reel1.otio", ["a fox", "a hare"])
    holes_timeline(tmp_path / "in" / "reel2.otio", ["a crow"])
    other = holes_timeline(tmp_path / "more" / "reel3.otio", ["an owl"])
    out = tmp_path / "out"
    code = main(["fill", str(tmp_path / "in"), str(tmp_path / "more" / "*.otio"), "-o", str(out),
                 "--resolution", "320x180", "-q"])
    assert code == 0
    assert sorted(p.name for p in out.glob("*.otio")) == ["reel1.otio", "reel2.otio", "reel3.otio"]
    assert len(generated(out / "reel1.otio")) == 2 and len(generated(out / "reel3.otio")) == 1
    report = json.loads((out / "report.json").read_text())
    assert {p["timeline"] for p in report["placeholders"]} == {str(a), str(tmp_path / "in" / "reel2.otio"),
                                                               str(other)}
    assert (out / "report.html").is_file()
    # --format writes every output as the format asked for
    assert main(["fill", str(tmp_path / "in"), "-o", str(tmp_path / "as_edl"), "--format", "edl",
                 "--resolution", "320x180", "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "as_edl").glob("*.edl")) == ["reel1.edl", "reel2.edl"]


def test_second_run_sends_nothing_and_a_changed_prompt_regenerates_only_itself(openai_fake, tmp_path):
    src = holes_timeline(tmp_path / "cut.otio", ["a fox", "a hare", "a crow"])
    out = tmp_path / "out" / "cut.otio"
    args = ["fill", str(src), "-o", str(out), "--config", str(openai_fake.config), "-q", "--no-report",
            "--resolution", "320x180"]
    assert main(args) == 0
    assert openai_fake.count("POST /v1/videos") == 3
    seen = len(openai_fake.requests)

    assert main(args) == 0
    assert len(openai_fake.requests) == seen, "an unchanged timeline must make no provider request"
    assert len(generated(out)) == 3

    holes_timeline(src, ["a fox", "a hare in the rain", "a crow"])
    assert main(args) == 0
    posts = [r for r in openai_fake.requests[seen:] if r.method == "POST"]
    assert len(posts) == 1 and b"a hare in the rain" in posts[0].body
    assert len(generated(out)) == 3


def test_budget_covering_half_the_estimate_fills_half(openai_fake, tmp_path, capsys):
    src = holes_timeline(tmp_path / "cut.otio", ["one", "two", "three", "four"])
    out = tmp_path / "out" / "cut.otio"
    # openai generates 4 s per hole at 0.1/s: 0.40 each, 1.60 for all four
    code = main(["fill", str(src), "-o", str(out), "--config", str(openai_fake.config), "--max-cost", "0.8",
                 "--json", "-q", "--resolution", "320x180"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["totals"] == {"filled": 2, "failed": 0, "skipped": 2}
    assert openai_fake.count("POST /v1/videos") == 2
    skipped = [p for p in summary["placeholders"] if p["result"] == "skipped"]
    assert all("over budget" in p["error"] for p in skipped)
    assert len(generated(out)) == 2
    # the skipped holes are left exactly as they were: still gaps with their markers
    back = otio.adapters.read_from_file(str(out))
    assert sum(1 for c in back.tracks[0] if isinstance(c, otio.schema.Gap) and len(c.markers) == 1) == 2


def test_a_corrupted_cache_entry_is_detected_and_regenerated(tmp_path):
    src = holes_timeline(tmp_path / "cut.otio", ["a fox"], frames=12)
    out = tmp_path / "out" / "cut.otio"
    args = ["fill", str(src), "-o", str(out), "--resolution", "320x180", "-q", "--no-report"]
    assert main(args) == 0
    [entry] = [p for p in (tmp_path / "out" / ".shotfill" / "cache").rglob("*") if p.is_file() and not p.suffix]
    data = entry.read_bytes()
    # Truncate in a new file so the earlier media (a hard link) is not damaged along with it.
    entry.unlink()
    entry.write_bytes(data[: len(data) // 3])
    assert main(args) == 0
    [clip] = generated(out)
    media = Path(otio.url_utils.filepath_from_url(clip.media_reference.target_url))
    assert decoded_frames(media) == 12
    assert entry.stat().st_size == len(data), "the cache entry was regenerated whole"


def _run_cli(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shotfill", *args], env=env, cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _env() -> dict:
    env = dict(os.environ, OPENAI_API_KEY=KEY)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugin"), str(ROOT / "otio_adapters"),
                                         env.get("PYTHONPATH", "")])
    return env


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_killed_run_resumes_without_paying_twice(openai_fake, tmp_path, sig):
    prompts = [f"shot {i}" for i in range(6)]
    src = holes_timeline(tmp_path / "cut.otio", prompts)
    out = tmp_path / "out" / "cut.otio"
    # Slow jobs (many polls) so the kill lands while jobs are in flight.
    openai_fake.steps = [("queued", 0)] + [("in_progress", p) for p in range(5, 100, 5)] + [("completed", 100)]
    cfg = tmp_path / "slow.toml"
    # recover_wait: how long a resumed run looks in the listing for a submit the kill caught in flight.
    cfg.write_text(f'default_provider = "openai"\n[providers.openai]\nbase_url = "{openai_fake.url}"\n'
                   "poll_interval = 0.05\nconcurrency = 3\nrecover_wait = 2\n" + GATEWAY_MODEL)
    args = ["fill", str(src), "-o", str(out), "--config", str(cfg), "--no-report", "--resolution", "320x180"]
    proc = _run_cli(args, _env())
    deadline = time.monotonic() + 60
    while openai_fake.count("POST /v1/videos") < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert openai_fake.count("POST /v1/videos") >= 3, proc.communicate()[1]
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "run the same command again to resume" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "no output timeline from a stopped run"

    openai_fake.steps = [("queued", 0), ("completed", 100)]
    done = _run_cli(args, _env())
    _, err = done.communicate(timeout=120)
    if done.returncode == 1:
        # The kill caught a submit before the service had it: the listing never shows it, so it stays
        # uncertain (never sent again on its own); --resubmit sends exactly those.
        assert "uncertain" in err and "--resubmit" in err, err
        again = _run_cli(args + ["--resubmit"], _env())
        _, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
    else:
        assert done.returncode == 0, err
    creates = [r for r in openai_fake.requests if r.key == "POST /v1/videos"]
    bodies = [r.body for r in creates]
    for p in prompts:
        assert sum(p.encode() + b"\r\n" in b for b in bodies) == 1, f"'{p}' was submitted more than once"
    assert len(generated(out)) == 6


def test_progress_is_plain_lines_off_a_terminal_and_json_summary(tmp_path, capsys):
    src = holes_timeline(tmp_path / "cut.otio", ["a fox", "a hare"])
    assert main(["fill", str(src), "-o", str(tmp_path / "o" / "cut.otio"), "--resolution", "320x180",
                 "--json"]) == 0
    io = capsys.readouterr()
    summary = json.loads(io.out)
    assert summary["totals"]["filled"] == 2
    assert [p["result"] for p in summary["placeholders"]] == ["filled", "filled"]
    lines = [ln for ln in io.err.splitlines() if ln.strip()]
    assert any(" done " in ln for ln in lines) and any(" conform " in ln for ln in lines)
    assert main(["fill", str(src), "-o", str(tmp_path / "q" / "cut.otio"), "--resolution", "320x180",
                 "-q"]) == 0
    io = capsys.readouterr()
    assert io.err == "" and "2 of 2 placeholder(s) filled" in io.out


def test_live_display_renders_a_line_per_placeholder(tmp_path):
    import io as _io

    from shotfill.cli.progress import LiveDisplay

    buf = _io.StringIO()
    d = LiveDisplay(buf)
    d.add("V1_01", "V1_01")
    d("V1_01", "progress", "40%")
    d("V1_02", "done", "x.mov")
    d.close()
    text = buf.getvalue()
    assert "V1_01" in text and "40%" in text and "1 done" in text


def test_inputs_with_the_same_name_get_distinct_outputs(tmp_path):
    from shotfill.cli.inputs import plan_outputs

    a = holes_timeline(tmp_path / "day1" / "reel.otio", ["a"])
    b = holes_timeline(tmp_path / "day2" / "reel.otio", ["b"])
    items = plan_outputs([a, b], tmp_path / "out")
    assert [i.output.name for i in items] == ["day1_reel.otio", "day2_reel.otio"]
    edl = tmp_path / "day1" / "reel.edl"
    edl.write_text("TITLE: x\n")
    items = plan_outputs([a, edl], tmp_path / "out")
    assert [i.output.name for i in items] == ["reel.otio", "reel.edl"]
