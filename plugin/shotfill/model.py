"""Typed values that move between the stages.

    read -> scan -> plan -> jobs -> media -> place -> write

Each stage takes these and returns new ones.  The pydantic models are frozen:
none is changed after it is made; rates are exact fractions, serialised as
``"24000/1001"``.  The dataclasses at the end carry what a stage hands the next
one in process (an OTIO timeline, a path), and are never serialised as such.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import opentimelineio as otio

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator

from shotfill.rates import normalize_rate, parse_rate, rate_str


def _to_rate(v: object) -> Fraction:
    if isinstance(v, Fraction):
        return normalize_rate(v)
    if isinstance(v, str):
        return parse_rate(v)
    if isinstance(v, (int, float)):
        return normalize_rate(v)
    raise ValueError(f"not a frame rate: {v!r}")


Rate = Annotated[Fraction, PlainValidator(_to_rate), PlainSerializer(rate_str, return_type=str)]


#: the most takes one placeholder may ask for (``takes=N``)
MAX_TAKES = 8
#: the most handle frames a side (``handles=N``): more is a slip (10,000 frames is ~7 minutes at 24)
MAX_HANDLES = 10000


class Frozen(BaseModel):
    # defer_build: each value's validator is built when first used, not at import, so a
    # command pays only for the values it makes (a scan makes no request or media info).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Fit(str, enum.Enum):
    """How generated footage of another aspect ratio is made to fill the frame."""

    FILL = "fill"        # scale up and centre-crop: no black bars (default)
    FIT = "fit"          # scale to fit and letterbox / pillarbox
    STRETCH = "stretch"  # distort to the frame


class Codec(str, enum.Enum):
    PRORES = "prores"        # ProRes 422 HQ, ffmpeg's fast `prores` encoder, .mov
    PRORES_KS = "prores_ks"  # ProRes 422 HQ, slower `prores_ks` encoder, .mov
    DNXHR = "dnxhr"          # DNxHR HQ, .mov
    H264 = "h264"            # H.264 high, .mp4

    @property
    def suffix(self) -> str:
        return ".mp4" if self is Codec.H264 else ".mov"


class ShotOptions(Frozen):
    """``key=value`` options written after the prompt in a GEN: note."""

    seed: Optional[int] = None
    provider: Optional[str] = None
    model: Optional[str] = None
    negative: Optional[str] = None
    fit: Optional[Fit] = None
    #: how many takes to generate (each its own seed, job and cost); the editor picks one
    takes: Optional[int] = Field(default=None, ge=1, le=MAX_TAKES)
    #: frames generated before and after the hole, for the editor to trim, roll or dissolve into
    handles: Optional[int] = Field(default=None, ge=0, le=MAX_HANDLES)
    #: reference images (a character, a style), comma-separated paths
    ref: Optional[str] = None
    #: bring the clip's look toward the neighbours (default: on unless the offline generator made it)
    match: Optional[Literal["on", "off"]] = None
    #: ``handles``: fill the hole from the neighbour's own unused media (free), refused when it cannot cover it
    source: Optional[Literal["handles"]] = None
    #: ask a model that makes sound for it, and place it under the clip (default: off, or ``--audio``)
    audio: Optional[Literal["on", "off"]] = None


def match_wanted(choice: Optional[Literal["on", "off"]], provider: str) -> bool:
    """``match=on|off`` as chosen (note, run, shotfill.toml); by default on unless the offline generator made it.

    The offline generator's frames are drawn from the neighbours already.
    """
    if choice is not None:
        return choice == "on"
    return provider != "local"


class ColourMatch(Frozen):
    """What the colour match did to one clip; distances are CIEDE2000 (see shotfill.media.match)."""

    applied: bool
    method: str
    note: str
    distance_before: Optional[float] = None
    distance_after: Optional[float] = None
    lut: Optional[str] = None


class Neighbour(Frozen):
    """The shot just before or after a placeholder on its track."""

    name: str
    kind: Literal["clip", "gap", "transition", "other"]
    #: local media file behind the clip, when it exists on disk
    media_path: Optional[str] = None
    #: the frame to use (the last before / the first after), in the clip's source time
    source_frame: Optional[int] = None
    source_rate: Optional[Rate] = None
    #: first frame of the media in source time, when the timeline says (available_range)
    available_start: Optional[int] = None
    #: the media's length in frames at ``source_rate``, when the timeline says (available_range)
    available_frames: Optional[int] = None


class TimelineInfo(Frozen):
    """What a whole timeline tells about every placeholder in it."""

    path: str
    format: str
    name: str
    rate: Rate
    drop_frame: bool
    #: absolute frame of the timeline's first frame (01:00:00:00 -> 86400 at 24)
    start_frame: int
    width: Optional[int] = None
    height: Optional[int] = None


class Placeholder(Frozen):
    """One hole in the edit that ShotFill will fill."""

    id: str
    track: str
    track_name: str = ""
    #: index among the timeline's video tracks, 0 = lowest (V1)
    track_index: int
    #: child indexes from ``timeline.tracks`` down to the item (nested stacks add levels)
    item_path: tuple[int, ...]
    kind: Literal["gap", "clip"]
    #: first frame, relative to the start of the track
    start: int
    duration: int
    rate: Rate
    #: absolute record frame (timeline start included) and its timecode
    record_frame: int
    timecode: str
    prompt: str
    options: ShotOptions
    marker_name: str
    #: where the GEN: note was found: "gap", "clip", "track", "timeline", "neighbour", "name"
    marker_on: str
    before: Optional[Neighbour] = None
    after: Optional[Neighbour] = None
    #: what is wrong with the note (unknown option, bad value); a placeholder with
    #: problems is reported by ``scan`` and refused by ``fill``
    problems: tuple[str, ...] = ()


class ConformTarget(Frozen):
    width: int
    height: int
    rate: Rate
    frames: int
    #: timecode of the first frame, e.g. ``01:00:10:00`` (``;`` for drop frame)
    timecode: str
    codec: Codec = Codec.PRORES
    fit: Fit = Fit.FILL
    #: carry the clip's sound, 48 kHz PCM of exactly the hole's length (see shotfill.media.audio)
    audio: bool = False


class GenerationRequest(Frozen):
    """Everything a provider needs to make one clip; its hash keys cache and journal."""

    placeholder_id: str
    provider: str
    model: Optional[str] = None
    prompt: str
    negative: Optional[str] = None
    seed: int
    width: int
    height: int
    rate: Rate
    frames: int
    timecode: str
    #: PNG files of the last frame before and the first frame after, when known
    first_frame: Optional[str] = None
    last_frame: Optional[str] = None
    #: reference images (PNG/JPEG/WebP files) for models that take them
    references: tuple[str, ...] = ()
    shot_label: str = ""
    #: which take of its placeholder this is (1-based); part of the hash only when > 1
    take: int = 1
    #: segment k of n of a hole longer than the model's longest clip (shotfill.plan.segments); part of
    #: the hash only when n > 1, so segment 1 never shares a hash with a whole-hole request
    segment: int = 1
    segments: int = 1
    #: a segment after the first: the request hash of the segment whose last frame is its first frame.
    #: Hashed instead of that frame's bytes, which another ffmpeg build may encode differently: a kept
    #: segment is then found again whatever extracts the frame, and never paid twice.
    chained_from: str = ""
    #: handle frames a side included in ``frames`` (``timecode`` is then the hole's minus these);
    #: part of the hash only when > 0
    handles: int = Field(default=0, ge=0)
    #: ask the model for sound (models with ``audio = true``); part of the hash only when True
    audio: bool = False
    request_hash: str = ""


class Segment(Frozen):
    """One segment of a placeholder made in segments: what it shows, what it asks for, what became of it."""

    index: int                      # 1-based
    #: frames it shows on the timeline, and frames asked of the service (one more after the first: a
    #: first-frame-conditioned clip starts on the frame it was given, which the segment before shows)
    frames: int
    request_frames: int
    seconds: float
    estimated_cost: Optional[float] = None
    request_hash: str = ""
    job_id: Optional[str] = None
    #: planned (not reached yet), paid (cached or journaled before this run), made, failed, skipped
    status: str = "planned"


class Handles(Frozen):
    """A placeholder's handles: asked for, and made (fewer when the model's longest clip is short)."""

    asked: int
    made: int
    #: why fewer were made, e.g. "handles 12 → 7 frames: veo veo-3.1's longest clip is 8 s"
    note: Optional[str] = None


class GeneratedMedia(Frozen):
    request_hash: str
    path: str
    provider: str
    model: Optional[str] = None
    job_id: Optional[str] = None
    #: the rate and frame count the service's file has, as probed on download
    fps: Optional[Rate] = None
    frames: Optional[int] = None


class AudioInfo(Frozen):
    """What ffprobe says of a file's first audio stream."""

    codec: str
    sample_rate: int
    channels: int
    #: samples in the stream, when the container tells them exactly (duration_ts at 1/sample_rate)
    samples: Optional[int] = None


