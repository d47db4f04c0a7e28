"""Bounded reads: a zip bomb, a symlink to /dev/zero, a FIFO and a 10-hour hole are refused, fast and clearly.

Each runs ``python -m shotfill`` as a real subprocess with a timeout and a
memory cap, so a reader that hangs or reads without end fails the test
instead of taking the machine with it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from timelines import gap, marker

ROOT = Path(__file__).resolve().parents[1]
NTSC = Fraction(24000, 1001)

pytestmark = pytest.mark.slow


def _limit_memory() -> None:
    # 1.5 GB of address space: reading /dev/zero into memory dies here instead of in the machine.
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024, 1536 * 1024 * 1024))


def shotfill(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugin"), str(ROOT / "otio_adapters"),
                                         env.get("PYTHONPATH", "")])
    t0 = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "shotfill", *args], env=env, cwd=str(cwd),
                              capture_output=True, text=True, timeout=timeout, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"shotfill {' '.join(args)} was still running after {timeout} s")
    done.seconds = time.monotonic() - t0
    return done


def one_hole(frames: int, rate: Fraction) -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(0, float(rate)))
    t = otio.schema.Track(name="V1", kind="Video")
    t.append(gap(frames, rate, marker("GEN: the harbour at night", 0, 1, rate)))
    tl.tracks.append(t)
    return tl


def assert_refused(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    for w in words:
        assert w in done.stderr, done.stderr
    assert done.seconds < 15


def test_a_zip_bomb_otioz_is_refused_before_it_is_inflated(tmp_path):
    # A real timeline followed by 96 MB of whitespace: valid JSON, packed about 1000:1 into ~100 KB.
    text = otio.adapters.write_to_string(one_hole(48, Fraction(24)), "otio_json")
    bomb = tmp_path / "cut.otioz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("content.otio", "w", force_zip64=True) as member:
            member.write(text[:-1].encode())
            pad = b" " * (1024 * 1024)
            for _ in range(96):
                member.write(pad)
            member.write(b"}")
        zf.writestr("version.txt", "1.0.0")
    assert bomb.stat().st_size < 1024 * 1024
    done = shotfill("scan", str(bomb), cwd=tmp_path)
    assert_refused(done, str(bomb), "content.otio", "zip bomb")


def test_a_symlink_to_dev_zero_is_refused_not_read(tmp_path):
    link = tmp_path / "cut.otio"
    link.symlink_to("/dev/zero")
    done = shotfill("scan", str(link), cwd=tmp_path)
    assert_refused(done, str(link), "is a device", "/dev/zero")


@pytest.mark.parametrize("as_markers", [False, True], ids=["timeline", "--markers"])
def test_a_fifo_is_refused_without_hanging(tmp_path, as_markers):
    fifo = tmp_path / "cut.edl"
    os.mkfifo(fifo)
    if as_markers:
        real = tmp_path / "real.otio"
        otio.adapters.write_to_file(one_hole(48, Fraction(24)), str(real))
        done = shotfill("scan", str(real), "--markers", str(fifo), cwd=tmp_path)
    else:
        done = shotfill("scan", str(fifo), "--rate", "24", cwd=tmp_path)
    assert_refused(done, str(fifo), "named pipe")


def test_a_ten_hour_hole_is_a_warning_in_scan_and_refused_by_fill_without_allow_long(tmp_path):
    src = tmp_path / "cut.otio"
    frames = 10 * 3600 * 24000 // 1001          # ten hours of 23.976
    otio.adapters.write_to_file(one_hole(frames, NTSC), str(src))
    out = tmp_path / "out" / "cut.otio"

    scan = shotfill("scan", str(src), "--resolution", "320x180", cwd=tmp_path)
    assert scan.returncode == 0, scan.stderr
    assert "600.0 minutes" in scan.stderr and "--allow-long" in scan.stderr

    done = shotfill("fill", str(src), "-o", str(out), "--resolution", "320x180", cwd=tmp_path)
    assert_refused(done, "cut.otio", f"{frames} frames", "--allow-long", "nothing was generated")
    assert not (tmp_path / "out").exists(), "nothing created, nothing rendered"

    dry = shotfill("fill", str(src), "-o", str(out), "--resolution", "320x180", "--dry-run", "--json",
                   "--allow-long", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["placeholders"][0]["frames"] == frames
