"""ShotFill for DaVinci Resolve: fill the GEN: placeholders of the current timeline.

Installed by ``shotfill resolve install`` into Resolve's Scripts/Edit folder;
run it from Workspace > Scripts > ShotFill on the Edit page, or outside
Resolve (Studio, with external scripting on) as ``python ShotFill.py``.

This file runs in whatever Python Resolve found (3.6 or later), so it uses
only the standard library and Resolve's API.  It gathers the timeline, hands
the work to the installed ShotFill engine in a separate process (the
interpreter baked in below), shows its progress, and places the results:

* generated media goes into a ``ShotFill`` bin of the media pool;
* each clip is appended at its record frame on the placeholder's track when
  that range is empty, else on a track named ``ShotFill`` just above it;
* each filled GEN: marker turns green and gets ShotFill's custom data, so a
  second run skips it; a failed one keeps its place and gets the error in
  its note.

Nothing of the editor's is deleted or moved.  With no dialog available (the
free edition from 19.1, or run headless) it uses the config's defaults and
reports in Resolve's console.
"""

import io
import json
import os
import subprocess
import sys
import tempfile

# BEGIN BAKED: written by `shotfill resolve install`
SHOTFILL_PYTHON = None
SHOTFILL_PATHS = []
SHOTFILL_VERSION = None
# END BAKED

BIN_NAME = "ShotFill"
TRACK_NAME = "ShotFill"
PROTOCOL = 1
NOTE_ERROR_MARK = "\n[ShotFill] "


def log(message):
    print("[ShotFill] " + message)
    sys.stdout.flush()


def call(obj, name, *args):
    """``obj.name(*args)``, or None when this Resolve version has no such call."""
    fn = getattr(obj, name, None)
    if fn is None:
        return None
    try:
        return fn(*args)
    except Exception:  # a Resolve proxy raises for calls it does not know
        return None


# --------------------------------------------------------------------------- Resolve


def _default_module_dirs():
    if sys.platform == "darwin":
        return ["/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting/Modules"]
    if sys.platform.startswith("win"):
        base = os.environ.get("PROGRAMDATA", r"C:\ProgramData")
        return [os.path.join(base, "Blackmagic Design", "DaVinci Resolve", "Support", "Developer", "Scripting",
                             "Modules")]
    return ["/opt/resolve/Developer/Scripting/Modules", "/home/resolve/Developer/Scripting/Modules"]


def _script_module():
    try:
        import DaVinciResolveScript
        return DaVinciResolveScript
    except ImportError:
        pass
    api = os.environ.get("RESOLVE_SCRIPT_API")
    dirs = ([os.path.join(api, "Modules")] if api else []) + _default_module_dirs()
    for d in dirs:
        if os.path.isdir(d) and d not in sys.path:
            sys.path.append(d)
    try:
        import DaVinciResolveScript
        return DaVinciResolveScript
    except ImportError:
        return None


def get_resolve(explicit=None, scope=None):
    """The Resolve object: given, injected by Resolve (menu scripts), or through DaVinciResolveScript."""
    if explicit is not None:
        return explicit
    scope = globals() if scope is None else scope
    if scope.get("resolve") is not None:
        return scope["resolve"]
    bmd = scope.get("bmd")
    if bmd is not None:
        found = call(bmd, "scriptapp", "Resolve")
        if found is not None:
            return found
    module = _script_module()
    if module is not None:
        return call(module, "scriptapp", "Resolve")
    return None


def _markers(obj):
    raw = call(obj, "GetMarkers") or {}
    out = []
    for key in sorted(raw, key=float):
        m = raw[key] or {}
        out.append({"frame": float(key), "color": m.get("color") or "", "name": m.get("name") or "",
                    "note": m.get("note") or "", "duration": float(m.get("duration") or 1),
                    "custom_data": m.get("customData") or ""})
    return out


