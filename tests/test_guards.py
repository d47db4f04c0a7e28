"""Guards: batch outputs that never overwrite each other; bad flags, settings and state files refused
up front with a clear message, exit 2 and nothing created."""

from __future__ import annotations

import math
import sqlite3
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fakes.openai import FakeOpenAI
from mediautil import mean_rgb
from shotfill.cli.app import main
from shotfill.cli.inputs import plan_outputs
from timelines import gap, marker

KEY = "sk-guards-test-key"
R25 = Fraction(25)

EDL = """TITLE: cut
FCM: NON-DROP FRAME

001  BL       V     C        00:00:00:00 00:00:00:10 01:00:00:00 01:00:00:10
* FROM CLIP NAME: GEN: {prompt}
"""


def holes_timeline(path: Path, prompts: list[str], frames: int = 10) -> Path:
    tl = otio.schema.Timeline(name=path.stem, global_start_time=otio.opentime.RationalTime(90000, 25))
    t = otio.schema.Track(name="V1", kind="Video")
    for p in prompts:
        t.append(gap(frames, R25, marker(f"GEN: {p}", 0, 1, R25)))
    tl.tracks.append(t)
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(path))
    return path


def generated(path: Path) -> list[otio.schema.Clip]:
    return [c for c in otio.adapters.read_from_file(str(path)).find_clips() if "shotfill" in c.metadata]


def media_of(path: Path) -> list[Path]:
    return [Path(otio.url_utils.filepath_from_url(c.media_reference.target_url)) for c in generated(path)]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ------------------------------------------------------------------ 3. batch outputs never clash


@pytest.mark.slow
def test_same_name_in_same_named_folders_gives_two_outputs(tmp_path, capsys):
    a = holes_timeline(tmp_path / "p" / "b" / "cut.otio", ["a fox"])
    b = holes_timeline(tmp_path / "q" / "b" / "cut.otio", ["a hare", "a crow"])
    out = tmp_path / "out"
    assert main(["fill", str(a), str(b), "-o", str(out), "--resolution", "320x180", "-q", "--no-report"]) == 0
    outputs = sorted(p.name for p in out.glob("*.otio"))
    assert outputs == ["p_b_cut.otio", "q_b_cut.otio"]
    assert len(generated(out / "p_b_cut.otio")) == 1 and len(generated(out / "q_b_cut.otio")) == 2


@pytest.mark.slow
def test_cut_edl_and_cut_otio_written_as_edl_give_two_outputs(tmp_path):
    src = tmp_path / "exports"
    src.mkdir()
    (src / "cut.edl").write_text(EDL.format(prompt="a fox"))
    holes_timeline(src / "cut.otio", ["a hare", "a crow"])
    out = tmp_path / "out"
    assert main(["fill", str(src), "-o", str(out), "--format", "edl", "--rate", "25",
                 "--resolution", "320x180", "-q", "--no-report"]) == 0
    names = sorted(p.name for p in out.glob("*.edl"))
    assert names == ["cut_edl.edl", "cut_otio.edl"]
    for name, events in (("cut_edl.edl", 1), ("cut_otio.edl", 2)):
        tl = otio.adapters.read_from_file(str(out / name), rate=25)
        assert len(list(tl.find_clips())) == events, name


def test_names_stay_distinct_whatever_clashes(tmp_path):
    def touch(rel: str) -> Path:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
        return p

    inputs = [touch("p/b/cut.edl"), touch("q/b/cut.edl"), touch("r/cut.edl"), touch("r/CUT.otio"),
              touch("r/cut.xml"), touch("s/b_cut.edl")]
    items = plan_outputs(inputs, tmp_path / "out", "edl")
    names = [i.output.name for i in items]
    assert len({n.casefold() for n in names}) == len(names), names
    assert all(i.output.parent == tmp_path / "out" and i.output.suffix == ".edl" for i in items)
    # no clash: the plain name, as before
    items = plan_outputs([touch("x/reel1.edl"), touch("x/reel2.edl")], tmp_path / "out")
    assert [i.output.name for i in items] == ["reel1.edl", "reel2.edl"]


@pytest.fixture
def openai_fake(small_video, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI(small_video, key=KEY) as fake:
        cfg = tmp_path / "shotfill.toml"
        cfg.write_text(f'default_provider = "openai"\n[providers.openai]\nbase_url = "{fake.url}"\n'
                       "poll_interval = 0.01\nprice_per_second = 0.1\nconcurrency = 4\n")
        fake.config = cfg
        yield fake


@pytest.mark.slow
def test_look_alike_holes_in_one_media_folder_keep_their_own_fit(openai_fake, tmp_path):
    """Two timelines of the same name whose holes differ only in fit= make the same request, but
    their conformed files must not be one file."""
    a = holes_timeline(tmp_path / "p" / "cut.otio", ["a fox | fit=fit"])
    b = holes_timeline(tmp_path / "q" / "cut.otio", ["a fox | fit=fill"])
    out, media = tmp_path / "out", tmp_path / "media"
    assert main(["fill", str(a), str(b), "-o", str(out), "--media-dir", str(media), "--config",
                 str(openai_fake.config), "--resolution", "240x180", "-q", "--no-report"]) == 0
    [fit_media], [fill_media] = media_of(out / "p_cut.otio"), media_of(out / "q_cut.otio")
    assert fit_media != fill_media
    # the service's 16:9 clip letterboxed into 4:3: black bars above and below; filled: picture there
    top = (0, 0, 1, 0.06)
    assert max(mean_rgb(fit_media, 0, top)) < 20
    assert max(mean_rgb(fill_media, 0, top)) > 40
