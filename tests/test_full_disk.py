"""Writes that fail fail loudly and keep the old file: a REAL full (or read-only) disk.

Each scenario runs in its own mount namespace (``unshare --mount``) with a
small tmpfs mounted on a folder of the test's: a first ``fill`` writes a good
output there, the tmpfs is then filled to the brim (or remounted read-only),
and ``fill`` runs again.  What happened is gathered by a driver script inside
the namespace (the tmpfs vanishes with it) and checked here: a non-zero exit,
a message naming the file and saying the disk is full, no traceback, the
earlier output byte-identical, and no partial file left behind.

Needs root and ``unshare``/``mount`` (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shotfill.cli.app import main

EDL = """TITLE: cut
FCM: NON-DROP FRAME

001  BL       V     C        00:00:00:00 00:00:00:10 01:00:00:00 01:00:00:10
* FROM CLIP NAME: GEN: {prompt}
"""

#: Runs inside the namespace, with the tmpfs already mounted on argv[1]; argv[2] is the steps (JSON),
#: argv[3] where to write what happened.  Steps: ["fill", args...], ["full"], ["free"], ["ro"], ["snap", path].
DRIVER = r'''
import errno, json, os, subprocess, sys
disk, steps, out = sys.argv[1], json.loads(open(sys.argv[2]).read()), sys.argv[3]
filler = os.path.join(disk, "filler")
done = []

def fill_disk():
    # To the brim: big writes first, then ever smaller ones, until not one byte more fits.
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    st = os.statvfs(disk)
    return st.f_bavail * st.f_frsize

def files():
    found = {}
    for root, dirs, names in os.walk(disk):
        for n in names:
            p = os.path.join(root, n)
            if p != filler:
                with open(p, "rb") as fh:
                    found[os.path.relpath(p, disk)] = fh.read().hex() if n.startswith("out.") else os.path.getsize(p)
    return found

for step in steps:
    if step[0] == "fill":
        p = subprocess.run([sys.executable, "-m", "shotfill", "fill", *step[1:]], capture_output=True, text=True)
        done.append({"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr, "files": files()})
    elif step[0] == "full":
        done.append({"free": fill_disk()})
    elif step[0] == "free":
        os.remove(filler)
        done.append({})
    elif step[0] == "snap":
        with open(step[1], "rb") as fh:
            done.append({"hex": fh.read().hex()})
    elif step[0] == "ro":
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        done.append({})
with open(out, "w") as fh:
    json.dump(done, fh)
'''


def _can_mount() -> str | None:
    """Why these tests cannot run here, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (mounts a tmpfs in a private mount namespace)"
    if not shutil.which("unshare") or not shutil.which("mount"):
        return "needs unshare and mount"
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=1m none /mnt"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot mount a tmpfs here: {probe.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def mountable() -> None:
    why = _can_mount()
    if why:
        pytest.skip(why)