def gather(resolve, project, timeline):
    """The snapshot the engine reads, and the timeline items by (track, index)."""
    index = {}
    tracks = []
    count = int(call(timeline, "GetTrackCount", "video") or 0)
    for t in range(1, count + 1):
        items = []
        for i, item in enumerate(call(timeline, "GetItemListInTrack", "video", t) or [], 1):
            if item is None:
                continue
            mpi = call(item, "GetMediaPoolItem")
            items.append({
                "index": i, "name": call(item, "GetName") or "",
                "start": call(item, "GetStart"), "end": call(item, "GetEnd"),
                "left_offset": call(item, "GetLeftOffset"),
                "right_offset": call(item, "GetRightOffset"),
                "has_media_pool_item": mpi is not None,
                "file_path": (call(mpi, "GetClipProperty", "File Path") or "") if mpi is not None else "",
                "media_fps": (call(mpi, "GetClipProperty", "FPS") or "") if mpi is not None else "",
                "unique_id": call(item, "GetUniqueId") or "",
                "markers": _markers(item),
            })
            index[(t, i)] = item
        locked = call(timeline, "GetIsTrackLocked", "video", t)
        enabled = call(timeline, "GetIsTrackEnabled", "video", t)
        tracks.append({"index": t, "name": call(timeline, "GetTrackName", "video", t) or "",
                       "locked": bool(locked), "enabled": True if enabled is None else bool(enabled),
                       "items": items})
    snapshot = {
        "protocol": PROTOCOL, "launcher": "python",
        "product": call(resolve, "GetProductName") or "",
        "resolve_version": call(resolve, "GetVersionString") or "",
        "project": call(project, "GetName") or "Project",
        "timeline": {
            "name": call(timeline, "GetName") or "Timeline",
            "rate": call(timeline, "GetSetting", "timelineFrameRate") or "",
            "drop_frame": call(timeline, "GetSetting", "timelineDropFrameTimecode") or "0",
            "start_frame": call(timeline, "GetStartFrame") or 0,
            "start_timecode": call(timeline, "GetStartTimecode") or "",
            "end_frame": call(timeline, "GetEndFrame"),
            "width": call(timeline, "GetSetting", "timelineResolutionWidth") or None,
            "height": call(timeline, "GetSetting", "timelineResolutionHeight") or None,
            "video_tracks": tracks,
            "markers": _markers(timeline),
        },
        "settings": {},
    }
    return snapshot, index


# --------------------------------------------------------------------------- the engine


def engine_argv(command, snapshot_path, out_path):
    return [SHOTFILL_PYTHON or "", "-m", "shotfill", "resolve", command, "--in", snapshot_path, "--out", out_path]


def run_engine_process(argv, on_line):
    """Run the engine; feed each stdout line to ``on_line``; returns (exit code, stderr tail)."""
    if not argv[0] or not os.path.isfile(argv[0]):
        return 2, ("ShotFill's Python ({0}) was not found; install the launcher again with "
                   "`shotfill resolve install`".format(argv[0] or "not set"))
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)       # Resolve's own Python must not leak into ShotFill's
    paths = [p for p in SHOTFILL_PATHS if p]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONIOENCODING"] = "utf-8"
    flags = 0x08000000 if sys.platform.startswith("win") else 0   # CREATE_NO_WINDOW
    err = tempfile.TemporaryFile()
    proc = None
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                universal_newlines=True, creationflags=flags)
        for line in proc.stdout:
            on_line(line)
        rc = proc.wait()
        err.seek(0)
        tail = err.read().decode("utf-8", "replace")[-3000:]
    finally:
        # Stopped from Resolve's console: the engine (and so its ffmpeg) must not run on.
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        err.close()
    return rc, tail


def show_progress(line):
    line = line.strip()
    if not line:
        return
    try:
        ev = json.loads(line)
    except ValueError:
        log(line)
        return
    kind = ev.get("event")
    if kind == "start":
        log("{0} placeholder(s) to fill, {1} already filled".format(ev.get("placeholders"), ev.get("done")))
    elif kind == "progress":
        n = "[{0}/{1}] ".format(ev["n"], ev["of"]) if ev.get("of") else ""
        log("{0}{1} {2} {3}".format(n, ev.get("id"), ev.get("stage"), ev.get("detail") or ""))
    elif kind == "warning":
        log("warning: " + str(ev.get("message")))
    elif kind == "error":
        log("error: " + str(ev.get("message")))


