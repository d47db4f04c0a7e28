"""Scan a 200,000-clip .otio as a whole process against OTIO's own read of it; peak memory of each.

    python bench/otio_200k.py [RUNS] [CLIPS]

The timeline (made once into bench/_work/, compact JSON, under ShotFill's
256 MB cap for a text timeline): one video track of CLIPS clips, each with a file reference, and a gap with a ``GEN:`` marker every 1,000 clips.  Then, each in a fresh interpreter,
interleaved, best of RUNS:

* ``python -m shotfill scan big.otio`` (goal: within 1.2x of OTIO's read, under 1 GB), and
* ``python -c "import opentimelineio as otio; otio.adapters.read_from_file('big.otio')"``.

Peak RSS is the child's ``ru_maxrss``.  ShotFill is byte-compiled first, as a wheel install is
(see bench/edl_5000.py): OTIO's modules come compiled, and under PYTHONDONTWRITEBYTECODE=1 an
editable install would compile every ShotFill module in every measured process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import _builds

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work"


def make(path: Path, clips: int) -> None:
    import opentimelineio as otio

    rt = lambda f: otio.opentime.RationalTime(f, 24)  # noqa: E731
    tl = otio.schema.Timeline(name="big", global_start_time=rt(86400))
    track = otio.schema.Track(name="V1", kind="Video")
    for i in range(clips):
        if i % 1000 == 999:
            gap = otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(48)))
            gap.markers.append(otio.schema.Marker(name=f"GEN: shot {i} | seed={i}",
                                                  marked_range=otio.opentime.TimeRange(rt(0), rt(1))))
            track.append(gap)
        ref = otio.schema.ExternalReference(target_url=f"file:///media/reel{i % 50}/clip_{i}.mov")
        track.append(otio.schema.Clip(name=f"clip_{i}", media_reference=ref,
                                      source_range=otio.opentime.TimeRange(rt(i % 2000), rt(24 + i % 48))))
    tl.tracks.append(track)
    # Compact JSON (as tools write big timelines): 200,000 clips then stay under ShotFill's 256 MB cap.
    # (This OTIO's writer ignores indent=-1, so the indentation is taken out line by line: JSON strings
    # hold no raw line breaks, so what a line starts and ends with is layout.)
    pretty = path.with_suffix(".pretty.json")
    otio.adapters.write_to_file(tl, str(pretty), adapter_name="otio_json")
    with open(pretty, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as dst:
        for line in src:
            dst.write(line.strip())
    pretty.unlink()


def _load() -> str:
    return open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"


def run(argv: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in MB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=WORK)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed with exit {proc.returncode}")
    return wall, usage.ru_maxrss // 1024


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    clips = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"big_{clips}.otio"
    if not path.exists():
        make(path, clips)
    _builds.compile_package()
    load = _load()
    scan_argv = [sys.executable, "-m", "shotfill", "scan", str(path)]
    otio_argv = [sys.executable, "-c", f"import opentimelineio as otio; otio.adapters.read_from_file({str(path)!r})"]
    scans, reads = [], []
    for _ in range(runs):     # interleaved: the machine's other load hits both alike
        scans.append(run(scan_argv))
        reads.append(run(otio_argv))
    (t_scan, m_scan), (t_read, m_read) = min(scans), min(reads)
    print(f"{clips:,}-clip .otio ({path.stat().st_size / 1e6:.0f} MB), {clips // 1000} placeholders; "
          f"load {load} at start, {_load()} at the end (1-min averages)")
    print(f"  shotfill scan      {t_scan:7.2f} s  peak RSS {max(m for _, m in scans):5d} MB  (goal: under 1024 MB)")
    print(f"  OTIO read_from_file{t_read:7.2f} s  peak RSS {max(m for _, m in reads):5d} MB")
    print(f"  ratio              {t_scan / t_read:7.2f}  (best of {runs}; goal <= 1.2)")
    del m_scan, m_read
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
