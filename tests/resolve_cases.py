"""Timelines in the fake Resolve, and ways to run the launchers against them."""

from __future__ import annotations

import importlib.util
import json
import sys
from fractions import Fraction
from pathlib import Path

TESTS = Path(__file__).resolve().parent

FAKE_DIR = TESTS / "fake_resolve"
R24 = Fraction(24000, 1001)
R2997 = Fraction(30000, 1001)


def fake_module():
    if str(FAKE_DIR) not in sys.path:
        sys.path.insert(0, str(FAKE_DIR))
    import DaVinciResolveScript

    return DaVinciResolveScript


def load_launcher(path: Path):
    """Import an installed ShotFill.py as a module (as Resolve runs it, minus the globals)."""
    spec = importlib.util.spec_from_file_location(f"shotfill_launcher_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inprocess_runner(argv: list[str], on_line) -> tuple[int, str]:
    """The engine in this process, through the same files and progress lines as the subprocess."""
    from shotfill.resolve.engine import engine_main

    assert argv[1:4] == ["-m", "shotfill", "resolve"]
    command, snap, out = argv[4], Path(argv[6]), Path(argv[8])
    rc = engine_main(command, snap, out, emit=lambda obj: on_line(json.dumps(obj) + "\n"))
    return rc, ""


def counter(tmp: Path, name: str, rate: Fraction, frames: int = 40) -> Path:
    from mediautil import make_test_clip

    return make_test_clip(tmp / name, rate=f"{rate.numerator}/{rate.denominator}", frames=frames,
                          source="counter", codec="h264_lossless")


def cut_23976(fake, tmp: Path):
    """23.976 at 01:00:00:00.

    V1: a.mov (24 frames from media frame 10) | 12-frame hole under a timeline
        GEN: marker | b.mov (24 frames from media frame 4)
    V2: a "Solid Color" generator, frames 40-50, with a clip GEN: marker
    and an ordinary timeline marker at frame 5.
    """
    a, b = counter(tmp, "a.mov", R24), counter(tmp, "b.mov", R24)
    r = fake.Resolve()
    tl = r.project.new_timeline("Cut", rate="23.976", start_frame=86400, start_timecode="01:00:00:00", tracks=2)
    tl.put(1, 0, 24, media=fake.MediaPoolItem(str(a), 40, "23.976"), left_offset=10)
    tl.put(1, 36, 24, media=fake.MediaPoolItem(str(b), 40, "23.976"), left_offset=4)
    assert tl.AddMarker(24, "Blue", "GEN: a fox in snow | seed=5", "", 12, "")
    assert tl.AddMarker(5, "Yellow", "ordinary", "keep me – café", 1, "editor's data")
    slug = tl.put(2, 40, 10, name="Solid Color")
    assert slug.AddMarker(2, "Red", "Marker 1", "GEN: lower third, white text, café", 1, "")
    return r, tl, slug


def cut_2997df(fake, tmp: Path):
    """29.97 drop frame at 01:00:00;00: a hole one minute in (01:01:00;02), on V1."""
    a, b = counter(tmp, "a.mov", R2997), counter(tmp, "b.mov", R2997)
    r = fake.Resolve()
    tl = r.project.new_timeline("DF Cut", rate="29.97", start_frame=107892, start_timecode="01:00:00;00",
                                drop_frame=True, tracks=1)
    tl.put(1, 0, 1800, media=fake.MediaPoolItem(str(a), 40, "29.97"))
    tl.put(1, 1810, 30, media=fake.MediaPoolItem(str(b), 40, "29.97"))
    assert tl.AddMarker(1800, "Purple", "GEN: surf at dusk", "", 10, "")
    return r, tl
