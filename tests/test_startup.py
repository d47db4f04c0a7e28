"""`shotfill scan` imports what a scan needs and no more: no provider client, no media stack, no job runner.

Each command imports its own modules in the function that runs it (the
command line, the pipeline, the providers); a scan of an EDL builds its
timeline from ShotFill's own tokens, so not even OTIO's cmx_3600 reader is
loaded.  Checked in a fresh interpreter, as the user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EDL = ROOT / "sample_timelines" / "coast.edl"

#: modules a scan must not import (a prefix covers its submodules)
NOT_FOR_A_SCAN = [
    "httpx", "rich", "numpy", "ffmpeg", "asyncio", "sqlite3", "click",
    "otio_cmx3600_adapter",
    "shotfill.media", "shotfill.jobs.runner", "shotfill.jobs.journal", "shotfill.jobs.executor",
    "shotfill.providers._http", "shotfill.providers.openai", "shotfill.providers.luma",
    "shotfill.providers.runway", "shotfill.providers.veo", "shotfill.providers.comfyui",
    "shotfill.providers.fal", "shotfill.providers.replicate",
    "shotfill.report", "shotfill.resolve.engine", "shotfill.farm", "shotfill.timeline.write",
    "shotfill.cli.progress",
]

_RUN = """
import contextlib, io, json, sys
from shotfill.cli.app import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = main(sys.argv[2:])
json.dump({"rc": rc, "out": out.getvalue(), "modules": sorted(sys.modules)}, open(sys.argv[1], "w"))
"""


def _scan(tmp_path: Path, *args: str) -> dict:
    dump = tmp_path / "modules.json"
    # A copy with no media beside it: `make demo` leaves media next to the sample, which a scan would
    # rightly probe for the frame size.
    edl = tmp_path / EDL.name
    edl.write_bytes(EDL.read_bytes())
    subprocess.run([sys.executable, "-c", _RUN, str(dump), "scan", str(edl), "--rate", "24", *args],
                   check=True, cwd=tmp_path, timeout=120)
    return json.loads(dump.read_text())


def _loaded(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in NOT_FOR_A_SCAN)]


@pytest.mark.slow
def test_scan_of_an_edl_imports_no_client_no_media_no_runner(tmp_path):
    res = _scan(tmp_path)
    assert res["rc"] == 0 and "prompt: " in res["out"], res["out"]
    assert _loaded(res["modules"]) == []


@pytest.mark.slow
def test_scan_with_plans_imports_only_the_provider_it_plans_with(tmp_path):
    res = _scan(tmp_path, "--resolution", "320x180")
    assert res["rc"] == 0 and "plan: local" in res["out"], res["out"]
    assert "shotfill.providers.local" in res["modules"]
    assert _loaded(res["modules"]) == []
