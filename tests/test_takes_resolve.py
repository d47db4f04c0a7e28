"""Takes in Resolve: every take imported into the ShotFill bin, the others added to the placed item's Take Selector."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediautil import decoded_frames
from resolve_cases import cut_23976, fake_module, load_launcher
from shotfill.resolve import install

pytestmark = pytest.mark.slow          # the real engine generates and conforms with ffmpeg


@pytest.fixture
def fake():
    return fake_module()


def cut_with_takes(fake, tmp_path):
    r, tl, slug = cut_23976(fake, tmp_path)
    assert tl.DeleteMarkerAtFrame(24)
    assert tl.AddMarker(24, "Blue", "GEN: a fox in snow | seed=5 takes=3", "", 12, "")
    return r, tl


def check_takes(r, tl):
    bins = r.project.pool.root.subfolders
    assert [b.name for b in bins] == ["ShotFill"]
    names = sorted(Path(c.path).name for c in bins[0].clips)
    assert len(names) == 4, names          # three takes of the V1 hole, one clip for the V2 slug
    [item] = [it for it in tl.tracks[0]["items"] if it.name.startswith("Cut_V1_01000100_")]
    assert (item.start, item.end) == (86424, 86436)
    assert item.GetTakesCount() == 3 and item.GetSelectedTakeIndex() == 1
    added = [c for c in r.calls if c[1] == "AddTake"]
    assert [Path(c[3]).name.split("_")[3] for c in added] == ["take2", "take3"]
    assert all(c[4:] == (0, 12) for c in added), "each take covers the hole's 12 media frames"
    takes = [item.GetTakeByIndex(i) for i in (1, 2, 3)]
    assert [(t["startFrame"], t["endFrame"]) for t in takes] == [(0, 12)] * 3
    assert all(decoded_frames(Path(t["mediaPoolItem"].path)) == 12 for t in takes)
    assert len({t["mediaPoolItem"].path for t in takes}) == 3
    assert item.GetMediaPoolItem() is takes[0]["mediaPoolItem"]
    # the slug (one take) stays a plain item
    [v3] = tl.tracks[2]["items"]
    assert v3.GetTakesCount() == 0 and v3.GetSelectedTakeIndex() == 0
    # what the editor does next: pick take 3 in the Take Selector and finalize
    assert item.SelectTakeByIndex(3) and item.FinalizeTake()
    assert item.GetMediaPoolItem() is takes[2]["mediaPoolItem"] and item.GetTakesCount() == 0


def test_python_launcher_adds_the_other_takes_to_the_placed_item(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOTFILL_RESOLVE_MEDIA", str(tmp_path / "ShotFill"))
    launcher = load_launcher(install.install(dest=tmp_path / "Scripts" / "Edit", launcher="python")[0])
    r, tl = cut_with_takes(fake, tmp_path)
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path)) == 0
    n = len(r.calls)
    check_takes(r, tl)
    # a second run finds the marker done and adds nothing
    r.calls[n:] = []
    n = len(r.calls)
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path)) == 0
    assert not [c for c in r.calls[n:] if c[1] in ("AddTake", "AppendToTimeline", "ImportMedia")]


def test_lua_launcher_adds_the_other_takes_to_the_placed_item(fake, tmp_path, monkeypatch):
    from lua_bridge import LuaProxy, lua_runtime

    lua = lua_runtime()
    if lua is None:
        pytest.skip("lupa is not installed")
    monkeypatch.setenv("SHOTFILL_RESOLVE_MEDIA", str(tmp_path / "ShotFill"))
    (written,) = install.install(dest=tmp_path / "Scripts", launcher="lua")
    r, tl = cut_with_takes(fake, tmp_path)
    lua.execute("SHOTFILL_NO_AUTORUN = true")
    lua.execute(written.read_text())
    opts = lua.table_from({"resolve": LuaProxy(lua, r), "workdir": str(tmp_path)})
    assert lua.globals().ShotFillMain(opts) == 0
    check_takes(r, tl)
