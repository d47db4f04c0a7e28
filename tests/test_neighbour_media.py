"""The neighbours' own media first: a hole the shot before runs on over is filled from it, free.

shot_a shows frames 0..47 of a 120-frame file, then a 24-frame GEN: hole, then shot_b.  ``scan`` says
shot_a's media runs on for 72 frames; ``fill`` with ``source=handles`` (or ``--prefer-handles``) places
shot_a's own file with its source range continuing at frame 48, sends nothing to any provider (the run's
provider is a paid one with no key: any request would stop the run), writes no journal row, and the
report marks it (``"source": "handles"``, cost 0).  In OTIO, FCP 7 XML (the length from the timeline's
available range) and an EDL (none: the file is probed).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from mediautil import make_test_clip, rgb_frame
from shotfill.cli.app import main
from shotfill.config import KEY_ENV
from shotfill.rates import frames_to_timecode
from shotfill.timeline.read import read_timeline
from timelines import clip, gap, marker, timeline

pytestmark = pytest.mark.slow          # real media made and probed with ffmpeg

R = Fraction(25)
START = 90000                          # 01:00:00:00
HOLE = 24
SUFFIX = {"otio": ".otio", "fcp7": ".xml", "edl": ".edl"}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {"a": make_test_clip(d / "shot_a.mov", frames=120, codec="h264_lossless"),
            "b": make_test_clip(d / "shot_b.mov", frames=120, source="0x3366cc", codec="h264_lossless")}


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    for env in KEY_ENV.values():
        if env:
            monkeypatch.delenv(env, raising=False)


def tc(f: int) -> str:
    return frames_to_timecode(f, R, False)


def source(fmt: str, folder: Path, media: dict[str, Path], note: str, a_frames: int = 48, b_in: int = 60) -> Path:
    """shot_a (frames 0..a_frames-1 of its file) | a 24-frame hole under ``note`` | shot_b (from ``b_in``)."""
    a, b = media["a"].resolve(), media["b"].resolve()
    rec = START + a_frames
    if fmt == "otio":
        tl = timeline(R, [clip("shot_a", a_frames, R, url=a.as_uri(), avail=(0, 120)),
                          gap(HOLE, R, marker(note, 2, 1, R)),
                          clip("shot_b", 48, R, src=b_in, url=b.as_uri(), avail=(0, 120))], start_frame=START)
        text = otio.adapters.write_to_string(tl, "otio_json")
    elif fmt == "edl":
        text = "\n".join([
            "TITLE: runon", "FCM: NON-DROP FRAME", "",
            f"001  SHOTA    V     C        {tc(0)} {tc(a_frames)} {tc(START)} {tc(rec)}",
            "* FROM CLIP NAME: shot_a.mov", f"* SOURCE FILE: {a}",
            f"* LOC: {tc(rec + 2)} PURPLE  {note}",
            f"002  SHOTB    V     C        {tc(b_in)} {tc(b_in + 48)} {tc(rec + HOLE)} {tc(rec + HOLE + 48)}",
            "* FROM CLIP NAME: shot_b.mov", f"* SOURCE FILE: {b}", ""])
    else:
        r = "<rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>"

        def item(n: int, name: str, path: Path, s: int, d: int, i: int) -> str:
            return (f"<clipitem id='clipitem-{n}'><name>{name}</name><duration>120</duration>{r}<start>{s}</start>"
                    f"<end>{s + d}</end><in>{i}</in><out>{i + d}</out><file id='file-{n}'><name>{path.name}</name>"
                    f"<pathurl>{path.as_uri()}</pathurl>{r}<duration>120</duration></file></clipitem>")
        text = (f"<?xml version='1.0' encoding='UTF-8'?>\n<!DOCTYPE xmeml>\n<xmeml version='5'><sequence id='s1'>"
                f"<name>runon</name><duration>200</duration>{r}<media><video><format><samplecharacteristics>"
                "<width>320</width><height>180</height></samplecharacteristics></format><track>"
                f"{item(1, 'shot_a', a, 0, a_frames, 0)}{item(2, 'shot_b', b, a_frames + HOLE, 48, b_in)}</track>"
                f"</video></media><marker><name>{note}</name><in>{a_frames + 2}</in><out>{a_frames + 3}</out>"
                f"</marker><timecode>{r}<string>{tc(START)}</string><frame>{START}</frame>"
                "<displayformat>NDF</displayformat></timecode></sequence></xmeml>\n")
    path = folder / f"cut{SUFFIX[fmt]}"
    path.write_text(text)
    return path


def shot_a(fmt: str) -> str:
    """shot_a's name as the timeline gives it (an EDL's clip is named for its * FROM CLIP NAME:)."""
    return "shot_a.mov" if fmt == "edl" else "shot_a"


def rate_args(fmt: str) -> list[str]:
    return ["--rate", "25"] if fmt == "edl" else []


def gen_clip(path: Path) -> otio.schema.Clip:
    tl = read_timeline(path, rate=R if path.suffix == ".edl" else None).timeline
    gen_clip.keep = tl
    [c] = [c for c in tl.find_clips() if c.range_in_parent().start_time.to_frames() == 48]
    return c


def journal_rows(state: Path) -> int:
    db = state / "journal.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return con.execute("select count(*) from jobs").fetchone()[0]


def md5(rgb: tuple[int, int, bytes]) -> str:
    return hashlib.md5(rgb[2]).hexdigest()


@pytest.mark.parametrize("fmt", ["otio", "fcp7", "edl"])
def test_scan_says_the_shot_before_runs_on(tmp_path, media, fmt, capsys):
    src = source(fmt, tmp_path, media, "GEN: the street")
    assert main(["scan", str(src), *rate_args(fmt)]) == 0
    out = capsys.readouterr().out
    assert f"media: {shot_a(fmt)}'s media runs on for 72 frames: free" in out, out
    assert "PROBLEM" not in out
    # asked for, the plan says so, and costs nothing
    assert main(["scan", str(src), *rate_args(fmt), "--prefer-handles"]) == 0
    assert f"plan: from {shot_a(fmt)}'s media (free): no generation" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["otio", "edl"])
def test_scan_json_says_the_run_on_per_placeholder(tmp_path, media, fmt, capsys):
    src = source(fmt, tmp_path, media, "GEN: the street")
    assert main(["scan", str(src), *rate_args(fmt), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    nm = row["neighbour_media"]
    assert nm["lines"] == [f"{shot_a(fmt)}'s media runs on for 72 frames: free"]
    assert nm["run_on"] == {"side": "before", "name": shot_a(fmt), "frames": 72, "needed": HOLE, "covers": True,
                            "media": str(media["a"].resolve()), "source_in": 48}
    # short of the hole: said, and no frame to start on
    short = source(fmt, tmp_path, media, "GEN: the street", a_frames=110, b_in=10)
    assert main(["scan", str(short), *rate_args(fmt), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["neighbour_media"]["lines"] == [f"{shot_a(fmt)}'s media runs on for 10 frames, short of the hole's 24"]
    assert row["neighbour_media"]["run_on"]["covers"] is False and row["neighbour_media"]["run_on"]["source_in"] is None


@pytest.mark.parametrize("how", ["note", "flag"])
@pytest.mark.parametrize("fmt", ["otio", "fcp7", "edl"])
def test_fill_places_shot_as_own_media_continuing_at_frame_48(tmp_path, media, fmt, how, capsys):
    note = "GEN: the street | source=handles" if how == "note" else "GEN: the street"
    src = source(fmt, tmp_path, media, note)
    out = tmp_path / "out" / f"filled{SUFFIX[fmt]}"
    flags = ["--prefer-handles"] if how == "flag" else []
    # a paid provider with no key: a request for this hole would stop the run before anything is done
    assert main(["fill", str(src), "-o", str(out), "--provider", "openai", *rate_args(fmt), *flags]) == 0, \
        capsys.readouterr().err
    said = capsys.readouterr().out
    assert f"from {shot_a(fmt)}'s media (free)" in said
    c = gen_clip(out)
    ref = c.media_reference
    assert Path(otio.url_utils.filepath_from_url(ref.target_url)).resolve() == media["a"].resolve()
    assert c.range_in_parent().duration.to_frames() == HOLE
    first = c.source_range.start_time.to_frames()
    if fmt != "edl":     # an EDL names no file length
        assert ref.available_range.start_time.to_frames() == 0 and ref.available_range.duration.to_frames() == 120
    assert first == 48, "the clip continues shot_a: its file's frame 48 first"
    # the frame shown there is the file's frame 48 (not 47 or 49: the cut is continuous)
    shown = rgb_frame(media["a"], first)
    assert md5(shown) == md5(rgb_frame(media["a"], 48)) != md5(rgb_frame(media["a"], 47))
    # nothing generated, nothing journalled, nothing paid
    assert journal_rows(out.parent / ".shotfill") == 0
    made = out.parent / "filled_media"
    assert not made.exists() or not any(made.iterdir()), "nothing conformed"
    report = json.loads((out.parent / "report.json").read_text())
    [row] = report["placeholders"]
    assert (row["source"], row["estimated_cost"], row["result"]) == ("handles", 0.0, "filled")
    assert row["source_note"] == f"from {shot_a(fmt)}'s media (free)"
    html = (out.parent / "report.html").read_text().replace("&#x27;", "'")
    assert f"from {shot_a(fmt)}'s media (free)" in html
    # the thumbnails show the frames the placed clip shows (48..71 of the file), not the whole file's
    assert row["source_in"] == 48
    assert {k: row["thumbnails"][k]["frame"] for k in ("first", "middle", "last")} == \
        {"first": 48, "middle": 60, "last": 71}
    assert (out.parent / row["thumbnails"]["first"]["path"]).is_file()


def test_dry_run_shows_it_free(tmp_path, media, capsys):
    src = source("otio", tmp_path, media, "GEN: the street | source=handles")
    assert main(["fill", str(src), "-o", str(tmp_path / "o.otio"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "from shot_a's media (free): no generation, nothing sent" in out
    assert "estimated total: 0.00" in out and "unpriced" not in out


@pytest.mark.parametrize("fmt", ["otio", "edl"])
def test_source_handles_on_a_hole_the_media_cannot_cover_is_refused(tmp_path, media, fmt, capsys):
    # shot_a shows frames 0..109: 10 frames left, the hole needs 24
    src = source(fmt, tmp_path, media, "GEN: the street | source=handles", a_frames=110, b_in=10)
    assert main(["scan", str(src), *rate_args(fmt)]) == 0
    said = capsys.readouterr().out
    assert f"PROBLEM: source=handles: {shot_a(fmt)}'s media has only 10 unused frames past its out point" in said
    assert "remove source=handles to generate it" in said
    out = tmp_path / "o" / f"o{SUFFIX[fmt]}"
    assert main(["fill", str(src), "-o", str(out), *rate_args(fmt)]) == 2
    err = capsys.readouterr().err
    assert "V1_01000410" in err and "10 unused frames" in err and "remove source=handles" in err
    assert "Traceback" not in err and not out.exists()


def test_prefer_handles_on_a_hole_the_media_cannot_cover_generates_it(tmp_path, media, capsys):
    src = source("otio", tmp_path, media, "GEN: the street | seed=3", a_frames=110, b_in=10)
    out = tmp_path / "o" / "o.otio"
    assert main(["fill", str(src), "-o", str(out), "--prefer-handles", "--provider", "local"]) == 0
    tl = read_timeline(out).timeline
    [g] = [x for x in tl.find_clips() if x.name.startswith("GEN ")]
    assert g.metadata["shotfill"]["provider"] == "local"
    assert Path(otio.url_utils.filepath_from_url(g.media_reference.target_url)).resolve() != media["a"].resolve()
    assert Path(otio.url_utils.filepath_from_url(g.media_reference.target_url)).parent == out.parent / "o_media"


def test_the_shot_after_fills_it_when_it_starts_late_enough_into_its_file(tmp_path, media, capsys):
    """shot_a has 10 frames to spare, shot_b starts at its frame 60: the hole shows shot_b's frames 36..59."""
    src = source("otio", tmp_path, media, "GEN: the street | source=handles", a_frames=110)
    assert main(["scan", str(src)]) == 0
    assert "media: shot_b's media has 60 frames before its in point: free" in capsys.readouterr().out
    out = tmp_path / "o" / "o.otio"
    assert main(["fill", str(src), "-o", str(out), "--provider", "openai"]) == 0
    tl = read_timeline(out).timeline
    [c] = [x for x in tl.find_clips() if x.range_in_parent().start_time.to_frames() == 110]
    assert Path(otio.url_utils.filepath_from_url(c.media_reference.target_url)).resolve() == media["b"].resolve()
    assert (c.source_range.start_time.to_frames(), c.source_range.duration.to_frames()) == (60 - HOLE, HOLE)
    assert journal_rows(out.parent / ".shotfill") == 0


