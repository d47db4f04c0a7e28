"""The same timeline gives the same placeholders and requests through Resolve and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio
import pytest

from resolve_cases import R24, cut_23976, fake_module, load_launcher
from shotfill.cli.app import main
from shotfill.pipeline import load
from shotfill.plan.requests import PlanSettings, plan_request
from shotfill.resolve import engine, install
from shotfill.resolve.protocol import Snapshot
from timelines import clip, gap, marker, tr

pytestmark = pytest.mark.slow          # real fills: ffmpeg conforms every clip

SCRIPTS = Path(install.__file__).parent / "scripts"


def snapshot_path(tmp_path: Path):
    """cut_23976 gathered by the launcher, through JSON, scanned by the engine."""
    fake = fake_module()
    r, tl, _ = cut_23976(fake, tmp_path)
    launcher = load_launcher(SCRIPTS / "ShotFill.py")
    snap, _ = launcher.gather(r, r.project, tl)
    snapshot = Snapshot.model_validate(json.loads(json.dumps(snap)))
    return engine._scan(snapshot, tmp_path / "media")


def requests(placeholders, tmp: Path) -> list[str]:
    ps = PlanSettings(width=320, height=180, provider="local")
    return [plan_request(ph, ps, tmp / ph.id).request_hash for ph in placeholders]


def test_snapshot_and_otio_file_agree(tmp_path):
    built, loaded = snapshot_path(tmp_path)
    a, b = tmp_path / "a.mov", tmp_path / "b.mov"

    # The same cut written as OTIO by hand: timeline markers on the stack, the slug a generator.
    tl = otio.schema.Timeline(name="Cut", global_start_time=otio.opentime.RationalTime(86400, float(R24)))
    v1 = otio.schema.Track(name="Video 1", kind="Video")
    # Both clips are 40 frames long: Resolve tells it by GetLeftOffset() + duration + GetRightOffset().
    v1.append(clip("a.mov", 24, R24, src=10, url=str(a), avail=(0, 40)))
    v1.append(gap(12, R24))
    v1.append(clip("b.mov", 24, R24, src=4, url=str(b), avail=(0, 40)))
    v2 = otio.schema.Track(name="Video 2", kind="Video")
    v2.append(gap(40, R24))
    slug = otio.schema.Clip(name="Solid Color", source_range=tr(0, 10, R24),
                            media_reference=otio.schema.GeneratorReference(generator_kind="SolidColor"))
    slug.markers.append(marker("Marker 1", 2, 1, R24, comment="GEN: lower third, white text, café"))
    v2.append(slug)
    tl.tracks.extend([v1, v2])
    tl.tracks.markers.append(marker("GEN: a fox in snow | seed=5", 24, 12, R24))
    tl.tracks.markers.append(marker("ordinary", 5, 1, R24, comment="keep me – café"))
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(path))

    from_file = load(path)
    assert len(loaded.scan.placeholders) == 2
    assert [ph.model_dump() for ph in loaded.scan.placeholders] == \
        [ph.model_dump() for ph in from_file.scan.placeholders]
    assert requests(loaded.scan.placeholders, tmp_path / "f1") == requests(from_file.scan.placeholders, tmp_path / "f2")


def test_snapshot_and_edl_with_resolve_marker_edl_agree(tmp_path, capsys):
    """The free edition's batch path: the cut as an EDL, its markers as Resolve's marker EDL."""
    built, loaded = snapshot_path(tmp_path)
    (tmp_path / "cut.edl").write_text(
        "TITLE: Cut\nFCM: NON-DROP FRAME\n\n"
        "001  A        V     C        00:00:00:10 00:00:01:10 01:00:00:00 01:00:01:00\n"
        "* FROM CLIP NAME: a.mov\n"
        "002  B        V     C        00:00:00:04 00:00:01:04 01:00:01:12 01:00:02:12\n"
        "* FROM CLIP NAME: b.mov\n")
    (tmp_path / "cut_markers.edl").write_text(
        "TITLE: Cut\r\nFCM: NON-DROP FRAME\r\n\r\n"
        "001  001      V     C        01:00:00:05 01:00:00:06 01:00:00:05 01:00:00:06  \r\n"
        "keep me |C:ResolveColorYellow |M:ordinary |D:1\r\n\r\n"
        "002  001      V     C        01:00:01:00 01:00:01:01 01:00:01:00 01:00:01:01  \r\n"
        " |C:ResolveColorBlue |M:GEN: a fox in snow | seed=5 |D:12\r\n")
    assert main(["scan", str(tmp_path / "cut.edl"), "--rate", "23.976", "--json",
                 "--markers", str(tmp_path / "cut_markers.edl")]) == 0
    rows = json.loads(capsys.readouterr().out)
    (edl_ph,) = rows
    (snap_ph,) = [ph for ph in loaded.scan.placeholders if ph.track == "V1"]
    for key in ("id", "track", "start", "duration", "record_frame", "timecode", "prompt", "kind"):
        assert edl_ph[key] == snap_ph.model_dump(mode="json")[key], key
    assert edl_ph["options"]["seed"] == 5

    from_edl = load(tmp_path / "cut.edl", rate=R24, markers=tmp_path / "cut_markers.edl")
    assert requests(from_edl.scan.placeholders, tmp_path / "e") == requests([snap_ph], tmp_path / "s")