def on_tmpfs(tmp_path: Path, steps: list[list[str]], size: str = "3m") -> list[dict]:
    """Run ``steps`` with a ``size`` tmpfs on ``tmp_path/disk``; return what each step saw."""
    disk = tmp_path / "disk"
    disk.mkdir(exist_ok=True)
    (tmp_path / "driver.py").write_text(DRIVER)
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    result = tmp_path / "result.json"
    proc = subprocess.run(
        ["unshare", "--mount", "sh", "-c", f'mount -t tmpfs -o size={size} none "$1" && exec "$2" "$3" "$1" "$4" "$5"',
         "sh", str(disk), sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "steps.json"), str(result)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(result.read_text())


@pytest.fixture
def cuts(tmp_path: Path) -> tuple[Path, Path]:
    """The same one-hole EDL twice, with different prompts: the second run must write a different output."""
    a, b = tmp_path / "cut.edl", tmp_path / "cut2.edl"
    a.write_text(EDL.format(prompt="a fox in snow"))
    b.write_text(EDL.format(prompt="a hare in snow"))
    return a, b


def fill_args(timeline: Path, output: Path, *extra: str) -> list[str]:
    return ["fill", str(timeline), "-o", str(output), "--rate", "25", "--resolution", "320x180", *extra]


def assert_refused(run: dict, first: dict, names: str, says: str) -> None:
    """Non-zero, the file named and the cause said, no traceback; every output as it was, nothing partial."""
    err = run["stderr"]
    assert run["rc"] == 2, err
    assert "Traceback" not in err and "Traceback" not in run["stdout"]
    assert names in err, err
    assert says in err, err
    outputs = {k: v for k, v in first["files"].items() if Path(k).name.startswith("out.")}
    assert outputs, first["files"]
    for name, content in outputs.items():
        assert run["files"].get(name) == content, f"{name} changed"
    leftovers = [n for n in run["files"] if ".part" in n or n.endswith(("-wal", "-shm"))]
    assert not leftovers, leftovers


# ------------------------------------------------------------------ a full disk


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["otio", "edl", "xml"])
def test_full_disk_keeps_the_earlier_output(tmp_path, mountable, cuts, suffix):
    """Only the output is on the full disk (media and state elsewhere): the timeline write itself fails."""
    out = tmp_path / "disk" / f"out.{suffix}"
    where = ["--state-dir", str(tmp_path / "state"), "--media-dir", str(tmp_path / "media"), "--no-report"]
    first, full, second = on_tmpfs(tmp_path, [fill_args(cuts[0], out, *where), ["full"],
                                              fill_args(cuts[1], out, *where)])
    assert first["rc"] == 0, first["stderr"]
    assert full["free"] < 4096
    assert_refused(second, first, names=str(out), says="the disk is full")


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["otio", "edl", "xml"])
def test_full_media_disk_writes_no_timeline_and_keeps_the_generated_clip(tmp_path, mountable, cuts, suffix):
    """Media (beside the output) on the full disk: the conform fails; no timeline replaces the good one, and
    the clip already generated is kept, so the run after space is freed takes it from the cache."""
    out = tmp_path / "disk" / f"out.{suffix}"
    where = ["--state-dir", str(tmp_path / "state")]
    first, _, second, _, third = on_tmpfs(tmp_path, [
        fill_args(cuts[0], out, *where), ["full"],
        fill_args(cuts[1], out, *where), ["free"],
        fill_args(cuts[1], out, *where)])
    assert first["rc"] == 0, first["stderr"]
    assert_refused(second, first, names=str(out.parent / "out_media" / "cut2_V1_01000000_"), says="the disk is full")
    assert "ffmpeg exit" not in second["stderr"]
    assert "no timeline was written" in second["stderr"]
    assert list((tmp_path / "state" / "cache").rglob("*.json")), "the generated clip was not kept"
    assert third["rc"] == 0, third["stderr"]
    assert "cached" in third["stdout"] + third["stderr"]
    assert third["files"][f"out.{suffix}"] != first["files"][f"out.{suffix}"]


@pytest.mark.slow
def test_full_disk_under_the_journal_says_so(tmp_path, mountable, cuts):
    """Everything on the full disk, the journal first to need space: the disk is named, not a damaged file."""
    out = tmp_path / "disk" / "out.edl"
    first, _, second = on_tmpfs(tmp_path, [fill_args(cuts[0], out), ["full"],
                                           fill_args(cuts[1], out)])
    assert first["rc"] == 0, first["stderr"]
    assert_refused(second, first, names=str(out.parent / ".shotfill" / "journal.sqlite"), says="the disk is full")
    assert "move it aside" not in second["stderr"]
    assert second["files"][".shotfill/journal.sqlite"] == first["files"][".shotfill/journal.sqlite"]


JOURNAL_FULL = r'''
import errno, os, sys
from pathlib import Path
from shotfill.errors import WriteError
from shotfill.jobs.journal import Journal
disk = Path(sys.argv[1])
j = Journal(disk / "journal.sqlite")
j.submitting("h1", "openai", "sora-2", 0.4)
with open(disk / "filler", "wb", buffering=0) as fh:
    for size in (1 << 20, 1 << 16, 4096, 512, 1):
        try:
            while True:
                fh.write(b"\0" * size)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
try:
    for i in range(200):   # the WAL grows by pages: some write soon needs one more
        j.submitted("h1", "openai", "video_%d" % i, {"pad": "x" * 4000})
    print("NO ERROR")
except WriteError as exc:
    print(exc)
'''