def test_resolve_places_the_shot_afters_own_frames(tmp_path, monkeypatch):
    """In Resolve the item after the hole starts 20 frames into its clip: the hole gets frames 8..19 of it
    (the item before shows its clip's last 24 frames: GetRightOffset() 0, nothing runs on)."""
    from resolve_cases import R24, counter, fake_module, load_launcher
    from shotfill.resolve import install

    fake = fake_module()
    monkeypatch.setenv("SHOTFILL_RESOLVE_MEDIA", str(tmp_path / "ShotFill"))
    launcher = load_launcher(install.install(dest=tmp_path / "Scripts" / "Edit", launcher="python")[0])
    a, b = counter(tmp_path, "a.mov", R24), counter(tmp_path, "b.mov", R24)    # 40 frames each
    r = fake.Resolve()
    tl = r.project.new_timeline("Cut", rate="23.976", start_frame=86400, start_timecode="01:00:00:00", tracks=1)
    assert tl.put(1, 0, 24, media=fake.MediaPoolItem(str(a), 40, "23.976"), left_offset=16).GetRightOffset() == 0
    tl.put(1, 36, 16, media=fake.MediaPoolItem(str(b), 40, "23.976"), left_offset=20)
    assert tl.AddMarker(24, "Blue", "GEN: a fox in snow | source=handles", "", 12, "")
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path)) == 0
    [append] = [c[2] for c in r.calls if c[1] == "AppendToTimeline"]
    assert Path(append["mediaPoolItem"]).resolve() == b.resolve()
    assert (append["startFrame"], append["endFrame"], append["recordFrame"]) == (8, 20, 86424)
    [placed] = [it for it in tl.tracks[0]["items"] if it.start == 86424]
    assert (placed.end, placed.GetLeftOffset()) == (86436, 8)
    assert not list((tmp_path / "ShotFill").rglob("*.mov")), "nothing generated"


