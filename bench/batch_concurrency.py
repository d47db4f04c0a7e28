"""Provider jobs run concurrently: 32 placeholders, 8 at a time, 2 s per job.

    python bench/batch_concurrency.py [PLACEHOLDERS] [CONCURRENCY] [LATENCY_S] [--ffmpeg pinned|system|PATH]

Starts a local OpenAI-style Videos API whose jobs finish a fixed time after
they are submitted (the test fake, made time-based), fills a timeline of
PLACEHOLDERS gaps through the real `openai` client and the real pipeline
(submit, poll, download, conform, write), and prints the wall time against
the ideal: ceil(PLACEHOLDERS / CONCURRENCY) x LATENCY plus the conforms that
cannot overlap a generation (the last wave's, spread over the conform slots), or, when the
conforms are the slower side (a slow or busy ffmpeg), the first wave's LATENCY plus all the
conforms at the measured pace.
Target: within 15 % of ideal.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import _builds  # noqa: E402

sys.argv[1:] = _builds.choose(sys.argv[1:])

import opentimelineio as otio  # noqa: E402

from fakes.openai import GATEWAY_MODEL, FakeOpenAI  # noqa: E402
from mediautil import make_test_clip  # noqa: E402
from shotfill.cli.app import main as shotfill  # noqa: E402
from shotfill.jobs.executor import conform_slots  # noqa: E402
from shotfill.media.conform import conform  # noqa: E402
from shotfill.model import ConformTarget  # noqa: E402

KEY = "bench-key"
RATE = Fraction(24)
GAP = 24          # frames per placeholder (1 s)


class TimedOpenAI(FakeOpenAI):
    """Jobs are in progress until LATENCY seconds after their submit, then completed."""

    latency = 2.0

    def _advance(self, vid: str) -> dict:
        with self._lock:
            job = self.jobs[vid]
            video = job["video"]
            age = time.time() - job.setdefault("t0", time.time())
            if age >= self.latency:
                video.update(status="completed", progress=100, completed_at=int(time.time()))
            else:
                video.update(status="in_progress", progress=int(100 * age / self.latency))
            return dict(video)

    def _create(self, rec, p):
        reply = super()._create(rec, p)
        with self._lock:
            for job in self.jobs.values():
                job.setdefault("t0", time.time())
        return reply


def serve(video: bytes, latency: float, conn) -> None:
    """The fake service in its own process, as a real service would be (no shared GIL)."""
    TimedOpenAI.latency = latency
    with TimedOpenAI(video, key=KEY) as fake:
        fake.poll_after_ms = 100
        conn.send(fake.url)
        conn.recv()                      # "stop"
        conn.send(fake.count("POST /v1/videos"))


def build_timeline(path: Path, n: int) -> None:
    tl = otio.schema.Timeline(name="bench", global_start_time=otio.opentime.RationalTime(86400, 24))
    track = otio.schema.Track(name="V1", kind="Video")
    for i in range(n):
        g = otio.schema.Gap(source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24),
                                                                 otio.opentime.RationalTime(GAP, 24)))
        g.markers.append(otio.schema.Marker(name=f"GEN: shot {i} | seed={i}",
                                            marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24),
                                                                                 otio.opentime.RationalTime(1, 24))))
        track.append(g)
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(path))


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    conc = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    latency = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    with tempfile.TemporaryDirectory(prefix="shotfill-bench-") as d:
        work = Path(d)
        video = make_test_clip(work / "result.mp4", w=640, h=360, rate="24", frames=48).read_bytes()
        # What the last wave's conforms cost here, run the way the runner runs them
        # (one ffmpeg thread each, one per core), to state the ideal honestly.  Each conforms a
        # file of its own, as each job's download is: a conform reads its source with ffprobe
        # first, and one file conformed eight times would pay that once (the probe is cached).
        (work / "probe").mkdir()
        srcs = [work / "probe" / f"r{i}.mp4" for i in range(min(conc, n))]
        for src in srcs:
            src.write_bytes(video)
        cores = os.cpu_count() or 2
        threads = max(1, cores // min(cores, n))
        slots = conform_slots(cores, threads_per_job=threads)
        target = ConformTarget(width=640, height=360, rate=RATE, frames=GAP, timecode="01:00:00:00")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(slots) as pool:
            list(pool.map(lambda i: conform(srcs[i], work / "probe" / f"c{i}.mov", target, threads=threads),
                          range(len(srcs))))
        last_wave_conforms = time.perf_counter() - t0

        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve, args=(video, latency, child), daemon=True)
        server.start()
        url = parent.recv()
        try:
            os.environ["OPENAI_API_KEY"] = KEY
            cfg = work / "shotfill.toml"
            # The catalog ships no model for an OpenAI-style gateway: declare the fake's, as users do.
            cfg.write_text(f'[providers.openai]\nbase_url = "{url}"\nconcurrency = {conc}\n'
                           f'poll_interval = 0.1\nmodel = "sora-2"\n' + GATEWAY_MODEL)
            tl = work / "bench.otio"
            build_timeline(tl, n)
            t0 = time.perf_counter()
            code = shotfill(["fill", str(tl), "-o", str(work / "out" / "bench.otio"), "--config", str(cfg),
                             "--provider", "openai", "--resolution", "640x360", "--concurrency", str(conc), "--no-report",
                             "--quiet"])
            wall = time.perf_counter() - t0
            parent.send("stop")
            submits = parent.recv()
        finally:
            server.join(timeout=5)
            if server.is_alive():
                server.terminate()
        if code != 0:
            print(f"fill failed with exit {code}")
            return code
    waves = math.ceil(n / conc)
    print(_builds.describe())
    # Two floors: the generations (waves back to back, then the last wave's conforms), and the
    # conforms themselves when they are the slower side (the first wave's jobs, then every conform
    # at the measured pace): on a busy or slow ffmpeg no scheduler can beat the second.
    gen_bound = waves * latency + last_wave_conforms
    conform_bound = latency + n / min(conc, n) * last_wave_conforms
    ideal = max(gen_bound, conform_bound)
    print(f"{n} placeholders, concurrency {conc}, {latency:g} s per job, {submits} submits")
    print(f"  last wave's {min(conc, n)} conforms, each of its own file (640x360, {GAP} frames, ProRes HQ, {slots} at a time): "
          f"{last_wave_conforms:.2f} s")
    print(f"  ideal: ceil({n}/{conc}) x {latency:g} s + last wave's conforms = {gen_bound:.2f} s; "
          f"conform-bound floor {latency:g} s + {n} conforms = {conform_bound:.2f} s")
    print(f"  wall : {wall:.2f} s")
    print(f"  ratio: {wall / ideal:.3f}  (wall / the higher floor; target <= 1.15)"
          + (f"; {wall / gen_bound:.3f} against the generation floor alone" if conform_bound > gen_bound else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
