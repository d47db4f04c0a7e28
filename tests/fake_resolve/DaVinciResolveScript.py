"""A fake ``DaVinciResolveScript``: the calls ShotFill's launchers use, with state.

Names, arguments, return shapes and frame conventions follow Resolve's
scripting README (20.x) and what is reported of real behaviour:

* ``Timeline.GetStartFrame()`` is absolute (01:00:00:00 at 24 -> 86400);
* timeline marker keys (``GetMarkers``, ``AddMarker``, ``DeleteMarkerAtFrame``)
  are offsets from the timeline start, returned as floats;
* ``TimelineItem.GetStart()``/``GetEnd()`` are absolute; item marker keys count
  in the item's media frames (the item's first frame is ``GetLeftOffset()``);
  ``GetLeftOffset()``/``GetRightOffset()`` are "the maximum extension by frame for clip from left/right
  side": the media's frames before the item's first frame and past its last (media frames − left
  offset − duration), so an item showing all of its clip has 0 and 0;
* ``MediaPool.AppendToTimeline([{clipInfo}])``: ``recordFrame`` absolute,
  ``trackIndex`` 1-based, ``startFrame``/``endFrame`` media frames with
  ``endFrame`` exclusive (Studio 21.0), clamped to the media; an occupied range
  or a locked track gives ``[]``;
* ``AddMarker`` on a frame that already has a marker fails (``False``), and only
  custom data can be changed in place;
* ``GetSetting`` returns strings; ``GetItemListInTrack`` and track indexes are 1-based.
* take selector (``TimelineItem.AddTake(mediaPoolItem, startFrame, endFrame)``): the first call makes
  the item a take selector whose take 1 is the item's own clip; ``startFrame``/``endFrame`` are media
  frames like ``AppendToTimeline``'s (optional: the full clip); ``GetTakesCount()`` and
  ``GetSelectedTakeIndex()`` are 0 for a plain item; ``GetTakeByIndex(idx)`` gives ``startFrame``,
  ``endFrame`` and ``mediaPoolItem``; ``SelectTakeByIndex(idx)`` (1-based) shows that take;
  ``FinalizeTake()`` collapses the selector to the selected take (``False`` when there is none).

Tests put this folder on ``sys.path`` and import it as ``DaVinciResolveScript``;
``scriptapp("Resolve")`` returns whatever :func:`set_app` installed.
Everything that changes the timeline is logged in ``Resolve.calls``.
"""

from __future__ import annotations

import itertools
import os
import subprocess

COLORS = ("Blue", "Cyan", "Green", "Yellow", "Red", "Pink", "Purple", "Fuchsia", "Rose", "Lavender", "Sky",
          "Mint", "Lemon", "Sand", "Cocoa", "Cream")

_app = None
_ids = itertools.count(1)


def set_app(app) -> None:
    global _app
    _app = app


def scriptapp(name: str):
    return _app if name == "Resolve" else None


