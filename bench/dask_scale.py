"""Conforms on Dask workers: 16 holes at 1080p, on the local executor and on one and two Dask workers.

    python bench/dask_scale.py [HOLES] [WxH] [RUNS]

A local OpenAI-style service (the test fake) hands back a 1280x720 25 fps
H.264 clip for every hole, so each conform scales to WxH, retimes to 24 fps
and encodes ProRes: the batch is conform-bound.  The same batch is filled
(fresh output and state folders each time) with

- the local executor (a thread pool, conforms up to the number of cores);
- a real `dask scheduler` with one `dask worker` (one thread), then two,
  started before the clock runs, as a studio's cluster would be (its defaults
  as they are);
- the embedded cluster (`--executor dask`: two worker processes on this
  machine, started by the run itself, so on the clock).

The four are timed in turn, RUNS rounds (default 3), and the best of each kept, as the other
benches do: on a shared machine one round can be slowed by a neighbour.  It prints each wall
time, the speed-up of two workers over one (goal >= 1.6x on two cores) and the overhead of the
Dask executor over the local one on the same cores (two workers against local, and the embedded
cluster against local; goal <= 1.10x), with the load average before and after: on a shared
machine, quote them together.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.openai import GATEWAY_MODEL, FakeOpenAI  # noqa: E402
from mediautil import make_test_clip  # noqa: E402
from shotfill.cli.app import main as shotfill  # noqa: E402
from test_paid import cut  # noqa: E402

KEY = "bench-key"
FRAMES = 48   # per hole: 2 s at 24 fps
DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, workers: int, log_dir: Path) -> None:
        self.port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        log = open(log_dir / f"dask-{workers}.log", "wb")
        self.procs.append(subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                            "--no-dashboard"], stdout=log, stderr=log, start_new_session=True))
        for i in range(workers):
            self.procs.append(subprocess.Popen([DASK, "worker", f"tcp://127.0.0.1:{self.port}", "--nthreads", "1",
                                                "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}"],
                                               stdout=log, stderr=log, start_new_session=True))
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{self.port}", timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def fill(src: Path, work: Path, cfg: Path, size: str, executor: str, run: int) -> float:
    out = work / f"{executor.replace(':', '_').replace('/', '_')}-{run}" / "cut.otio"
    t0 = time.perf_counter()
    rc = shotfill(["fill", str(src), "-o", str(out), "--config", str(cfg), "--resolution", size, "--quiet",
                   "--no-report", "--executor", executor, "--concurrency", "16"])
    took = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"fill with --executor {executor} exited {rc}")
    return took


def main() -> None:
    holes = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    size = sys.argv[2] if len(sys.argv) > 2 else "1920x1080"
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    os.environ["OPENAI_API_KEY"] = KEY
    with tempfile.TemporaryDirectory(prefix="shotfill-dask-bench-") as tmp:
        work = Path(tmp)
        clip = make_test_clip(work / "result.mp4", w=1280, h=720, rate="25", frames=60)
        src = cut(work / "in", [(FRAMES, f"bench shot {i}") for i in range(holes)], work / "media")
        load0 = os.getloadavg()
        with FakeOpenAI(clip.read_bytes(), key=KEY) as fake:
            fake.steps = [("completed", 100)]
            cfg = work / "shotfill.toml"
            cfg.write_text(f'default_provider = "openai"\n[providers.openai]\nbase_url = "{fake.url}"\n'
                           'poll_interval = 0.01\ntimeout = 120\nconcurrency = 16\nmodel = "sora-2"\n' + GATEWAY_MODEL)
            rounds: dict[str, list[float]] = {"local": [], "dask x1": [], "dask x2": [], "embedded": []}
            for run in range(runs):
                rounds["local"].append(fill(src, work, cfg, size, "local", run))
                rounds["embedded"].append(fill(src, work, cfg, size, "dask", run))
                for n in (1, 2):
                    cluster = Cluster(n, work)   # started before the clock runs, as a studio's would be
                    try:
                        rounds[f"dask x{n}"].append(fill(src, work, cfg, size, f"dask://127.0.0.1:{cluster.port}",
                                                         run))
                    finally:
                        cluster.stop()
        load1 = os.getloadavg()
    times = {name: min(ts) for name, ts in rounds.items()}
    cores = os.cpu_count()
    print(f"{holes} holes of {FRAMES} frames, 1280x720@25 -> {size}@24 ProRes; {cores} cores; "
          f"load average {load0[0]:.2f} before, {load1[0]:.2f} after")
    for name, t in times.items():
        print(f"  {name:<8} {t:6.2f} s   (best of {runs}: {', '.join(f'{x:.2f}' for x in rounds[name])})")
    speedup = times["dask x1"] / times["dask x2"]
    overhead = times["dask x2"] / times["local"]
    print(f"speed-up, two workers over one: {speedup:.2f}x (goal >= 1.6x)")
    print(f"Dask over local on the same cores: {overhead:.2f}x with two `dask worker`s, "
          f"{times['embedded'] / times['local']:.2f}x with the embedded cluster (goal <= 1.10x)")


if __name__ == "__main__":
    main()
