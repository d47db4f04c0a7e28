"""Scan and write back a generated 5,000-event EDL; compare with OTIO's own read + write.

    python bench/edl_5000.py

Prints the time of OTIO's cmx_3600 read + write alone, the time of ShotFill's
read + scan + splice write-back (no generation: the placements point at a
dummy file), and their ratio.  Best of 3 runs each.
"""

from __future__ import annotations

import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

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


def main() -> int:
    text = make_edl()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.edl"
        path.write_text(text)
        dummy = Path(d) / "dummy.mov"

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
    print(f"{EVENTS}-event EDL, {EVENTS // EVERY} placeholders")
    print(f"  OTIO cmx_3600 read + write alone : {t_otio:7.3f} s")
    print(f"  ShotFill read + scan + write-back: {t_sf:7.3f} s")
    print(f"  ratio ShotFill / OTIO            : {t_sf / t_otio:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