@pytest.mark.slow
def test_journal_write_on_a_full_disk_is_a_write_error(tmp_path, mountable):
    """A journal write that SQLite refuses ("database or disk is full") names the journal and the job."""
    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "j.py").write_text(JOURNAL_FULL)
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", 'mount -t tmpfs -o size=1m none "$1" && '
                           'exec "$2" "$3" "$1"', "sh", str(disk), sys.executable, str(tmp_path / "j.py")],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert f"{disk / 'journal.sqlite'}: the job journal could not record openai job video_" in text, text
    assert "the disk is full" in text and "free some space" in text, text


# ------------------------------------------------------------------ read-only folders


@pytest.mark.slow
@pytest.mark.parametrize("what", ["output", "media", "state"])
def test_read_only_folder_gets_a_clear_message(tmp_path, mountable, cuts, what):
    """The output, media or state folder on a disk remounted read-only (root ignores chmod 0555)."""
    out = (tmp_path / "disk" if what == "output" else tmp_path / "out") / "out.edl"
    media = (tmp_path / "disk" / "media") if what == "media" else tmp_path / "media"
    state = (tmp_path / "disk" / "state") if what == "state" else tmp_path / "state"
    where = ["--state-dir", str(state), "--media-dir", str(media), "--no-report"]
    first, snap, _, second = on_tmpfs(tmp_path, [fill_args(cuts[0], out, *where), ["snap", str(out)], ["ro"],
                                                 fill_args(cuts[1], out, *where)])
    assert first["rc"] == 0, first["stderr"]
    if what != "output":   # the output is not on the tmpfs: compare it here
        first["files"]["out.edl"] = snap["hex"]
        second["files"]["out.edl"] = out.read_bytes().hex()
    named = {"output": str(out), "media": str(media / "cut2_V1_01000000_"),
             "state": str(state / "journal.sqlite")}[what]
    assert_refused(second, first, names=named, says="read-only")


# ------------------------------------------------------------------ a file where a folder should be


def test_state_folder_that_is_a_file(tmp_path, cuts, capsys):
    state = tmp_path / "state"
    state.write_text("not a folder")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rc = main(fill_args(cuts[0], out_dir / "out.edl", "--state-dir", str(state), "-q"))
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{state}: the folder could not be made" in err and "a file stands" in err, err
    assert list(out_dir.iterdir()) == [], "nothing is created before the state folder is known to work"
    assert state.read_text() == "not a folder"


