"""What one clip costs in processes: every ffmpeg and ffprobe a fill starts, counted and named.

A system ffmpeg (Debian's links some 215 shared libraries) takes 0.06-0.35 s just to start, so
each process a clip needs is paid for in every clip.  A fill of three holes through the fake
OpenAI Videos service, neighbours graded so that the colour match applies, with ffmpeg and
ffprobe wrapped in scripts that log each command: the count per clip is what the work needs,
and nothing twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.openai import FakeOpenAI
from mediautil import logging_tool, make_test_clip
from shotfill.cli.app import main
from shotfill.media import tools
from test_paid import KEY, config, cut

pytestmark = pytest.mark.slow

HOLES = 3


def logging_tools(folder: Path) -> Path:
    """ffmpeg and ffprobe that log each command line (``ffmpeg ...`` / ``ffprobe ...``) to one file."""
    log = folder / "processes.log"
    for name, real in (("ffmpeg", tools.ffmpeg_path()), ("ffprobe", tools.ffprobe_path())):
        logging_tool(folder / f"logging-{name}", real, log, f"{name} ")
    return log


def test_a_clip_costs_each_process_once(tmp_path, monkeypatch, small_video):
    media = tmp_path / "media"
    media.mkdir()
    for name in ("a.mov", "b.mov"):   # graded away from the generated clip: the match applies and is measured
        make_test_clip(media / name, rate="24", frames=40, extra=("-vf", "hue=h=150:s=1.6,eq=brightness=-0.15"))
    src = cut(tmp_path / "in", [(12, f"shot {i}") for i in range(HOLES)], media)
    tools.reset_cache()
    log = logging_tools(tmp_path)
    monkeypatch.setenv("SHOTFILL_FFMPEG", str(tmp_path / "logging-ffmpeg"))
    monkeypatch.setenv("SHOTFILL_FFPROBE", str(tmp_path / "logging-ffprobe"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    tools.reset_cache()
    try:
        with FakeOpenAI(small_video, key=KEY) as fake:
            code = main(["fill", str(src), "-o", str(tmp_path / "out" / "cut.otio"), "--config",
                         str(config(tmp_path, fake.url)), "--state-dir", str(tmp_path / "state"), "--no-report",
                         "--quiet"])
    finally:
        tools.reset_cache()
    assert code == 0
    runs = log.read_text().splitlines()
    probes = [r for r in runs if r.startswith("ffprobe ")]
    ffmpegs = [r for r in runs if r.startswith("ffmpeg ")]

    neighbour_probes = [r for r in probes if "/media/" in r]
    # One per neighbour file for the whole run (two holes beside one shot share it), and the container's
    # count is enough to find a frame: no demux of the whole file.
    assert sorted(r.rsplit("/", 1)[-1] for r in neighbour_probes) == ["a.mov", "b.mov"], neighbour_probes
    assert not [r for r in neighbour_probes if "-count_packets" in r]
    # Exactness where it is checked: each download and each conformed result, once each.
    downloads = [r for r in probes if "/generated/" in r]
    results = [r for r in probes if ".part.mov" in r]
    assert len(downloads) == len(results) == HOLES and all("-count_packets" in r for r in downloads + results)
    assert len(probes) == 2 + 2 * HOLES

    conforms = [r for r in ffmpegs if "setpts=" in r and "lut3d" in r]
    assert len(conforms) == HOLES, "precondition: every clip colour-matched, so the measure after runs too"
    frames = [r for r in ffmpegs if "-ss " in r and ".png" in r]
    assert len(frames) == HOLES, "both neighbours of a hole in one ffmpeg"
    fits = [r for r in ffmpegs if "force_original_aspect_ratio" in r]     # the service's first frame, at its size
    stills = [r for r in ffmpegs if "rawvideo" in r and ".png" in r and "select=" not in r]
    assert len(stills) == HOLES, "a hole's neighbour frames are read for their colour once, both in one ffmpeg"
    samples = [r for r in ffmpegs if "rawvideo" in r and "select=" in r]   # the clip before, the result after
    assert len(fits) == HOLES and len(samples) == 2 * HOLES
    assert len(ffmpegs) == len(frames) + len(fits) + len(stills) + len(samples) + len(conforms), ffmpegs
    # Per clip: neighbour frames, fit, download probe, colours of the neighbours, of the clip, conform, result
    # probe, colours of the result: 8, plus one probe per neighbour file for the run.
    assert len(runs) == 2 + 8 * HOLES


def test_an_offline_clip_reads_each_neighbour_frame_once(tmp_path, monkeypatch):
    """The offline generator needs a neighbour frame's size, not its frame count (a second ffprobe, decoding)."""
    src = cut(tmp_path / "in", [(12, f"shot {i}") for i in range(HOLES)], tmp_path / "media")
    tools.reset_cache()
    log = logging_tools(tmp_path)
    monkeypatch.setenv("SHOTFILL_FFMPEG", str(tmp_path / "logging-ffmpeg"))
    monkeypatch.setenv("SHOTFILL_FFPROBE", str(tmp_path / "logging-ffprobe"))
    tools.reset_cache()
    try:
        code = main(["fill", str(src), "-o", str(tmp_path / "out" / "cut.otio"), "--provider", "local",
                     "--state-dir", str(tmp_path / "state"), "--no-report", "--quiet"])
    finally:
        tools.reset_cache()
    assert code == 0
    runs = log.read_text().splitlines()
    stills = [r for r in runs if r.startswith("ffprobe ") and r.endswith(".png")]
    assert len(stills) == 2 * HOLES and not [r for r in stills if "-count_frames" in r], stills
    renders = [r for r in runs if r.startswith("ffprobe ") and ".part.mov" in r]
    assert len(renders) == HOLES and all("-count_packets" in r for r in renders), "each render is still proven"
    # Per clip: neighbour frames, two stills' sizes, the render, its probe; one probe per neighbour file.
    assert len(runs) == 2 + 5 * HOLES, runs