class Engine(object):
    """Runs ``scan``/``run`` on a snapshot in a work folder; ``runner`` can be swapped (tests)."""

    def __init__(self, workdir, runner=None, on_line=None):
        self.workdir = workdir
        self.runner = runner or run_engine_process
        self.on_line = on_line or show_progress

    def __call__(self, command, snapshot):
        snap_path = os.path.join(self.workdir, "snapshot.json")
        out_path = os.path.join(self.workdir, command + ".json")
        try:
            with io.open(snap_path, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(snapshot))
            if os.path.exists(out_path):
                os.remove(out_path)
        except (IOError, OSError) as exc:   # a full temp disk: a message in the console, not a traceback
            return {"ok": False, "error": "could not write {0} ({1}); free some space there (or set TMPDIR "
                                          "to another folder) and run ShotFill again".format(
                                              snap_path, exc.strerror or exc)}
        rc, tail = self.runner(engine_argv(command, snap_path, out_path), self.on_line)
        if not os.path.isfile(out_path):
            return {"ok": False, "error": "the ShotFill engine stopped (exit {0}): {1}".format(rc, tail.strip())}
        with io.open(out_path, encoding="utf-8") as fh:
            return json.load(fh)


# --------------------------------------------------------------------------- placing


def _norm(path):
    return os.path.normcase(os.path.normpath(path or ""))


def shotfill_bin(pool):
    root = pool.GetRootFolder()
    for folder in call(root, "GetSubFolderList") or []:
        if call(folder, "GetName") == BIN_NAME:
            return folder
    return pool.AddSubFolder(root, BIN_NAME)


def import_media(pool, paths):
    """Media pool items by normalised path, imported into the ShotFill bin (reusing ones already there)."""
    folder = shotfill_bin(pool)
    if folder is None:
        return {}
    found = {}
    for clip in call(folder, "GetClipList") or []:
        found[_norm(call(clip, "GetClipProperty", "File Path"))] = clip
    todo = [p for p in paths if _norm(p) not in found]
    if todo:
        previous = call(pool, "GetCurrentFolder")
        pool.SetCurrentFolder(folder)
        try:
            for clip in pool.ImportMedia(todo) or []:
                found[_norm(call(clip, "GetClipProperty", "File Path"))] = clip
        finally:
            if previous is not None:
                pool.SetCurrentFolder(previous)
    return found


def range_free(timeline, track, start, end):
    for item in call(timeline, "GetItemListInTrack", "video", track) or []:
        s, e = call(item, "GetStart"), call(item, "GetEnd")
        if s is not None and e is not None and s < end and start < e:
            return False
    return True


def _track_names(timeline):
    count = int(call(timeline, "GetTrackCount", "video") or 0)
    return [call(timeline, "GetTrackName", "video", i) for i in range(1, count + 1)]


def add_track_above(timeline, below, track_map):
    """A new video track named ShotFill just above track ``below`` (on top when the version cannot insert)."""
    before = _track_names(timeline)
    ok = call(timeline, "AddTrack", "video", {"index": below + 1}) if below < len(before) else None
    after = _track_names(timeline)
    if not ok or len(after) != len(before) + 1:
        if len(after) == len(before):
            call(timeline, "AddTrack", "video")
            after = _track_names(timeline)
        if len(after) != len(before) + 1:
            return None
    position = len(after)
    for i, name in enumerate(before):
        if after[i] != name:
            position = i + 1
            break
    for key in list(track_map):
        if track_map[key] >= position:
            track_map[key] += 1
    call(timeline, "SetTrackName", "video", position, TRACK_NAME)
    return position


