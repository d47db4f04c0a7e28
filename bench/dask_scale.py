"""Conforms on Dask workers: 16 holes at 1080p, on the local executor and on one and two Dask workers.

    python bench/dask_scale.py [HOLES] [WxH] [RUNS]

A local OpenAI-style service (the test fake) hands back a 1280x720 25 fps
H.264 clip for every hole, so each conform scales to WxH, retimes to 24 fps
and encodes ProRes: the batch is conform-bound.  The same batch is filled
(fresh output and state folders each time) with

- the local executor (a thread pool, conforms up to the number of cores);
- a real `dask scheduler` with one `dask worker` (one thread), then two,
  started before the clock runs, as a studio's cluster would be, set as the
  README tells a studio to set workers that serve no dashboard (no profiler,
  a 1 s event-loop tick, a 5 s system monitor, no memory limit: the embedded
  cluster's settings);
- two `dask worker`s again, on Dask's defaults as they are;
- the embedded cluster (`--executor dask`: two worker processes on this
  machine, started by the run itself, so on the clock).

The five are timed in turn, RUNS rounds (default 3), and the best of each kept, as the other
benches do: on a shared machine one round can be slowed by a neighbour.  It prints each wall
time, the speed-up of two workers over one (goal >= 1.6x on two cores) and the overhead of the
Dask executor over the local one on the same cores (the embedded cluster, and two workers set
as the README says, against local; goal <= 1.10x; and two on Dask's defaults, for comparison),
with the load average before and after: on a shared machine, quote them together.
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
from shotfill.jobs.dask_executor import QUIET_MONITOR, QUIET_TICK  # noqa: E402
from test_paid import cut  # noqa: E402

KEY = "bench-key"
FRAMES = 48   # per hole: 2 s at 24 fps
DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: what the README tells a studio to give workers that serve no dashboard: the embedded cluster's own settings
QUIET_ENV = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
             "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": QUIET_TICK,
             "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": QUIET_MONITOR}


class Cluster:
    """A `dask scheduler` and ``workers`` `dask worker`s: with Dask's defaults, or ``quiet`` as the README says."""

    def __init__(self, workers: int, log_dir: Path, *, quiet: bool) -> None:
        self.port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        log = open(log_dir / f"dask-{workers}.log", "wb")
        env = {**os.environ, **(QUIET_ENV if quiet else {})}
        self.procs.append(subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                            "--no-dashboard"], stdout=log, stderr=log, start_new_session=True,
                                           env=env))
        for i in range(workers):
            self.procs.append(subprocess.Popen([DASK, "worker", f"tcp://127.0.0.1:{self.port}", "--nthreads", "1",
                                                "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}",
                                                *(["--memory-limit", "0"] if quiet else [])],
                                               stdout=log, stderr=log, start_new_session=True, env=env))
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{self.port}", timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def fill(src: Path, work: Path, cfg: Path, size: str, executor: str, run: int | str) -> float:
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
            rounds: dict[str, list[float]] = {"local": [], "dask x1": [], "dask x2": [], "embedded": [],
                                              "x2 dflt": []}
            for run in range(runs):
                rounds["local"].append(fill(src, work, cfg, size, "local", run))
                rounds["embedded"].append(fill(src, work, cfg, size, "dask", run))
                for name, n, quiet in (("dask x1", 1, True), ("dask x2", 2, True), ("x2 dflt", 2, False)):
                    cluster = Cluster(n, work, quiet=quiet)   # started before the clock runs, as a studio's would be
                    try:
                        rounds[name].append(fill(src, work, cfg, size, f"dask://127.0.0.1:{cluster.port}",
                                                 f"{name.replace(' ', '')}-{run}"))
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
    print(f"speed-up, two workers over one: {speedup:.2f}x (goal >= 1.6x)")

    def per_round(a: str, b: str) -> str:
        return ", ".join(f"{x / y:.2f}" for x, y in zip(rounds[a], rounds[b]))

    print(f"  round by round: speed-up {per_round('dask x1', 'dask x2')}; "
          f"embedded / local {per_round('embedded', 'local')}; two workers / local {per_round('dask x2', 'local')}")
    print(f"Dask over local on the same cores: {times['embedded'] / times['local']:.2f}x with the embedded cluster, "
          f"{times['dask x2'] / times['local']:.2f}x with two `dask worker`s set as the README says "
          f"(goal <= 1.10x); {times['x2 dflt'] / times['local']:.2f}x with two on Dask's defaults")


if __name__ == "__main__":
    main()