@pytest.mark.parametrize("launcher_kind", ["python", "lua"])
def test_resolve_places_the_shot_befores_run_on(tmp_path, monkeypatch, launcher_kind):
    """Shot a shows frames 0..23 of its 40-frame clip (GetRightOffset() 16): the 12-frame hole after it gets
    a's frames 24..35, continuing it; both launchers read the right offset."""
    from resolve_cases import R24, counter, fake_module, load_launcher
    from shotfill.resolve import install

    fake = fake_module()
    monkeypatch.setenv("SHOTFILL_RESOLVE_MEDIA", str(tmp_path / "ShotFill"))
    a, b = counter(tmp_path, "a.mov", R24), counter(tmp_path, "b.mov", R24)    # 40 frames each
    r = fake.Resolve()
    tl = r.project.new_timeline("Cut", rate="23.976", start_frame=86400, start_timecode="01:00:00:00", tracks=1)
    first = tl.put(1, 0, 24, media=fake.MediaPoolItem(str(a), 40, "23.976"))
    assert first.GetRightOffset() == 16
    tl.put(1, 36, 16, media=fake.MediaPoolItem(str(b), 40, "23.976"))
    assert tl.AddMarker(24, "Blue", "GEN: a fox in snow | source=handles", "", 12, "")
    if launcher_kind == "python":
        launcher = load_launcher(install.install(dest=tmp_path / "Scripts" / "Edit", launcher="python")[0])
        assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path)) == 0
    else:
        from lua_bridge import LuaProxy, lua_runtime
        lua = lua_runtime()
        if lua is None:
            pytest.skip("lupa is not installed")
        (written,) = install.install(dest=tmp_path / "Scripts", launcher="lua")
        lua.execute("SHOTFILL_NO_AUTORUN = true")
        lua.execute(written.read_text())
        assert lua.globals().ShotFillMain(lua.table_from({"resolve": LuaProxy(lua, r), "workdir": str(tmp_path)})) == 0
    [append] = [c[2] for c in r.calls if c[1] == "AppendToTimeline"]
    assert Path(append["mediaPoolItem"]).resolve() == a.resolve()
    assert (append["startFrame"], append["endFrame"], append["recordFrame"]) == (24, 36, 86424)
    [placed] = [it for it in tl.tracks[0]["items"] if it.start == 86424]
    assert (placed.end, placed.GetLeftOffset(), placed.GetRightOffset()) == (86436, 24, 4)
    assert tl.GetMarkers()[24.0]["customData"].startswith("shotfill:done:")
    assert not list((tmp_path / "ShotFill").rglob("*.mov")), "nothing generated"