def place(timeline, pool, clip, result, track_map, clips_by_path=None):
    """Append one clip at its record frame; returns (track it went on, None) or (None, error)."""
    rec, dur = int(result["record_frame"]), int(result["duration"])
    track = track_map.get(result["track_index"], result["track_index"])
    if call(timeline, "GetIsTrackLocked", "video", track):
        return None, "video track {0} is locked".format(track)
    if range_free(timeline, track, rec, rec + dur):
        target = track
    else:
        names = _track_names(timeline)
        above = track + 1
        if above <= len(names) and names[above - 1] == TRACK_NAME and range_free(timeline, above, rec, rec + dur) \
                and not call(timeline, "GetIsTrackLocked", "video", above):
            target = above
        else:
            target = add_track_above(timeline, track, track_map)
            if target is None:
                return None, "could not add a ShotFill track above video track {0}".format(track)
    # The media frames the clip shows: the file can be longer than the hole (handles, a neighbour's own
    # media), and endFrame is one past the last frame, as Resolve 21 takes it.
    src = int(result.get("source_in") or 0)
    info = {"mediaPoolItem": clip, "startFrame": src, "endFrame": src + dur, "mediaType": 1,
            "trackIndex": target, "recordFrame": rec}
    items = pool.AppendToTimeline([info]) or []
    item = items[0] if items else None
    start = call(item, "GetStart") if item is not None else None
    if start is None:
        return None, "Resolve did not place the clip at frame {0} on video track {1}".format(rec, target)
    end = call(item, "GetEnd")
    if int(start) != rec or (end is not None and int(end) != rec + dur):
        log("warning: {0} landed at {1}-{2}, not {3}-{4}".format(result["id"], start, end, rec, rec + dur))
    add_takes(item, result, clips_by_path or {})
    return target, None


def add_takes(item, result, clips):
    """The other takes on the placed item, for Resolve's Take Selector; the placed one stays selected."""
    paths = result.get("takes") or []
    if len(paths) < 2:
        return
    dur = int(result["duration"])
    src = int(result.get("source_in") or 0)
    added = 0
    for path in paths[1:]:
        clip = clips.get(_norm(path))
        # The same media frames as the placed take: every take of a placeholder is conformed alike.
        if clip is not None and call(item, "AddTake", clip, src, src + dur):
            added += 1
        else:
            log("warning: could not add {0} as a take of {1}".format(os.path.basename(path), result["id"]))
    if added:
        call(item, "SelectTakeByIndex", 1)


def _frame(value):
    value = float(value)
    return int(value) if value == int(value) else value


def update_marker(owner, update):
    """Apply the engine's marker update; custom data in place when nothing else changes."""
    if owner is None or update is None:
        return False
    frame = _frame(update["frame"])
    args = (update["color"], update["name"], update["note"], _frame(update["duration"]), update["custom_data"])
    if update.get("action") == "add":
        return bool(owner.AddMarker(frame, *args))
    if update["color"] == update.get("old_color") and update["note"] == update.get("old_note"):
        return bool(owner.UpdateMarkerCustomData(frame, update["custom_data"]))
    owner.DeleteMarkerAtFrame(frame)
    if owner.AddMarker(frame, *args):
        return True
    owner.AddMarker(frame, update.get("old_color") or update["color"], update["name"], update.get("old_note", ""),
                    _frame(update["duration"]), update.get("old_custom_data", ""))
    return False


def failed_update(update, error):
    """A marker update carrying ``error`` (placing failed after the engine said 'filled')."""
    if update is None:
        return None
    update = dict(update)
    old = update.get("old_note", "").split(NOTE_ERROR_MARK)[0]
    update.update(color=update.get("old_color") or update["color"], custom_data="shotfill:failed",
                  note=(old + NOTE_ERROR_MARK + "failed: " + error) if update.get("action") != "add"
                  else "failed: " + error)
    return update


