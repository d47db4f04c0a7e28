"""The Resolve launchers against a fake DaVinciResolveScript, with the real engine.

Each case gathers a timeline held by the fake, runs the engine (a real
subprocess with the installed launcher's baked interpreter, or in-process
through the same files where noted), places the results, and checks what
ended up where: media pool bin, tracks, items, markers.
"""

from __future__ import annotations

import ast
import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from mediautil import decoded_frames, video_stream
from resolve_cases import R24, R2997, cut_23976, cut_2997df, fake_module, inprocess_runner, load_launcher
from shotfill.errors import JobFailed
from shotfill.resolve import install
from shotfill.resolve.protocol import NOTE_ERROR_MARK

SCRIPTS = Path(install.__file__).parent / "scripts"


@pytest.fixture
def fake():
    return fake_module()


@pytest.fixture
def launcher(tmp_path, monkeypatch):
    """The Python launcher as `shotfill resolve install --dest` writes it, imported."""
    monkeypatch.setenv("SHOTFILL_RESOLVE_MEDIA", str(tmp_path / "ShotFill"))
    written = install.install(dest=tmp_path / "Scripts" / "Edit", launcher="python")
    return load_launcher(written[0])


def editor_items(tl) -> set:
    return {(it.name, it.start, it.end, ti) for ti, t in enumerate(tl.tracks) for it in t["items"]
            if not it.name.startswith(("Cut_", "DF_Cut_"))}


def calls(r, name: str) -> list:
    return [c for c in r.calls if c[1] == name]


@pytest.mark.slow
def test_23976_fills_v1_hole_and_v2_slug_then_second_run_does_nothing(fake, launcher, tmp_path):
    r, tl, slug = cut_23976(fake, tmp_path)
    before = editor_items(tl)
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path)) == 0

    # V1's hole is filled on V1 itself, at its exact record frames; the V2 slug's range is
    # occupied (by the slug), so its clip goes on a new "ShotFill" track just above V2.
    assert [t["name"] for t in tl.tracks] == ["Video 1", "Video 2", "ShotFill"]
    v1, v2, v3 = tl.layout()
    assert [(s, e) for _, s, e in v1] == [(86400, 86424), (86424, 86436), (86436, 86460)]
    assert v1[1][0].startswith("Cut_V1_01000100_")
    assert v2 == [("Solid Color", 86440, 86450)]
    assert len(v3) == 1 and v3[0][1:] == (86440, 86450) and v3[0][0].startswith("Cut_V2_01000116_")
    assert editor_items(tl) == before, "the editor's items never move"
    assert not calls(r, "DeleteClips")

    # Media: in the ShotFill bin, conformed to the timeline, timecode at the record frame.
    bins = r.project.pool.root.subfolders
    assert [b.name for b in bins] == ["ShotFill"] and len(bins[0].clips) == 2
    gen = Path(bins[0].clips[0].path)
    assert gen.parent == tmp_path / "ShotFill" / "Fake_Project" / "Cut"
    s = video_stream(gen)
    assert (int(s["width"]), int(s["height"])) == (320, 180) and Fraction(s["r_frame_rate"]) == R24
    assert decoded_frames(gen) == 12 and s.get("tags", {}).get("timecode") == "01:00:01:00"
    for info in (c[2] for c in calls(r, "AppendToTimeline")):
        assert info["startFrame"] == 0 and info["recordFrame"] >= 86400 and info["mediaType"] == 1

    # Markers: filled ones turn green with ShotFill's custom data; others untouched.
    m = tl.GetMarkers()
    assert m[24.0]["color"] == "Green" and m[24.0]["customData"].startswith("shotfill:done:")
    assert m[24.0]["name"] == "GEN: a fox in snow | seed=5" and m[24.0]["duration"] == 12.0
    assert m[5.0] == {"color": "Yellow", "duration": 1.0, "note": "keep me – café", "name": "ordinary",
                      "customData": "editor's data"}
    sm = slug.GetMarkers()[2.0]
    assert sm["color"] == "Green" and sm["note"] == "GEN: lower third, white text, café"

    # A second run finds both markers done: nothing generated, placed or changed.
    n_calls, layout, markers = len(r.calls), tl.layout(), tl.GetMarkers()
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path)) == 0
    assert tl.layout() == layout and tl.GetMarkers() == markers and len(r.calls) == n_calls