class MediaInfo(Frozen):
    """What ffprobe says of a video file's first video stream."""

    path: str
    width: int
    height: int
    rate: Rate
    frames: int
    codec: str
    pix_fmt: Optional[str] = None
    #: codec profile as ffprobe names it ("HQ", "DNXHR HQ", "High"): tells ProRes HQ from LT
    profile: Optional[str] = None
    timecode: Optional[str] = None
    color_primaries: Optional[str] = None
    color_transfer: Optional[str] = None
    color_space: Optional[str] = None
    sample_aspect_ratio: Optional[str] = None
    #: the first audio stream, if the file has one
    audio: Optional[AudioInfo] = None


# --------------------------------------------------------------------------- in-process hand-overs


@dataclass
class ReadResult:
    """A timeline as read, and what ShotFill needs to know about it."""

    #: always a Timeline; a bare Track, Stack or Clip is wrapped in one
    timeline: otio.schema.Timeline
    #: ShotFill's format name: "edl", "fcp_xml", "fcpx_xml", "otio_json", ...
    format: str
    #: the timeline rate, exact (24000/1001, not 23.976)
    rate: Fraction
    drop_frame: bool
    #: absolute frame of the timeline's first frame (global_start_time), 0 when none
    start_frame: int
    width: int | None = None
    height: int | None = None
    #: what was compensated while reading, each naming the file
    warnings: list[str] = field(default_factory=list)
    #: EDLs only: the text as decoded, line endings kept (the splice writer edits it)
    source_text: str | None = None
    #: EDLs only: the encoding the text was decoded with
    encoding: str | None = None
    #: the OTIO adapter that read it
    adapter: str = ""