def apply_results(project, timeline, report, index):
    """Import, place, update markers; returns (filled, failed) lists of (result, message)."""
    pool = project.GetMediaPool()
    results = report.get("placeholders") or []
    owners = {}
    for r in results:
        m = r.get("marker")
        if m:
            owners[r["id"]] = timeline if m["owner"] == "timeline" else index.get((m.get("track"), m.get("item")))
    filled = [r for r in results if r["status"] == "filled"]
    # Every take goes into the ShotFill bin; the first is placed, the others become its takes.
    clips = import_media(pool, [p for r in filled for p in [r["media_path"]] + (r.get("takes") or [])[1:]]) \
        if filled else {}
    track_map = {}
    done, failed = [], []
    for r in sorted(filled, key=lambda r: (r["record_frame"], r["track_index"])):
        clip = clips.get(_norm(r["media_path"]))
        target, error = (None, "Resolve could not import " + r["media_path"]) if clip is None else \
            place(timeline, pool, clip, r, track_map, clips)
        if error:
            failed.append((r, error))
            update_marker(owners.get(r["id"]), failed_update(r.get("marker"), error))
            continue
        done.append((r, "video track {0}".format(target)))
        if r.get("marker") and not update_marker(owners.get(r["id"]), r["marker"]):
            log("warning: could not update the marker of " + r["id"])
    for r in results:
        if r["status"] == "failed":
            failed.append((r, r.get("error") or "failed"))
            update_marker(owners.get(r["id"]), r.get("marker"))
    return done, failed


# --------------------------------------------------------------------------- dialog


def get_ui(resolve, scope=None):
    """(ui, dispatcher) when Resolve can show a script dialog, else None (free edition 19.1+, headless)."""
    scope = globals() if scope is None else scope
    fusion = call(resolve, "Fusion")
    ui = getattr(fusion, "UIManager", None) if fusion is not None else None
    if ui is None:
        return None
    bmd = scope.get("bmd") or _script_module()
    dispatcher = call(bmd, "UIDispatcher", ui) if bmd is not None else None
    return (ui, dispatcher) if dispatcher is not None else None


def _cost_text(scan, provider):
    total, unknown, refused = 0.0, 0, 0
    for p in scan.get("placeholders") or []:
        plan = (p.get("plans") or {}).get(provider) or {}
        if plan.get("refused"):
            refused += 1
        elif plan.get("estimated_cost") is None:
            unknown += 1
        else:
            # every take is paid for (total_cost); engines before takes gave estimated_cost alone
            total += float(plan.get("total_cost") if plan.get("total_cost") is not None else plan["estimated_cost"])
    text = "Estimated cost with {0}: {1:.2f}".format(provider, total)
    if unknown:
        text += " (+{0} unpriced)".format(unknown)
    if refused:
        text += "; {0} placeholder(s) refused by this provider".format(refused)
    return text


def _listing(scan):
    lines = []
    for p in scan.get("placeholders") or []:
        line = "{0}  {1}  {2} frames  {3}".format(p["timecode"], p["track"], p["duration"], p["prompt"])
        if p.get("error"):
            line += "   PROBLEM: " + p["error"]
        lines.append(line)
    if scan.get("done"):
        lines.append("already filled: {0}".format(len(scan["done"])))
    for w in scan.get("warnings") or []:
        lines.append("warning: " + w)
    return "\n".join(lines) or "No GEN: placeholders on this timeline."


