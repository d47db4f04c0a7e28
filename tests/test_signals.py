"""Signals and children: SIGTERM/SIGHUP stop like Ctrl-C, no ffmpeg outlives ShotFill, stale partial files go.

Real ``python -m shotfill fill`` subprocesses on a long hole (so ffmpeg is busy
when the signal lands), real signals sent to the parent only, and the
survivors looked for in /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from timelines import gap, marker

ROOT = Path(__file__).resolve().parents[1]
R24 = Fraction(24)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")]


def hole_timeline(path: Path, frames: int) -> Path:
    tl = otio.schema.Timeline(name=path.stem, global_start_time=otio.opentime.RationalTime(86400, 24))
    t = otio.schema.Track(name="V1", kind="Video")
    t.append(gap(frames, R24, marker("GEN: a slow pan over a long beach", 0, 1, R24)))
    tl.tracks.append(t)
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(path))
    return path


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugin"), str(ROOT / "otio_adapters"),
                                         env.get("PYTHONPATH", "")])
    return env


def _stat(pid: int) -> tuple[str, str, int, int] | None:
    """(comm, state, ppid, pgrp) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1: text.rindex(")")]
    state, ppid, pgrp = text[text.rindex(")") + 2:].split()[:3]
    return comm, state, int(ppid), int(pgrp)


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] not in ("Z", "X")


def _ffmpeg_children(parent: int) -> list[int]:
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st and st[2] == parent and "ffmpeg" in st[0] and st[1] not in ("Z", "X"):
                found.append(int(d))
    return found


def _partials(*folders: Path) -> list[Path]:
    return [p for f in folders if f.exists() for p in f.rglob("*") if ".part" in p.name]


def _start_long_fill(tmp_path: Path) -> tuple[subprocess.Popen, list[int], list[str]]:
    """A fill of a 10-minute hole, returned once ffmpeg is writing its partial file."""
    src = hole_timeline(tmp_path / "long.otio", 24 * 600)
    out = tmp_path / "out" / "cut.otio"
    args = [sys.executable, "-m", "shotfill", "fill", str(src), "-o", str(out), "--resolution", "320x180",
            "--provider", "local", "--no-report", "-q"]
    # Its own session: the signal goes to ShotFill alone, as from `kill PID`, never to pytest.
    proc = subprocess.Popen(args, env=_env(), cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    kids: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        kids = _ffmpeg_children(proc.pid)
        if kids and _partials(tmp_path / "out"):
            break
        time.sleep(0.05)
    if not kids:
        proc.kill()
        pytest.fail("ffmpeg never started: " + proc.communicate()[1])
    time.sleep(0.3)     # let it get going
    return proc, kids, args


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _cleanup(proc: subprocess.Popen, kids: list[int]) -> None:
    # Today's code leaves orphans: do not let a failed test leave them running.
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for p in kids:
        if _alive(p):
            os.kill(p, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_stop_signal_to_shotfill_alone_stops_it_like_ctrl_c_and_takes_ffmpeg_along(tmp_path, sig):
    proc, kids, _ = _start_long_fill(tmp_path)
    try:
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"ShotFill still running 20 s after {sig.name} (waiting for ffmpeg?)")
        assert proc.returncode == 130, err
        assert "run the same command again" in err
        assert "Traceback" not in err
        assert _gone_within(kids, 3) == [], f"ffmpeg survived ShotFill's {sig.name}"
        assert _partials(tmp_path / "out") == [], "nothing half-written stays behind"
        assert not (tmp_path / "out" / "cut.otio").exists()
    finally:
        _cleanup(proc, kids)


def test_sigkill_takes_ffmpeg_along_and_the_next_run_sweeps_its_partial_file(tmp_path):
    proc, kids, args = _start_long_fill(tmp_path)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert _gone_within(kids, 3) == [], "ffmpeg survived ShotFill's SIGKILL"
    finally:
        _cleanup(proc, kids)
    left = _partials(tmp_path / "out")
    assert left, "a SIGKILLed run leaves its partial file (nothing could remove it)"
    # A partial file of a live process (this one) is not touched; nor is an unrelated hidden file.
    from shotfill.system import partials

    live = partials.partial_name(tmp_path / "out" / "cut_media" / "x.mov")
    live.write_bytes(b"live")
    mine = tmp_path / "out" / "cut_media" / ".x.part.mov"
    mine.write_bytes(b"not shotfill's")

    short = hole_timeline(tmp_path / "short" / "long.otio", 12)
    again = subprocess.run([*args[:4], str(short), *args[5:]], env=_env(), cwd=str(tmp_path),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not any(p.exists() for p in left), "the next run removed the dead run's partial files"
    assert live.exists() and mine.exists()
    assert (tmp_path / "out" / "cut.otio").exists()


def test_children_run_in_their_own_group_and_endless_output_is_cut_at_the_cap(tmp_path):
    from shotfill.system import children
    from shotfill.errors import FFmpegError
    from shotfill.media import tools

    proc = children.spawn([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _stat(proc.pid)[3] == proc.pid, "the child leads its own process group"
    finally:
        children.reap(proc)
    assert not _alive(proc.pid)

    # ffmpeg writing raw video to stdout forever: stopped at the cap, not when memory runs out.
    argv = [tools.ffmpeg_path(), "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=24",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    t0 = time.monotonic()
    with pytest.raises(FFmpegError, match="printed more than"):
        tools.run(argv, what="an endless stream", timeout=20)
    assert time.monotonic() - t0 < 10