@pytest.mark.slow
def test_2997_drop_frame_hole_lands_at_its_record_frame(fake, launcher, tmp_path):
    r, tl = cut_2997df(fake, tmp_path)
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 0
    (v1,) = tl.layout()
    assert [(s, e) for _, s, e in v1] == [(107892, 109692), (109692, 109702), (109702, 109732)]
    report = json.loads((tmp_path / "run.json").read_text())
    (ph,) = report["placeholders"]
    assert ph["timecode"] == "01:01:00;02" and ph["record_frame"] == 109692 and ph["offset"] == 1800
    s = video_stream(Path(ph["media_path"]))
    assert Fraction(s["r_frame_rate"]) == R2997 and s.get("tags", {}).get("timecode") == "01:01:00;02"
    assert tl.GetMarkers()[1800.0]["color"] == "Green"


@pytest.mark.slow
def test_occupied_ranges_use_a_shotfill_track_above_and_reuse_it(fake, launcher, tmp_path):
    """Two slugs on V1 under GEN: markers; V2 holds a title.  A ShotFill track is inserted just
    above V1 (the title's track moves up, its items stay put) and serves both slugs."""
    r = fake.Resolve()
    tl = r.project.new_timeline("Cut", rate="24", start_frame=86400, start_timecode="01:00:00:00", tracks=2)
    s1 = tl.put(1, 0, 8, name="Solid Color")
    s2 = tl.put(1, 20, 6, name="Solid Color")
    title = tl.put(2, 0, 30, name="Text+")
    tl.tracks[1]["name"] = "Titles"
    s1.AddMarker(0, "Blue", "GEN: first", "", 1, "")
    s2.AddMarker(3, "Blue", "GEN: second", "", 1, "")
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 0
    assert [t["name"] for t in tl.tracks] == ["Video 1", "ShotFill", "Titles"]
    v1, shotfill, titles = tl.layout()
    assert v1 == [("Solid Color", 86400, 86408), ("Solid Color", 86420, 86426)]
    assert [(s, e) for _, s, e in shotfill] == [(86400, 86408), (86420, 86426)]
    assert titles == [("Text+", 86400, 86430)] and title.track == 2
    assert len(calls(r, "AddTrack")) == 1


@pytest.mark.slow
def test_without_track_insertion_the_shotfill_track_goes_on_top(fake, launcher, tmp_path):
    r = fake.Resolve()
    r.add_track_index_supported = False     # before 19.0, AddTrack only appends
    tl = r.project.new_timeline("Cut", rate="25", start_frame=90000, start_timecode="01:00:00:00", tracks=2)
    slug = tl.put(1, 10, 5, name="Solid Color")
    tl.put(2, 0, 30, name="Text+")
    slug.AddMarker(0, "Blue", "GEN: a gull", "", 1, "")
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 0
    assert [t["name"] for t in tl.tracks] == ["Video 1", "Video 2", "ShotFill"]
    assert [(s, e) for _, s, e in tl.layout()[2]] == [(90010, 90015)]


