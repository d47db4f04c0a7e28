"""The JSON the Resolve launchers and the engine exchange.

In: a **snapshot** of the current timeline, gathered through Resolve's API
exactly as Resolve reports it (frame numbers untouched: item ``start``/``end``
absolute, marker ``frame`` as the marker's key).  Out: a **scan report**
(placeholders, plans and costs for the dialog) or **results** (per
placeholder: the media made, where it goes, and how to update its marker).

The launchers are small on purpose: every decision that does not need the
live timeline (what a placeholder is, its record frame, the marker's new
colour, note and custom data) is made here, once, for both the Python and
the Lua launcher.  Models accept what Lua's JSON gives (``[]`` for an empty
object, numbers for booleans) and ignore fields they do not know, so a newer
launcher can talk to an older engine.
"""

from __future__ import annotations

import typing
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: bump when a field changes meaning; both launchers send it
PROTOCOL = 1

#: custom data ShotFill writes on markers: ``shotfill:done:<request hash 16>:<text hash 8>``
DONE_PREFIX = "shotfill:done:"
FAILED_PREFIX = "shotfill:failed"
#: what starts the error ShotFill appends to a failed marker's note (stripped when read back)
NOTE_ERROR_MARK = "\n[ShotFill] "


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _lua_empty(cls, data: Any) -> Any:
        """Lua cannot tell ``[]`` from ``{}``: accept either where the other is meant."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            key = field.alias or name
            value = out.get(key, out.get(name))
            origin = typing.get_origin(field.annotation)
            if origin is typing.Union:
                args = [a for a in typing.get_args(field.annotation) if a is not type(None)]
                origin = typing.get_origin(args[0]) if args else None
            if origin is list and value == {}:
                out[key] = []
            elif origin is dict and value == []:
                out[key] = {}
        return out


def _to_bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)


class SnapMarker(_Lenient):
    """A marker as ``GetMarkers()`` gives it; ``frame`` is its key, unchanged."""

    frame: float
    color: str = ""
    name: str = ""
    note: str = ""
    duration: float = 1
    custom_data: str = Field(default="", alias="custom_data")

    @model_validator(mode="before")
    @classmethod
    def _custom_data(cls, data: Any) -> Any:
        if isinstance(data, dict) and "customData" in data and "custom_data" not in data:
            data = dict(data)
            data["custom_data"] = data.pop("customData")
        return data

    @field_validator("name", "note", "color", "custom_data", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        return "" if v is None else str(v)


class SnapItem(_Lenient):
    """A video item: ``start``/``end`` absolute (``GetStart()``/``GetEnd()``), ``index`` 1-based in its track."""

    index: int
    name: str = ""
    start: float
    end: float
    #: ``GetLeftOffset()``: frames of the media before the item's first frame
    left_offset: Optional[float] = None
    #: ``GetRightOffset()``: frames of the media past the item's last frame ("the maximum extension by frame
    #: for clip from right side"); None from a launcher that did not read it
    right_offset: Optional[float] = None
    #: ``GetMediaPoolItem()`` was not None (a generator or title has none)
    has_media_pool_item: bool = False
    #: ``GetClipProperty("File Path")`` of that item ("" for compound clips, timelines, ...)
    file_path: str = ""
    #: ``GetClipProperty("FPS")``
    media_fps: str = ""
    unique_id: str = ""
    markers: list[SnapMarker] = []

    @field_validator("has_media_pool_item", mode="before")
    @classmethod
    def _b(cls, v: Any) -> bool:
        return _to_bool(v)

    @field_validator("name", "file_path", "media_fps", "unique_id", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        return "" if v is None else str(v)


class SnapTrack(_Lenient):
    index: int
    name: str = ""
    locked: bool = False
    enabled: bool = True
    items: list[SnapItem] = []

    @field_validator("locked", "enabled", mode="before")
    @classmethod
    def _b(cls, v: Any) -> bool:
        return _to_bool(v)


class SnapTimeline(_Lenient):
    name: str = "Timeline"
    #: ``GetSetting("timelineFrameRate")``, e.g. "23.976", "29.97", "24"
    rate: str
    #: ``GetSetting("timelineDropFrameTimecode")``: "1"/"0"
    drop_frame: bool = False
    #: ``GetStartFrame()``: absolute
    start_frame: int
    #: ``GetStartTimecode()``, e.g. "01:00:00:00" ("" when the version has no such call)
    start_timecode: str = ""
    end_frame: Optional[int] = None
    width: Optional[int] = None
    height: Optional[int] = None
    video_tracks: list[SnapTrack] = []
    #: timeline markers, ``frame`` an offset from the timeline start
    markers: list[SnapMarker] = []

    @field_validator("drop_frame", mode="before")
    @classmethod
    def _b(cls, v: Any) -> bool:
        return _to_bool(v)

    @field_validator("rate", "start_timecode", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        return "" if v is None else str(v)

    @field_validator("width", "height", "end_frame", mode="before")
    @classmethod
    def _int(cls, v: Any) -> Optional[int]:
        if v in (None, ""):
            return None
        try:
            return int(float(v))
        except (TypeError, ValueError):
            return None


class RunSettings(_Lenient):
    """What the dialog chose (or nothing: the config's defaults)."""

    provider: Optional[str] = None
    model: Optional[str] = None
    media_dir: Optional[str] = None
    codec: Optional[str] = None

    @field_validator("provider", "model", "media_dir", "codec", mode="before")
    @classmethod
    def _empty(cls, v: Any) -> Optional[str]:
        return None if v in (None, "") else str(v)


class Snapshot(_Lenient):
    protocol: int = PROTOCOL
    #: "python" or "lua"
    launcher: str = ""
    product: str = ""
    resolve_version: str = ""
    project: str = "Project"
    timeline: SnapTimeline
    settings: RunSettings = RunSettings()


# --------------------------------------------------------------------------- out


class MarkerUpdate(BaseModel):
    """How a launcher changes one marker after a run.

    ``action``: ``"update"`` the marker at ``frame`` (custom data only when
    nothing else differs, else delete it and add it again with these values),
    or ``"add"`` a new one (for a placeholder clip named ``GEN:`` that has no
    marker).  ``owner``: the timeline, or the item ``item`` of video track
    ``track`` (both 1-based, as gathered).
    """

    action: Literal["update", "add"] = "update"
    owner: Literal["timeline", "item"]
    track: Optional[int] = None
    item: Optional[int] = None
    frame: float
    color: str
    name: str
    note: str
    duration: float
    custom_data: str
    #: the marker as it was, to put it back if adding the new one fails
    old_color: str = ""
    old_note: str = ""
    old_custom_data: str = ""


class PlaceholderResult(BaseModel):
    id: str
    track: str
    #: Resolve's 1-based video track index
    track_index: int
    track_name: str = ""
    kind: str
    #: absolute record frame in Resolve's numbering (``GetStartFrame()`` + offset)
    record_frame: int
    #: frames from the timeline start
    offset: int
    duration: int
    timecode: str
    prompt: str
    #: "planned" (scan), "filled", "failed"
    status: Literal["planned", "filled", "failed"]
    media_path: Optional[str] = None
    error: Optional[str] = None
    request_hash: Optional[str] = None
    provider: Optional[str] = None
    model: Optional[str] = None
    #: scan only: the plan per provider name (seconds, size, estimated cost or refusal)
    plans: dict[str, Any] = {}
    marker: Optional[MarkerUpdate] = None
    #: with several takes: every filled take's media, in take order, ``media_path`` (the one placed) first;
    #: the launcher gives the placed item the others through ``TimelineItem.AddTake`` (Resolve's Take Selector)
    takes: list[str] = []
    #: the first media frame the clip shows (the launcher's startFrame): past 0 when the file is longer than
    #: the hole (handles, a neighbour's own media)
    source_in: int = 0


class Report(BaseModel):
    """What ``scan`` and ``run`` write to ``--out``."""

    protocol: int = PROTOCOL
    command: Literal["scan", "run"]
    ok: bool = True
    #: a fatal error: nothing was generated
    error: Optional[str] = None
    timeline: str = ""
    rate: str = ""
    drop_frame: bool = False
    width: Optional[int] = None
    height: Optional[int] = None
    media_dir: Optional[str] = None
    default_provider: str = "local"
    providers: list[dict[str, Any]] = []
    placeholders: list[PlaceholderResult] = []
    #: GEN: markers already filled by an earlier run (skipped)
    done: list[str] = []
    warnings: list[str] = []

    @property
    def failed(self) -> list[PlaceholderResult]:
        return [p for p in self.placeholders if p.status == "failed"]