def _media_frames(path: str) -> tuple[int, str]:
    """Frame count and rate of a video file, as Resolve would see it (ffprobe)."""
    from shotfill.media import tools

    out = subprocess.run([tools.ffprobe_path(), "-v", "error", "-select_streams", "v:0", "-count_frames",
                          "-show_entries", "stream=nb_read_frames,r_frame_rate", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout.strip().split(",")
    rate, frames = out[0], out[1]
    num, den = (int(x) for x in rate.split("/"))
    fps = "%.3f" % (num / den) if den != 1 else str(num)
    return int(frames), fps.rstrip("0").rstrip(".") if "." in fps else fps


class _Markers:
    """Markers keyed by frame: one per frame, custom data updatable in place."""

    def __init__(self, log, owner: str) -> None:
        self._m: dict[float, dict] = {}
        self._log = log
        self._owner = owner

    def GetMarkers(self) -> dict:
        return {k: dict(v) for k, v in sorted(self._m.items())}

    def AddMarker(self, frameId, color, name, note, duration, customData="") -> bool:
        key = float(frameId)
        if key in self._m or color not in COLORS or key < 0 or float(duration) < 1:
            return False
        self._m[key] = {"color": color, "duration": float(duration), "note": note, "name": name,
                        "customData": customData}
        self._log.append((self._owner, "AddMarker", key, color, name, note, float(duration), customData))
        return True

    def GetMarkerByCustomData(self, customData) -> dict:
        for v in self._m.values():
            if v["customData"] == customData:
                return dict(v)
        return {}

    def UpdateMarkerCustomData(self, frameId, customData) -> bool:
        key = float(frameId)
        if key not in self._m:
            return False
        self._m[key]["customData"] = customData
        self._log.append((self._owner, "UpdateMarkerCustomData", key, customData))
        return True

    def GetMarkerCustomData(self, frameId) -> str:
        return self._m.get(float(frameId), {}).get("customData", "")

    def DeleteMarkerAtFrame(self, frameNum) -> bool:
        ok = self._m.pop(float(frameNum), None) is not None
        self._log.append((self._owner, "DeleteMarkerAtFrame", float(frameNum), ok))
        return ok

    def DeleteMarkersByColor(self, color) -> bool:
        keys = [k for k, v in self._m.items() if color == "All" or v["color"] == color]
        for k in keys:
            del self._m[k]
        self._log.append((self._owner, "DeleteMarkersByColor", color))
        return bool(keys)

    def DeleteMarkerByCustomData(self, customData) -> bool:
        for k, v in list(self._m.items()):
            if v["customData"] == customData:
                del self._m[k]
                return True
        return False


class MediaPoolItem:
    def __init__(self, path: str, frames: int, fps: str, name: str | None = None) -> None:
        self.path, self.frames, self.fps = path, frames, fps
        self.name = name or os.path.basename(path)
        self.id = f"mpi-{next(_ids)}"

    def GetName(self) -> str:
        return self.name

    def GetMediaId(self) -> str:
        return self.id

    def GetUniqueId(self) -> str:
        return self.id

    def GetClipProperty(self, propertyName=None):
        props = {"File Path": self.path, "FPS": self.fps, "Frames": str(self.frames), "Clip Name": self.name,
                 "Type": "Video", "Start": "0", "End": str(self.frames - 1)}
        return props if propertyName is None else props.get(propertyName, "")


class Folder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.clips: list[MediaPoolItem] = []
        self.subfolders: list[Folder] = []
        self.id = f"folder-{next(_ids)}"

    def GetName(self) -> str:
        return self.name

    def GetClipList(self) -> list:
        return list(self.clips)

    def GetSubFolderList(self) -> list:
        return list(self.subfolders)

    def GetUniqueId(self) -> str:
        return self.id


class TimelineItem(_Markers):
    def __init__(self, timeline, track: int, start: int, end: int, *, media: MediaPoolItem | None = None,
                 name: str = "", left_offset: int = 0) -> None:
        super().__init__(timeline.resolve.calls, f"item:{name or (media.name if media else '')}")
        self.timeline, self.track = timeline, track
        self.start, self.end, self.media, self.left_offset = start, end, media, left_offset
        self.name = name or (media.GetName() if media else "")
        self.id = f"item-{next(_ids)}"
        #: the take selector's takes (empty: a plain item) and the 1-based selected one
        self.takes: list[dict] = []
        self.selected = 0

    def GetName(self) -> str:
        return self.name

    def GetStart(self, subframe_precision=False):
        return self.start

    def GetEnd(self, subframe_precision=False):
        return self.end

    def GetDuration(self, subframe_precision=False):
        return self.end - self.start

    def GetLeftOffset(self, subframe_precision=False):
        return self.left_offset

    def GetRightOffset(self, subframe_precision=False):
        return (self.media.frames - self.left_offset - (self.end - self.start)) if self.media else 0

    def GetMediaPoolItem(self):
        return self.media

    # -- take selector ------------------------------------------------------------------------

    def AddTake(self, mediaPoolItem, startFrame=None, endFrame=None) -> bool:
        self.timeline.resolve.calls.append(("item", "AddTake", self.name, getattr(mediaPoolItem, "path", None),
                                            startFrame, endFrame))
        if not isinstance(mediaPoolItem, MediaPoolItem):
            return False
        s0 = 0 if startFrame is None else int(startFrame)
        s1 = mediaPoolItem.frames if endFrame is None else int(endFrame)
        if self.timeline.resolve.end_frame_inclusive and endFrame is not None:
            s1 = min(s1 + 1, mediaPoolItem.frames)
        if not 0 <= s0 < s1 <= mediaPoolItem.frames:
            return False
        if not self.takes:
            self.takes = [{"startFrame": self.left_offset, "endFrame": self.left_offset + self.end - self.start,
                           "mediaPoolItem": self.media}]
            self.selected = 1
        self.takes.append({"startFrame": s0, "endFrame": s1, "mediaPoolItem": mediaPoolItem})
        return True

    def GetTakesCount(self) -> int:
        return len(self.takes)

    def GetSelectedTakeIndex(self) -> int:
        return self.selected if self.takes else 0

    def GetTakeByIndex(self, idx):
        return dict(self.takes[idx - 1]) if 1 <= int(idx) <= len(self.takes) else None

    def SelectTakeByIndex(self, idx) -> bool:
        self.timeline.resolve.calls.append(("item", "SelectTakeByIndex", self.name, idx))
        if not self.takes or not 1 <= int(idx) <= len(self.takes):
            return False
        self.selected = int(idx)
        take = self.takes[self.selected - 1]
        self.media, self.left_offset = take["mediaPoolItem"], take["startFrame"]
        return True

    def FinalizeTake(self) -> bool:
        self.timeline.resolve.calls.append(("item", "FinalizeTake", self.name))
        if not self.takes:
            return False
        self.SelectTakeByIndex(self.selected)
        self.takes, self.selected = [], 0
        return True

    def GetUniqueId(self) -> str:
        return self.id

    def GetTrackTypeAndIndex(self) -> list:
        return ["video", self.timeline.tracks.index(self.track_obj()) + 1]

    def track_obj(self):
        return next(t for t in self.timeline.tracks if self in t["items"])


class Timeline(_Markers):
    def __init__(self, resolve, name: str, *, rate: str, start_frame: int, start_timecode: str,
                 drop_frame: bool = False, width: int = 320, height: int = 180, tracks: int = 1) -> None:
        super().__init__(resolve.calls, "timeline")
        self.resolve = resolve
        self.name, self.rate, self.start_frame, self.start_timecode = name, rate, start_frame, start_timecode
        self.drop_frame, self.width, self.height = drop_frame, width, height
        self.tracks = [{"name": f"Video {i + 1}", "locked": False, "items": []} for i in range(tracks)]
        self.id = f"timeline-{next(_ids)}"

    # --- what the launchers call
    def GetName(self) -> str:
        return self.name

    def GetUniqueId(self) -> str:
        return self.id

    def GetStartFrame(self) -> int:
        return self.start_frame

    def GetEndFrame(self) -> int:
        ends = [it.end for t in self.tracks for it in t["items"]]
        return max(ends) if ends else self.start_frame

    def GetStartTimecode(self) -> str:
        return self.start_timecode

    def GetSetting(self, settingName=None):
        s = {"timelineFrameRate": self.rate, "timelineDropFrameTimecode": "1" if self.drop_frame else "0",
             "timelineResolutionWidth": str(self.width), "timelineResolutionHeight": str(self.height)}
        return s if settingName is None else s.get(settingName, "")

    def GetTrackCount(self, trackType) -> int:
        return len(self.tracks) if trackType == "video" else 0

    def GetTrackName(self, trackType, trackIndex) -> str:
        return self.tracks[trackIndex - 1]["name"] if trackType == "video" and 1 <= trackIndex <= len(self.tracks) else ""

    def SetTrackName(self, trackType, trackIndex, name) -> bool:
        if trackType != "video" or not 1 <= trackIndex <= len(self.tracks):
            return False
        self.tracks[trackIndex - 1]["name"] = name
        self.resolve.calls.append(("timeline", "SetTrackName", trackIndex, name))
        return True

    def AddTrack(self, trackType, options=None) -> bool:
        if trackType != "video":
            return False
        track = {"name": f"Video {len(self.tracks) + 1}", "locked": False, "items": []}
        index = options.get("index") if isinstance(options, dict) else None
        if self.resolve.add_track_index_supported and isinstance(index, int) and 1 <= index <= len(self.tracks):
            self.tracks.insert(index - 1, track)
        else:
            self.tracks.append(track)
        self.resolve.calls.append(("timeline", "AddTrack", trackType, options))
        return True

    def GetIsTrackLocked(self, trackType, trackIndex) -> bool:
        return bool(self.tracks[trackIndex - 1]["locked"])

    def SetTrackLock(self, trackType, trackIndex, locked) -> bool:
        self.tracks[trackIndex - 1]["locked"] = bool(locked)
        return True

    def GetItemListInTrack(self, trackType, index) -> list:
        if trackType != "video" or not 1 <= index <= len(self.tracks):
            return []
        return sorted(self.tracks[index - 1]["items"], key=lambda it: it.start)

    def DeleteClips(self, items, ripple=False) -> bool:
        self.resolve.calls.append(("timeline", "DeleteClips", len(items)))
        for t in self.tracks:
            t["items"] = [it for it in t["items"] if it not in items]
        return True

    def Export(self, fileName, exportType, exportSubtype=None) -> bool:
        return False

    # --- for tests: the editor's cut
    def put(self, track: int, offset: int, duration: int, *, media: MediaPoolItem | None = None,
            name: str = "", left_offset: int = 0) -> TimelineItem:
        while len(self.tracks) < track:
            self.tracks.append({"name": f"Video {len(self.tracks) + 1}", "locked": False, "items": []})
        start = self.start_frame + offset
        item = TimelineItem(self, track, start, start + duration, media=media, name=name, left_offset=left_offset)
        self.tracks[track - 1]["items"].append(item)
        return item

    def occupied(self, track: int, start: int, end: int) -> bool:
        return any(it.start < end and start < it.end for it in self.tracks[track - 1]["items"])

    def layout(self) -> list[list[tuple[str, int, int]]]:
        """Each track's (name, start, end), for asserting what ended up where."""
        return [[(it.name, it.start, it.end) for it in sorted(t["items"], key=lambda it: it.start)]
                for t in self.tracks]


class MediaPool:
    def __init__(self, resolve) -> None:
        self.resolve = resolve
        self.root = Folder("Master")
        self.current = self.root

    def GetRootFolder(self) -> Folder:
        return self.root

    def GetCurrentFolder(self) -> Folder:
        return self.current

    def SetCurrentFolder(self, folder) -> bool:
        self.current = folder
        return True

    def AddSubFolder(self, folder, name) -> Folder:
        sub = Folder(name)
        folder.subfolders.append(sub)
        self.resolve.calls.append(("pool", "AddSubFolder", folder.name, name))
        return sub

    def ImportMedia(self, items) -> list:
        out = []
        for p in items:
            if not isinstance(p, str) or not os.path.isfile(p):
                continue
            frames, fps = _media_frames(p)
            mpi = MediaPoolItem(p, frames, fps)
            self.current.clips.append(mpi)
            out.append(mpi)
        self.resolve.calls.append(("pool", "ImportMedia", self.current.name, list(items)))
        return out

    def AppendToTimeline(self, *clips):
        infos = clips[0] if len(clips) == 1 and isinstance(clips[0], list) else list(clips)
        tl = self.resolve.project.current
        out = []
        for info in infos:
            if not isinstance(info, dict):
                return []
            mpi = info.get("mediaPoolItem")
            track = int(info.get("trackIndex", 1))
            src0 = int(info.get("startFrame", 0))
            src1 = min(int(info.get("endFrame", mpi.frames)), mpi.frames)
            if self.resolve.end_frame_inclusive:
                src1 = min(src1 + 1, mpi.frames)
            rec = int(info.get("recordFrame", tl.GetEndFrame()))
            n = src1 - src0
            self.resolve.calls.append(("pool", "AppendToTimeline", dict(info, mediaPoolItem=mpi.path)))
            if not 1 <= track <= len(tl.tracks) or tl.tracks[track - 1]["locked"] or n <= 0 \
                    or tl.occupied(track, rec, rec + n):
                return []
            item = TimelineItem(tl, track, rec, rec + n, media=mpi, left_offset=src0)
            tl.tracks[track - 1]["items"].append(item)
            out.append(item)
        return out


class Project:
    def __init__(self, resolve, name: str) -> None:
        self.resolve, self.name = resolve, name
        self.pool = MediaPool(resolve)
        self.timelines: list[Timeline] = []
        self.current: Timeline | None = None

    def GetName(self) -> str:
        return self.name

    def GetMediaPool(self) -> MediaPool:
        return self.pool

    def GetCurrentTimeline(self):
        return self.current

    def SetCurrentTimeline(self, timeline) -> bool:
        self.current = timeline
        return True

    def GetTimelineCount(self) -> int:
        return len(self.timelines)

    def GetTimelineByIndex(self, idx):
        return self.timelines[idx - 1]

    def GetSetting(self, settingName=None):
        return self.current.GetSetting(settingName) if self.current else ""

    # for tests
    def new_timeline(self, name: str, **kw) -> Timeline:
        tl = Timeline(self.resolve, name, **kw)
        self.timelines.append(tl)
        self.current = tl
        return tl


class ProjectManager:
    def __init__(self, project) -> None:
        self.project = project

    def GetCurrentProject(self):
        return self.project

    def SaveProject(self) -> bool:
        return True


class Fusion:
    def __init__(self, ui=None) -> None:
        self.UIManager = ui


class Resolve:
    EXPORT_OTIO = 27   # present from 18.5; the launchers do not rely on it
    EXPORT_EDL = 1
    EXPORT_NONE = 0

    def __init__(self, *, product: str = "DaVinci Resolve Studio", version=(19, 1, 3, 7, ""),
                 project: str = "Fake Project") -> None:
        self.calls: list[tuple] = []
        self.product, self.version = product, list(version)
        self.project = Project(self, project)
        self.manager = ProjectManager(self.project)
        self.ui = None
        #: 19.0+: AddTrack("video", {"index": n}) inserts at n
        self.add_track_index_supported = True
        #: some versions took endFrame as the last frame, not one past it
        self.end_frame_inclusive = False
        self.page = "edit"

    def GetProjectManager(self) -> ProjectManager:
        return self.manager

    def GetProductName(self) -> str:
        return self.product

    def GetVersion(self) -> list:
        return list(self.version)

    def GetVersionString(self) -> str:
        major, minor, patch, build, suffix = self.version
        return f"{major}.{minor}.{patch}{suffix}.{build}"

    def OpenPage(self, pageName) -> bool:
        self.page = pageName
        return True

    def GetCurrentPage(self) -> str:
        return self.page

    def Fusion(self) -> Fusion:
        return Fusion(self.ui)
