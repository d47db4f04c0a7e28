"""Scan a generated 5,000-event EDL as a whole process against OTIO's own read of it; and read + write back.

    python bench/edl_5000.py [RUNS]

1. ``python -m shotfill scan big.edl --rate 24`` against
   ``python -c "import opentimelineio as otio; otio.adapters.read_from_file('big.edl', rate=24)"``,
   each in a fresh interpreter (startup included), interleaved, best of RUNS.  Goal <= 1.0.
2. In one process: OTIO's cmx_3600 read + write against ShotFill's read + scan + splice
   write-back (no generation: the placements point at a dummy file).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import _builds
import opentimelineio as otio

from shotfill.timeline.edl.splice import splice_edl
from shotfill.model import TimelineInfo
from shotfill.model import Placement
from shotfill.rates import frames_to_timecode
from shotfill.scan.placeholders import scan_timeline
from shotfill.timeline.read import read_timeline

RATE = Fraction(24000, 1001)
EVENTS = 5000
EVERY = 100   # one BL placeholder with a GEN: LOC every EVERY events


def make_edl() -> str:
    tc = lambda f: frames_to_timecode(f, RATE, False)
    lines = ["TITLE: BENCH 5000", "FCM: NON-DROP FRAME", ""]
    rec = 86400
    for n in range(1, EVENTS + 1):
        dur = 24 + (n * 7) % 48
        if n % EVERY == 0:
            lines.append(f"{n:04d}  BL       V     C        00:00:00:00 {tc(dur)} {tc(rec)} {tc(rec + dur)}")
            lines.append(f"* LOC: {tc(rec + 1)} PURPLE  GEN: shot {n} | seed={n}")
        else:
            src = 3600 * 24 + n * 10
            lines.append(f"{n:04d}  R{n % 97:03d}     V     C        {tc(src)} {tc(src + dur)} {tc(rec)} {tc(rec + dur)}")
            lines.append(f"* FROM CLIP NAME: clip_{n}.mov")
        rec += dur
    return "\n".join(lines) + "\n"


def best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def process_seconds(argv: list[str], cwd: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    _builds.compile_package()
    text = make_edl()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.edl"
        path.write_text(text)
        dummy = Path(d) / "dummy.mov"
        env_load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
        scan_argv = [sys.executable, "-m", "shotfill", "scan", str(path), "--rate", "24"]
        otio_argv = [sys.executable, "-c", "import opentimelineio as otio; "
                     f"otio.adapters.read_from_file({str(path)!r}, rate=24)"]
        scans, reads = [], []
        for _ in range(runs):     # interleaved: the machine's other load hits both alike
            scans.append(process_seconds(scan_argv, d))
            reads.append(process_seconds(otio_argv, d))
        t_scan, t_read = min(scans), min(reads)
        print(f"{EVENTS}-event EDL, {EVENTS // EVERY} placeholders; load {env_load} (1-min average)")
        print(f"  process: shotfill scan {t_scan:6.3f} s   OTIO read_from_file {t_read:6.3f} s   "
              f"ratio {t_scan / t_read:5.2f}  (best of {runs}; goal <= 1.0)")

        def otio_alone() -> None:
            tl = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=float(RATE))
            otio.adapters.write_to_string(tl, adapter_name="cmx_3600", rate=float(RATE))

        def shotfill() -> None:
            read = read_timeline(path, rate=RATE)
            info = TimelineInfo(path=str(path), format=read.format, name="bench", rate=read.rate,
                                drop_frame=read.drop_frame, start_frame=read.start_frame, width=1920, height=1080)
            res = scan_timeline(read.timeline, info)
            assert len(res.placeholders) == EVENTS // EVERY, len(res.placeholders)
            out = splice_edl(read.source_text, [Placement(p, dummy, {}) for p in res.placeholders],
                             rate=RATE, drop_frame=False, source_name=path.name)
            (Path(d) / "out.edl").write_text(out)

        t_otio = best(otio_alone)
        t_sf = best(shotfill)
    print(f"  OTIO cmx_3600 read + write alone : {t_otio:7.3f} s")
    print(f"  ShotFill read + scan + write-back: {t_sf:7.3f} s")
    print(f"  ratio ShotFill / OTIO            : {t_sf / t_otio:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