@pytest.mark.slow
def test_failed_generation_keeps_the_marker_and_puts_the_error_in_its_note(fake, launcher, tmp_path, monkeypatch):
    from shotfill.providers.local import LocalProvider

    r, tl, slug = cut_23976(fake, tmp_path)
    real = LocalProvider.start

    async def flaky(self, request, workdir):
        if "fox" in request.prompt:
            raise JobFailed("the service said: content policy")
        return await real(self, request, workdir)

    monkeypatch.setattr(LocalProvider, "start", flaky)
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 1
    m = tl.GetMarkers()[24.0]
    assert m["color"] == "Blue" and m["duration"] == 12.0 and m["name"] == "GEN: a fox in snow | seed=5"
    assert m["note"].startswith(NOTE_ERROR_MARK + "failed: the service said: content policy")
    assert m["customData"] == "shotfill:failed"
    assert [(s, e) for _, s, e in tl.layout()[0]] == [(86400, 86424), (86436, 86460)], "the hole stays empty"
    assert slug.GetMarkers()[2.0]["color"] == "Green", "the other placeholder is filled"

    # Fixed: a second run fills it and cleans the note.
    monkeypatch.setattr(LocalProvider, "start", real)
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 0
    m = tl.GetMarkers()[24.0]
    assert m["color"] == "Green" and m["note"] == "" and m["customData"].startswith("shotfill:done:")
    assert [(s, e) for _, s, e in tl.layout()[0]] == [(86400, 86424), (86424, 86436), (86436, 86460)]


def test_bad_note_fails_with_the_problem_in_the_note(fake, launcher, tmp_path):
    r = fake.Resolve()
    tl = r.project.new_timeline("Cut", rate="24", start_frame=86400, start_timecode="01:00:00:00", tracks=1)
    tl.put(1, 0, 10, name="Solid Color")
    tl.AddMarker(0, "Cyan", "GEN: a heron | colour=red", "", 10, "")
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 1
    m = tl.GetMarkers()[0.0]
    assert "unknown option 'colour'" in m["note"] and m["color"] == "Cyan"
    assert not calls(r, "AppendToTimeline") and not calls(r, "ImportMedia")


@pytest.mark.slow
def test_clip_named_gen_gets_a_shotfill_marker_and_is_skipped_next_time(fake, launcher, tmp_path):
    r = fake.Resolve()
    tl = r.project.new_timeline("Cut", rate="24", start_frame=86400, start_timecode="01:00:00:00", tracks=1)
    slug = tl.put(1, 0, 6, name="GEN: title card, white on black")
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 0
    (mk,) = slug.GetMarkers().values()
    assert mk["name"] == "ShotFill" and mk["customData"].startswith("shotfill:done:")
    n = len(calls(r, "AppendToTimeline"))
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 0
    assert len(calls(r, "AppendToTimeline")) == n


@pytest.mark.slow
def test_edited_prompt_is_a_new_request(fake, launcher, tmp_path):
    """A done marker whose text the editor changed is filled again (custom data keeps a text hash)."""
    r = fake.Resolve()
    tl = r.project.new_timeline("Cut", rate="24", start_frame=86400, start_timecode="01:00:00:00", tracks=1)
    tl.put(1, 0, 6, name="Solid Color")
    tl.AddMarker(0, "Blue", "GEN: dawn", "", 6, "")
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 0
    cd = tl.GetMarkers()[0.0]["customData"]
    tl.DeleteMarkerAtFrame(0)
    tl.AddMarker(0, "Green", "GEN: dusk", "", 6, cd)
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path), runner=inprocess_runner) == 0
    # The first clip keeps its ShotFill track; the new one gets a new ShotFill track just above the slug.
    assert [t["name"] for t in tl.tracks] == ["Video 1", "ShotFill", "ShotFill"]
    assert [len(t) for t in tl.layout()] == [1, 1, 1]
    assert tl.GetMarkers()[0.0]["customData"] != cd


def test_no_timeline_and_no_resolve(fake, launcher, tmp_path, capsys):
    r = fake.Resolve()
    assert launcher.main(resolve=r, headless=True, workdir=str(tmp_path)) == 2
    assert "open a project and a timeline" in capsys.readouterr().out
    fake.set_app(None)
    assert launcher.main(headless=True, workdir=str(tmp_path), scope={}) == 2