def dialog(ui_pair, scan):
    """Provider, model and Start; returns the run settings, or None when cancelled."""
    ui, disp = ui_pair
    providers = [p["name"] for p in scan.get("providers") or []] or ["local"]
    default = scan.get("default_provider") or providers[0]
    win = disp.AddWindow({"ID": "ShotFillWin", "WindowTitle": "ShotFill", "Geometry": [200, 200, 760, 440]}, [
        ui.VGroup({"Spacing": 6}, [
            ui.Label({"ID": "Title", "Weight": 0,
                      "Text": "{0}: {1} placeholder(s)".format(scan.get("timeline"),
                                                              len(scan.get("placeholders") or []))}),
            ui.TextEdit({"ID": "List", "ReadOnly": True, "PlainText": _listing(scan)}),
            ui.HGroup({"Weight": 0}, [
                ui.Label({"Text": "Provider", "Weight": 0}), ui.ComboBox({"ID": "Provider"}),
                ui.Label({"Text": "Model", "Weight": 0}),
                ui.LineEdit({"ID": "Model", "PlaceholderText": "the provider's default"}),
            ]),
            ui.Label({"ID": "Cost", "Weight": 0, "Text": _cost_text(scan, default)}),
            ui.HGroup({"Weight": 0}, [
                ui.HGap(), ui.Button({"ID": "Cancel", "Text": "Cancel"}),
                ui.Button({"ID": "Start", "Text": "Fill placeholders"}),
            ]),
        ]),
    ])
    items = win.GetItems()
    for name in providers:
        items["Provider"].AddItem(name)
    items["Provider"].CurrentIndex = providers.index(default) if default in providers else 0
    chosen = {}

    def on_provider(ev):
        items["Cost"].Text = _cost_text(scan, items["Provider"].CurrentText)

    def on_start(ev):
        chosen.update(provider=items["Provider"].CurrentText, model=items["Model"].Text or None)
        disp.ExitLoop()

    def on_close(ev):
        disp.ExitLoop()

    win.On.Provider.CurrentIndexChanged = on_provider
    win.On.Start.Clicked = on_start
    win.On.Cancel.Clicked = on_close
    win.On.ShotFillWin.Close = on_close
    if not scan.get("placeholders"):
        items["Start"].Enabled = False
    win.Show()
    disp.RunLoop()
    win.Hide()
    return chosen or None


# --------------------------------------------------------------------------- main


def main(resolve=None, headless=None, runner=None, workdir=None, scope=None):
    """Fill the current timeline's placeholders; 0 all filled, 1 some failed, 2 nothing could be done."""
    resolve = get_resolve(resolve, scope)
    if resolve is None:
        log("cannot reach DaVinci Resolve: run this from Workspace > Scripts inside Resolve, or enable "
            "external scripting (Studio: Preferences > System > General)")
        return 2
    manager = call(resolve, "GetProjectManager")
    project = call(manager, "GetCurrentProject") if manager is not None else None
    timeline = call(project, "GetCurrentTimeline") if project is not None else None
    if timeline is None:
        log("open a project and a timeline first")
        return 2
    try:
        workdir = workdir or tempfile.mkdtemp(prefix="shotfill-resolve-")
    except (IOError, OSError) as exc:
        log("error: cannot make a work folder in {0} ({1}); free some space there (or set TMPDIR to another "
            "folder) and run ShotFill again".format(tempfile.gettempdir(), exc.strerror or exc))
        return 2
    engine = Engine(workdir, runner=runner)
    snapshot, index = gather(resolve, project, timeline)
    log("timeline '{0}': {1} video track(s); ShotFill {2}".format(
        snapshot["timeline"]["name"], len(snapshot["timeline"]["video_tracks"]), SHOTFILL_VERSION or "?"))

    ui_pair = None if headless else get_ui(resolve, scope)
    if ui_pair is not None:
        scan = engine("scan", snapshot)
        if not scan.get("ok", True):
            log("error: " + str(scan.get("error")))
            return 2
        chosen = dialog(ui_pair, scan)
        if chosen is None:
            log("cancelled; nothing was generated")
            return 0
        snapshot["settings"] = chosen
    else:
        log("no dialog available: running with the config's defaults")

    report = engine("run", snapshot)
    if not report.get("ok", False):
        log("error: " + str(report.get("error")))
        return 2
    done, failed = apply_results(project, timeline, report, index)
    for r, where in done:
        log("filled {0} at {1} on {2}: {3}".format(r["id"], r["timecode"], where, r["media_path"]))
    for r, error in failed:
        log("FAILED {0} at {1}: {2}".format(r["id"], r["timecode"], error))
    log("{0} filled, {1} failed, {2} already filled earlier; media in {3}".format(
        len(done), len(failed), len(report.get("done") or []), report.get("media_dir")))
    return 1 if failed else 0


if __name__ == "__main__":
    # As a Resolve menu script this module is __main__ too; sys.exit would end Resolve's script host.
    _code = main()
    if "resolve" not in globals() and "bmd" not in globals():
        sys.exit(_code)