def test_state_folder_under_a_file(tmp_path, cuts, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    rc = main(fill_args(cuts[0], tmp_path / "out" / "out.edl", "--state-dir", str(blocker / "state"), "-q"))
    err = capsys.readouterr().err
    assert rc == 2
    assert str(blocker / "state") in err and "the folder could not be made" in err, err


# ------------------------------------------------------------------ Resolve: the engine's results and the launcher's snapshot


def test_resolve_engine_results_that_cannot_be_written(tmp_path):
    """The results file cannot be written: the launcher hears why on the progress stream, no traceback."""
    from shotfill.resolve.engine import engine_main

    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    got: list[dict] = []
    out = blocker / "run.json"
    assert engine_main("run", tmp_path / "missing.json", out, emit=got.append) == 2
    errors = [e["message"] for e in got if e.get("event") == "error"]
    assert errors and str(out) in errors[-1] and "could not be written" in errors[-1], got


def test_resolve_launcher_snapshot_that_cannot_be_written(tmp_path, monkeypatch):
    from resolve_cases import load_launcher
    from shotfill.resolve import install

    monkeypatch.setenv("SHOTFILL_RESOLVE_MEDIA", str(tmp_path / "ShotFill"))
    launcher = load_launcher(install.install(dest=tmp_path / "Scripts" / "Edit", launcher="python")[0])
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    ran = []
    result = launcher.Engine(str(blocker), runner=lambda argv, on_line: ran.append(argv) or (0, ""))("run", {})
    assert result["ok"] is False and str(blocker / "snapshot.json") in result["error"], result
    assert not ran, "the engine is not started without its snapshot"


@pytest.mark.slow
def test_report_that_cannot_be_written_says_the_timeline_was(tmp_path, cuts, capsys):
    out_dir = tmp_path / "out"
    (out_dir / "report.json").mkdir(parents=True)   # a folder where the report should go
    rc = main(fill_args(cuts[0], out_dir / "out.edl", "-q"))
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{out_dir / 'report.json'}: could not be written" in err, err
    assert "the timelines were written" in err and "--no-report" in err, err
    assert "SOURCE FILE:" in (out_dir / "out.edl").read_text()   # filled
    assert not [p for p in out_dir.rglob("*") if ".part" in p.name]


# ------------------------------------------------------------------ a paid download onto a full disk

PAID = r'''
import contextlib, errno, io, json, os, sys
from pathlib import Path
tests, disk, video, edl, result = sys.argv[1:6]
sys.path.insert(0, tests)
from fakes.openai import FakeOpenAI
from shotfill.cli.app import main
from shotfill.jobs.journal import Journal
import socketserver
# The fake's own thread prints a traceback when the client drops a download half-way (as ShotFill does
# on ENOSPC); that is the fake talking, not ShotFill, and would hide a real traceback of ours.
socketserver.BaseServer.handle_error = lambda self, request, client_address: None

disk = Path(disk)
KEY = "sk-full-disk-test-key"
os.environ["OPENAI_API_KEY"] = KEY

def fill_disk():
    with open(disk / "filler", "wb", buffering=0) as fh:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

def fill(cfg):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["fill", edl, "-o", str(disk / "out.edl"), "--rate", "25", "--resolution", "320x180",
                   "--config", cfg, "-q", "--no-report"])
    return {"rc": rc, "stderr": err.getvalue()}

res = {}
with FakeOpenAI(Path(video).read_bytes(), key=KEY) as fake:
    cfg = Path(result).with_name("shotfill.toml")
    cfg.write_text('default_provider = "openai"\n[providers.openai]\nbase_url = "%s"\npoll_interval = 0.01\n'
                   % fake.url + '[providers.openai.models."sora-2"]\ndurations = [4, 8, 12]\nfirst_frame = true\n')
    done = []
    fake.on_poll = lambda job_id: done or done.append(fill_disk())   # the job is paid: now the disk is full
    res["first"] = fill(str(cfg))
    res["partials"] = [p.name for p in disk.rglob("*") if ".part" in p.name]
    os.remove(disk / "filler")
    j = Journal(disk / ".shotfill" / "journal.sqlite")
    res["records"] = [[r.state, r.job_id] for r in j.all()]
    j.close()
    fake.on_poll = None
    res["second"] = fill(str(cfg))
    res["creates"] = fake.count("POST /v1/videos")
Path(result).write_text(json.dumps(res))
'''


@pytest.mark.slow
def test_paid_download_onto_a_full_disk_is_kept_for_the_next_run(tmp_path, mountable, cuts, small_video):
    """The service has the job (paid) when the disk fills: the download fails with the file named, the job
    id stays in the journal, and the run after space is freed downloads it without a second submit."""
    disk = tmp_path / "disk"
    disk.mkdir()
    video = tmp_path / "result.mp4"
    video.write_bytes(small_video)
    (tmp_path / "paid.py").write_text(PAID)
    result = tmp_path / "paid.json"
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", 'mount -t tmpfs -o size=3m none "$1" && '
                           'exec "$2" "$3" "$4" "$1" "$5" "$6" "$7"', "sh", str(disk), sys.executable,
                           str(tmp_path / "paid.py"), str(Path(__file__).parent), str(video), str(cuts[0]),
                           str(result)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(result.read_text())
    first = res["first"]
    assert first["rc"] == 2 and "Traceback" not in first["stderr"], first["stderr"]
    assert str(disk / ".shotfill" / "generated") in first["stderr"] and "the disk is full" in first["stderr"]
    assert res["partials"] == []
    assert [state for state, _ in res["records"]] == ["submitted"] and res["records"][0][1]
    assert res["second"]["rc"] == 0, res["second"]["stderr"]
    assert res["creates"] == 1, "the paid job was submitted again"