@pytest.mark.slow
def test_external_script_finds_resolve_through_davinciresolvescript(fake, launcher, tmp_path):
    """`python ShotFill.py` outside Resolve (Studio): no injected globals, scriptapp("Resolve")."""
    r, tl, _ = cut_23976(fake, tmp_path)
    fake.set_app(r)
    try:
        assert launcher.main(headless=True, workdir=str(tmp_path), scope={}, runner=inprocess_runner) == 0
    finally:
        fake.set_app(None)
    assert len(tl.layout()[0]) == 3


# --------------------------------------------------------------------------- the dialog


class _Widget:
    def __init__(self, kind, props=None, children=None):
        self.kind, self.children = kind, children or []
        self.__dict__.update(props or {})
        self.ID = (props or {}).get("ID")
        self.items: list[str] = []
        self.CurrentIndex = 0

    def AddItem(self, text):
        self.items.append(text)

    @property
    def CurrentText(self):
        return self.items[self.CurrentIndex]


class _UI:
    """Just enough of Fusion's UIManager for the launcher's dialog."""

    def __getattr__(self, kind):
        def make(*args):
            props = args[0] if args and isinstance(args[0], dict) else {}
            children = args[-1] if args and isinstance(args[-1], list) else []
            return _Widget(kind, props, children)
        return make


class _Handlers:
    def __init__(self):
        self.__dict__["by_id"] = {}

    def __getattr__(self, name):
        return self.by_id.setdefault(name, type("H", (), {})())


class _Window:
    def __init__(self, props, layout):
        self.props, self.On, self.shown = props, _Handlers(), False
        self.found = {}

        def walk(w):
            for c in w if isinstance(w, list) else [w]:
                if c.ID:
                    self.found[c.ID] = c
                walk(c.children)
        walk(layout)

    def GetItems(self):
        return self.found

    def Show(self):
        self.shown = True

    def Hide(self):
        self.shown = False


class _Dispatcher:
    def __init__(self, script):
        self.script, self.window = script, None

    def AddWindow(self, props, layout):
        self.window = _Window(props, layout)
        return self.window

    def RunLoop(self):
        self.script(self.window)

    def ExitLoop(self):
        pass


@pytest.mark.slow
def test_dialog_shows_placeholders_and_cost_then_runs_with_the_chosen_provider(fake, launcher, tmp_path):
    r, tl, _ = cut_23976(fake, tmp_path)
    seen = {}

    def user(win):
        items = win.GetItems()
        seen.update(listing=items["List"].PlainText, cost=items["Cost"].Text, providers=items["Provider"].items)
        items["Model"].Text = ""
        win.On.Start.Clicked(None)

    r.ui = _UI()
    scope = {"bmd": type("bmd", (), {"UIDispatcher": staticmethod(lambda ui: _Dispatcher(user))})}
    assert launcher.main(resolve=r, workdir=str(tmp_path), runner=inprocess_runner, scope=scope) == 0
    assert "01:00:01:00  V1  12 frames  a fox in snow" in seen["listing"]
    assert "lower third" in seen["listing"] and "local" in seen["providers"]
    assert seen["cost"].startswith("Estimated cost with local: 0.00")
    assert len(tl.layout()[0]) == 3


@pytest.mark.slow
def test_dialog_cancel_generates_nothing(fake, launcher, tmp_path):
    r, tl, _ = cut_23976(fake, tmp_path)
    r.ui = _UI()
    scope = {"bmd": type("bmd", (), {"UIDispatcher": staticmethod(
        lambda ui: _Dispatcher(lambda win: win.On.Cancel.Clicked(None)))})}
    assert launcher.main(resolve=r, workdir=str(tmp_path), runner=inprocess_runner, scope=scope) == 0
    assert not calls(r, "AppendToTimeline") and not (tmp_path / "run.json").exists()


# --------------------------------------------------------------------------- Resolve's Python