@dataclass
class ScanResult:
    """What the scan found in a timeline."""

    info: TimelineInfo
    placeholders: list[Placeholder]
    warnings: list[str] = field(default_factory=list)
    #: GEN: markers that cover no placeholder (also in ``warnings``); ``fill`` refuses them
    stray: list[str] = field(default_factory=list)


@dataclass
class Loaded:
    """A timeline read and scanned, with its frame size settled."""

    read: ReadResult
    info: TimelineInfo
    scan: ScanResult
    #: where the size came from: "timeline", "--resolution", "neighbour media", "unknown"
    size_from: str


@dataclass(frozen=True)
class Placement:
    """A conformed clip and the placeholder it fills."""

    placeholder: Placeholder
    media_path: Path
    #: provenance written to ``metadata["shotfill"]`` (never a secret)
    provenance: dict[str, Any]
    #: every take made for the placeholder, in take order (empty: one take, ``media_path``)
    takes: tuple["Take", ...] = ()
    #: the take shown (1-based ``Take.number``)
    active: int = 1
    #: the first frame of the file the clip shows: H with ``handles=H``, where the shot left off for a
    #: neighbour's own media (``source=handles``); 0 when the file is exactly the hole
    source_in: int = 0
    #: the file's length in frames, its available range; None: the hole's length plus ``source_in``
    media_frames: Optional[int] = None
    #: the file's first frame as a timecode frame count at the placeholder's rate; None: the
    #: placeholder's record frame minus ``source_in`` (what conform stamps on a generated file)
    media_start: Optional[int] = None
    #: the file carries sound asked for (``audio=on``): it goes on an audio track under the clip
    audio: bool = False
    #: its channels (48 kHz PCM, exactly the hole's length: shotfill.media.audio)
    audio_channels: int = 2

    @property
    def available(self) -> tuple[int, int]:
        """(first timecode frame, length) of the whole file: the clip's available range."""
        ph = self.placeholder
        start = self.media_start if self.media_start is not None else ph.record_frame - self.source_in
        length = self.media_frames if self.media_frames is not None else self.source_in + ph.duration
        return start, length

    @property
    def source(self) -> tuple[int, int]:
        """(first timecode frame, length) of what the clip shows: the hole's length, ``source_in`` in."""
        return self.available[0] + self.source_in, self.placeholder.duration


