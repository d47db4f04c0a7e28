"""Media work on a real Dask cluster: `dask scheduler` and `dask worker` processes on 127.0.0.1.

Provider jobs stay in the client (the fake OpenAI service counts every create);
conforms and offline renders run on the workers, which the report names.  A
worker SIGKILLed while it conforms: Dask runs the task again on the other one,
and no job is submitted twice.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import opentimelineio as otio
import psutil
import pytest

from fakes.openai import FakeOpenAI
from mediautil import decoded_frames, logging_tool
from shotfill.cli.app import main
from shotfill.jobs.dask_executor import remap
from shotfill.media import tools
from test_paid import KEY, config, cut

R24 = Fraction(24)
DASK = str(Path(sys.executable).with_name("dask"))


# --------------------------------------------------------------------------- quick: no process

def test_remap_moves_paths_there_and_back():
    from shotfill.model import ConformTarget, Codec

    pairs = [("/mnt/share", "/Volumes/share")]
    target = ConformTarget(width=320, height=180, rate=R24, frames=12, timecode="01:00:00:00", codec=Codec.H264)
    args = (Path("/mnt/share/gen/a.mp4"), "/mnt/share/out/b.mov", "/mnt/shared/c.mov", target, "a prompt /mnt/share")
    there = remap(args, pairs)
    assert there[:3] == (Path("/Volumes/share/gen/a.mp4"), "/Volumes/share/out/b.mov", "/mnt/shared/c.mov")
    assert there[3] == target and there[4] == "a prompt /mnt/share"   # not a path under the share
    assert remap(there, [("/Volumes/share", "/mnt/share")]) == args
    assert remap((Path("rel/x.mov"),), (), absolute=True) == (Path(os.path.abspath("rel/x.mov")),)


def _ffmpeg_fails(path: Path) -> None:
    from shotfill.errors import FFmpegError

    raise FFmpegError(f"{path}: cannot conform", argv=["ffmpeg", str(path)], returncode=1, stderr="bad data")


def test_a_task_error_comes_back_whole():
    from shotfill.errors import FFmpegError
    from shotfill.jobs.dask_executor import rebuilt, run_task

    status, value, _ = run_task(_ffmpeg_fails, [("/here", "/there")], (Path("/here/a.mov"),), {})
    assert status == "error"
    err = rebuilt(*value)
    assert isinstance(err, FFmpegError) and err.returncode == 1
    assert str(err).startswith("/here/a.mov: cannot conform (ffmpeg exit 1):\nbad data")   # mapped back
    assert err.argv == ["ffmpeg", "/here/a.mov"]


def test_executor_option_is_checked(tmp_path, capsys):
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="t"), str(src))
    assert main(["fill", str(src), "-o", str(tmp_path / "o.otio"), "--executor", "spark://x:1"]) == 2
    assert "--executor spark://x:1: not an executor" in capsys.readouterr().err


def test_executor_table_is_checked(tmp_path, capsys):
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="t"), str(src))
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text('[executor]\nkind = "dask"\naddress = "10.0.0.5"\n')
    assert main(["fill", str(src), "-o", str(tmp_path / "o.otio"), "--config", str(cfg)]) == 2
    assert "not a scheduler address" in capsys.readouterr().err


# --------------------------------------------------------------------------- a real cluster

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A `dask scheduler` and its `dask worker` processes, each in its own process group."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def _start(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})}, cwd=self.tmp)
        log.close()
        self.procs.append(proc)
        return proc

    def scheduler(self) -> None:
        self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
                    "scheduler")

    def worker(self, name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        # No nanny: the worker is one process, so SIGKILL takes it down for good (a nanny would restart it).
        proc = self._start([DASK, "worker", self.address, "--name", name, "--nthreads", "1", "--no-nanny",
                            "--no-dashboard", "--host", "127.0.0.1"], name, env)
        self.workers.append(proc)
        return proc

    def wait_for(self, n: int) -> list[str]:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(n, timeout=60)
            return sorted(client.scheduler_info(n_workers=-1)["workers"])

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.stop()


def report_rows(folder: Path) -> list[dict]:
    return json.loads((folder / "report.json").read_text())["placeholders"]


def assert_exact(rows: list[dict]) -> None:
    for row in rows:
        assert row["result"] == "filled", row
        assert decoded_frames(Path(row["media"])) == row["duration"]


@pytest.mark.slow
def test_batch_across_two_external_workers(cluster, tmp_path):
    cluster.scheduler()
    cluster.worker("w1")
    cluster.worker("w2")
    workers = cluster.wait_for(2)
    src = cut(tmp_path / "in", [(12, f"offline shot {i}") for i in range(6)], tmp_path / "media")
    out = tmp_path / "out" / "cut.otio"
    assert main(["fill", str(src), "-o", str(out), "--quiet", "--executor", f"dask://127.0.0.1:{cluster.port}"]) == 0
    rows = report_rows(out.parent)
    assert len(rows) == 6
    assert_exact(rows)
    assert {r["worker"] for r in rows} == set(workers)   # both workers did media work, and nobody else
    # The probes proving shared storage are gone again.
    assert not list(out.parent.rglob(".shotfill-probe-*"))


def logging_ffmpeg(folder: Path, name: str) -> tuple[Path, Path]:
    """An ffmpeg that writes each command line it runs to a log: who ran what, on which side."""
    log = folder / f"{name}-ffmpeg.log"
    return logging_tool(folder / f"{name}-ffmpeg", tools.ffmpeg_path(), log), log


@pytest.mark.slow
def test_report_thumbnails_are_made_on_the_workers(cluster, tmp_path, monkeypatch):
    cluster.scheduler()
    worker_ffmpeg, worker_log = logging_ffmpeg(tmp_path, "worker")
    cluster.worker("w1", {"SHOTFILL_FFMPEG": str(worker_ffmpeg)})
    cluster.wait_for(1)
    client_ffmpeg, client_log = logging_ffmpeg(tmp_path, "client")
    monkeypatch.setenv("SHOTFILL_FFMPEG", str(client_ffmpeg))
    tools.reset_cache()
    src = cut(tmp_path / "in", [(12, f"offline shot {i}") for i in range(3)], tmp_path / "media")
    out = tmp_path / "out" / "cut.otio"
    try:
        assert main(["fill", str(src), "-o", str(out), "--quiet",
                     "--executor", f"dask://127.0.0.1:{cluster.port}"]) == 0
    finally:
        monkeypatch.delenv("SHOTFILL_FFMPEG")
        tools.reset_cache()
    rows = report_rows(out.parent)
    assert_exact(rows)
    stills = [line for line in worker_log.read_text().splitlines() if "mjpeg" in line]
    assert len(stills) == 3 * len(rows)   # first, middle and last of every clip, on the worker
    client = client_log.read_text().splitlines() if client_log.exists() else []
    assert not [line for line in client if "mjpeg" in line and "_first.jpg" in line]   # the report copied them
    for row in rows:
        for kind in ("first", "middle", "last"):
            thumb = out.parent / row["thumbnails"][kind]["path"]
            assert thumb.read_bytes()[:3] == b"\xff\xd8\xff"   # a JPEG, in the report's own folder


def slow_ffmpeg(folder: Path) -> Path:
    """An ffmpeg that takes half a second to start: a worker is caught conforming, every time."""
    path = folder / "slow-ffmpeg"
    path.write_text(f"#!/bin/sh\nsleep 0.5\nexec '{tools.ffmpeg_path()}' \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.slow
def test_worker_killed_mid_batch_fills_every_hole_without_a_second_submit(cluster, tmp_path, small_video,
                                                                          monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    slow = {"SHOTFILL_FFMPEG": str(slow_ffmpeg(tmp_path))}
    cluster.scheduler()
    cluster.worker("one", slow)
    cluster.worker("two", slow)
    cluster.wait_for(2)
    holes = 6
    src = cut(tmp_path / "in", [(20, f"paid shot {i}") for i in range(holes)], tmp_path / "media")
    out = tmp_path / "out" / "cut.otio"
    with FakeOpenAI(small_video, key=KEY) as fake:
        cfg = config(tmp_path, fake.url)
        killed: list[subprocess.Popen[bytes]] = []

        def kill_when_conforming() -> None:
            # SIGKILL the first worker seen with an ffmpeg child writing into the media folder.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                for w in cluster.workers:
                    try:
                        if any("cut_media" in " ".join(c.cmdline()) for c in psutil.Process(w.pid).children(True)):
                            os.kill(w.pid, signal.SIGKILL)
                            killed.append(w)
                            return
                    except psutil.Error:
                        pass
                time.sleep(0.02)

        watcher = threading.Thread(target=kill_when_conforming, daemon=True)
        watcher.start()
        rc = main(["fill", str(src), "-o", str(out), "--config", str(cfg), "--quiet",
                   "--executor", f"dask://127.0.0.1:{cluster.port}"])
        watcher.join(timeout=5)
        creates = fake.count("POST /v1/videos")
    assert rc == 0
    assert killed, "no worker was caught conforming"
    assert killed[0].wait(timeout=10) == -signal.SIGKILL
    rows = report_rows(out.parent)
    assert_exact(rows)
    assert len(rows) == holes
    assert creates == holes   # one create per hole: the lost conform was run again, not the job
    assert all(r["job_id"] for r in rows)
    # Every hole's media work ended on a live worker: the one that died holds none of it.
    assert {r["worker"] for r in rows} <= set(cluster.wait_for(1))


@pytest.mark.slow
def test_embedded_cluster_from_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shotfill.toml").write_text('[executor]\nkind = "dask"\nworkers = 2\n')
    src = cut(tmp_path / "in", [(12, f"shot {i}") for i in range(3)], tmp_path / "media")
    out = tmp_path / "out" / "cut.otio"
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    assert main(["fill", str(src), "-o", str(out), "--quiet"]) == 0
    rows = report_rows(out.parent)
    assert_exact(rows)
    assert all(r["worker"] and r["worker"].startswith("tcp://127.0.0.1:") for r in rows)
    # The embedded cluster's processes are gone with the run.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # multiprocessing's resource tracker lives as long as this (pytest) process, by design.
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())]
        if not left:
            break
        time.sleep(0.2)
    assert not left, [p.cmdline() for p in left]


@pytest.mark.slow
def test_the_embedded_clusters_workers_run_without_what_only_a_dashboard_reads():
    import dask
    import distributed  # noqa: F401 - loads its config defaults
    from shotfill.config import ExecutorSettings
    from shotfill.jobs.dask_executor import DaskExecutor

    keys = ("distributed.worker.profile.enabled", "distributed.admin.tick.interval",
            "distributed.admin.system-monitor.interval")
    before = [dask.config.get(k) for k in keys]
    ex = DaskExecutor(ExecutorSettings(kind="dask", workers=1))
    try:
        seen = list(ex.client.run(lambda: [dask.config.get(k) for k in keys]).values())
        assert seen == [[False, "1s", "5s"]]
        workers = ex.client.scheduler_info(n_workers=-1)["workers"].values()
        assert [w["memory_limit"] for w in workers] == [0]   # no nanny watching the worker's memory
    finally:
        ex.close()
    assert [dask.config.get(k) for k in keys] == before == [True, "20ms", "500ms"], "this process's config is as it was"


@pytest.mark.slow
def test_ffmpeg_on_a_nannied_worker_does_not_inherit_dasks_malloc_setting():
    """The nanny's MALLOC_TRIM_THRESHOLD_ is for the worker's Python: a stage's children run without it."""
    import asyncio

    from shotfill.config import ExecutorSettings
    from shotfill.jobs.dask_executor import DaskExecutor

    def child_sees() -> str:
        return subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('MALLOC_TRIM_THRESHOLD_'))"],
                              capture_output=True, text=True, check=True).stdout.strip()

    ex = DaskExecutor(ExecutorSettings(kind="dask", workers=1))
    try:
        # the nanny did set it (else this test proves nothing)
        assert list(ex.client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == ["65536"]
        assert asyncio.run(ex.cpu(child_sees)) == "None"
    finally:
        ex.close()


@pytest.mark.slow
def test_workers_that_cannot_see_the_folders_are_refused(tmp_path, capsys):
    src = cut(tmp_path / "in", [(12, "shot")], tmp_path / "media")
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text(f'[executor]\nkind = "dask"\nworkers = 1\npath_map = {{"{tmp_path}" = "/nonexistent/share"}}\n')
    out = tmp_path / "out" / "cut.otio"
    assert main(["fill", str(src), "-o", str(out), "--config", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "the workers do not see the media and state folders" in err
    assert "/nonexistent/share/out/.shotfill" in err and "path_map" in err
    assert not out.exists() and not list((out.parent / "cut_media").iterdir())


@pytest.mark.slow
def test_stopping_a_dask_run_stops_its_cluster(tmp_path):
    """SIGTERM (as Ctrl-C) mid-batch: exit 130, the message to resume, and no worker or ffmpeg left behind."""
    src = cut(tmp_path / "in", [(240, f"long shot {i}") for i in range(8)], tmp_path / "media")
    out = tmp_path / "out" / "cut.otio"
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text('[executor]\nkind = "dask"\nworkers = 2\n')
    proc = subprocess.Popen([sys.executable, "-m", "shotfill", "fill", str(src), "-o", str(out), "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        me = psutil.Process(proc.pid)
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # until a worker runs an ffmpeg
            kids = me.children(recursive=True)
            seen |= {k.pid for k in kids}
            if any("ffmpeg" in k.name() for k in kids if k.is_running()):
                break
            time.sleep(0.05)
        else:
            pytest.fail("no ffmpeg started on a worker")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err and "Traceback" not in err
    time.sleep(1)
    left = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not left, [psutil.Process(p).cmdline() for p in left]
    assert not out.exists()