def test_python_launcher_is_standard_library_python_36():
    src = (SCRIPTS / "ShotFill.py").read_text()
    tree = ast.parse(src, feature_version=(3, 6))
    imported = {n.names[0].name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"io", "json", "os", "subprocess", "sys", "tempfile", "DaVinciResolveScript"}
    # 3.7+ only: keyword arguments and modules the launcher must not use
    for banned in ("capture_output", "text=True", "dataclass", "__future__"):
        assert banned not in src, banned
    # no f-strings at all (so no 3.8 "{x=}"), no walrus, no positional-only parameters
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.JoinedStr, ast.NamedExpr))]
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.arguments) and n.posonlyargs]


# --------------------------------------------------------------------------- Lua


def _lua_compile_check(path: Path) -> str:
    """Syntax-check with luac -p when installed, else compile (not run) with lupa's Lua 5.1."""
    for luac in ("luac5.1", "luac", "luajit"):
        exe = shutil.which(luac)
        if exe:
            import subprocess

            args = [exe, "-bl", str(path)] if luac == "luajit" else [exe, "-p", str(path)]
            proc = subprocess.run(args, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            return luac
    lupa = pytest.importorskip("lupa")
    from lupa import lua51

    lua = lua51.LuaRuntime()
    ok, err = lua.eval("function(src) local f, e = loadstring(src); return f ~= nil, e end")(path.read_text())
    assert ok, err
    return f"lupa {lupa.__version__} (Lua 5.1 loadstring)"


def test_lua_launcher_compiles_as_lua_51(tmp_path):
    used = _lua_compile_check(SCRIPTS / "ShotFill.lua")
    written = install.install(dest=tmp_path, launcher="lua")
    _lua_compile_check(written[0])
    print("checked with", used)


@pytest.mark.slow
def test_lua_launcher_fills_and_skips_through_the_same_engine(fake, tmp_path, monkeypatch):
    """ShotFill.lua under LuaJIT (as in Resolve), the real engine subprocess, the fake's objects."""
    from lua_bridge import LuaProxy, lua_runtime

    lua = lua_runtime()
    if lua is None:
        pytest.skip("lupa is not installed")
    monkeypatch.setenv("SHOTFILL_RESOLVE_MEDIA", str(tmp_path / "ShotFill"))
    (written,) = install.install(dest=tmp_path / "Scripts", launcher="lua")
    r, tl, slug = cut_23976(fake, tmp_path)
    lua.execute("SHOTFILL_NO_AUTORUN = true")
    lua.execute(written.read_text())
    main = lua.globals().ShotFillMain
    opts = lambda: lua.table_from({"resolve": LuaProxy(lua, r), "workdir": str(tmp_path)})  # noqa: E731
    assert main(opts()) == 0
    assert [t["name"] for t in tl.tracks] == ["Video 1", "Video 2", "ShotFill"]
    assert [(s, e) for _, s, e in tl.layout()[0]] == [(86400, 86424), (86424, 86436), (86436, 86460)]
    assert [(s, e) for _, s, e in tl.layout()[2]] == [(86440, 86450)]
    assert tl.GetMarkers()[24.0]["customData"].startswith("shotfill:done:")
    assert slug.GetMarkers()[2.0]["color"] == "Green"
    n = len(r.calls)
    assert main(opts()) == 0
    assert len(r.calls) == n


def test_lua_json_round_trip():
    from lua_bridge import lua_runtime

    lua = lua_runtime()
    if lua is None:
        pytest.skip("lupa is not installed")
    lua.execute("SHOTFILL_NO_AUTORUN = true")
    lua.execute((SCRIPTS / "ShotFill.lua").read_text())
    js = lua.globals().ShotFillJSON
    doc = {"a": [1, 2.5, "x\"y\\z\n\u00e9\u2603"], "b": {"c": True, "d": False}, "e": [], "n": 86400}
    text = js.encode(js.decode(json.dumps(doc)))
    assert json.loads(text) == {**doc, "e": []}
    assert js.decode('"\\ud83c\\udfac"') == "\U0001F3AC"