@dataclass(frozen=True)
class Take:
    """One generated take of a placeholder, conformed."""

    number: int
    media_path: Path
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Still:
    """One picture of a report row: a JPEG thumbnail, or why there is none."""

    kind: str                      # first / middle / last
    path: Optional[Path] = None
    #: the frame of the clip it shows
    frame: Optional[int] = None
    error: str = ""


@dataclass(frozen=True)
class ClipStills:
    """A conformed clip's first, middle and last frames as thumbnails, and what the sheet needs to lay them out."""

    frames: int
    width: int
    height: int
    sample_aspect_ratio: Optional[str]
    stills: tuple[Still, ...]


@dataclass
class JobSpec:
    """One placeholder of one timeline, and where its media goes."""

    key: str                     # unique in the run; the display's label
    info: TimelineInfo
    placeholder: Placeholder
    media_dir: Path
    #: which take this job makes (1-based), and how many its placeholder has
    take: int = 1
    takes: int = 1


#: what became of one placeholder in a run ("queued" only until the run decides)
OutcomeStatus = Literal["queued", "filled", "failed", "skipped"]


@dataclass
class Outcome:
    """One placeholder's result: its media when filled, else why not."""

    spec: JobSpec
    status: OutcomeStatus
    media: Optional[Path] = None
    error: Optional[str] = None
    request: Optional[GenerationRequest] = None
    provenance: Optional[dict[str, Any]] = None
    estimated_cost: Optional[float] = None
    timings: dict[str, float] = field(default_factory=dict)
    before_frame: Optional[str] = None
    after_frame: Optional[str] = None
    #: what an editor should know of a filled placeholder (a clip padded by more than a few frames)
    warnings: list[str] = field(default_factory=list)
    #: with more than one take: each take's own outcome, in take order (this one then stands for them all)
    takes: list["Outcome"] = field(default_factory=list)
    #: the Dask worker that did its media work (None: this process)
    worker: Optional[str] = None
    #: the colour match of its clip, when one was tried
    colour: Optional[ColourMatch] = None
    #: its clip's contact-sheet thumbnails, made with its media work (None: the report makes them)
    stills: Optional[ClipStills] = None
    #: a hole made in segments (shotfill.plan.segments): each segment, in order; empty otherwise
    segments: list[Segment] = field(default_factory=list)
    #: the handles asked for and made (None: none asked for)
    handles: Optional[Handles] = None
    #: sound: None when not asked; else whether the conformed file carries it (and in how many channels)
    audio: Optional[bool] = None
    audio_channels: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "filled"

    @property
    def placeholder(self) -> Placeholder:
        return self.spec.placeholder
