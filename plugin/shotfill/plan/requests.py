"""Turn placeholders into generation requests.

A request holds everything that decides the generated clip: provider, model,
prompt, options, seed, size, rate, length and the neighbours' frames.  Its
hash is computed over exactly those (frame *bytes*, not paths), so the same
hole asked for twice has the same key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from shotfill.errors import FFmpegNotFound, MediaError, UsageError
from shotfill.system.files import make_dirs
from shotfill.model import GenerationRequest, MediaInfo, Neighbour, Placeholder
from shotfill.plan.handles import with_handles
from shotfill.rates import timecode_to_frames

# The media stack (frames, probe) is imported where frames are pulled: a scan's preview reads none.
if TYPE_CHECKING:
    from shotfill.media.frames import FrameGrab


@dataclass(frozen=True)
class PlanSettings:
    width: int
    height: int
    provider: str = "local"
    model: Optional[str] = None
    #: the project's reference images (shotfill.toml ``references``); a note's ``ref=`` replaces them
    references: tuple[str, ...] = ()
    #: ``--audio``: ask every shot's model for sound (a note's ``audio=on|off`` wins)
    audio: bool = False


def audio_for(ph: Placeholder, settings: PlanSettings) -> bool:
    """Whether the shot asks for sound: its note's ``audio=``, else the run's ``--audio``."""
    return ph.options.audio == "on" if ph.options.audio is not None else settings.audio


def references_for(ph: Placeholder, settings: PlanSettings) -> tuple[str, ...]:
    """The shot's reference images: its note's ``ref=`` (relative to the working folder), else the project's."""
    if ph.options.ref:
        return tuple(str(Path(p.strip()).expanduser().resolve()) for p in ph.options.ref.split(",") if p.strip())
    return settings.references


def reference_bytes(ph_id: str, path: str) -> bytes:
    """A reference image's bytes (read bounded; not an image: refused, naming the shot and the file)."""
    from shotfill.media.frames import read_reference   # see the imports above
    try:
        return read_reference(path, UsageError)[1]
    except UsageError as exc:
        raise UsageError(f"{ph_id}: {exc.message}", hint=exc.hint) from None


def default_seed(ph: Placeholder) -> int:
    """A stable seed per hole, so re-running without ``seed=`` gives the same clip."""
    digest = hashlib.sha256(f"{ph.id}\0{ph.prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def frame_index_in_file(nb: Neighbour, info: MediaInfo) -> int:
    """Which frame of the neighbour's file is the one next to the hole.

    The clip's source frame is counted from the media's first frame: the
    timeline's available range when it gives one, else the file's own
    timecode, else zero; then rescaled to the file's rate.
    """
    assert nb.source_frame is not None and nb.source_rate is not None
    src_rate = Fraction(nb.source_rate)
    if nb.available_start is not None:
        start = nb.available_start
    elif info.timecode:
        try:
            start = timecode_to_frames(info.timecode, src_rate)
        except ValueError:
            start = 0
    else:
        start = 0
    length = info.frames * src_rate / Fraction(info.rate)   # file length in source frames
    offset = nb.source_frame - start
    if not 0 <= offset < length and 0 <= nb.source_frame < length:
        # The media's timecode does not match the edit's: count from its first frame.
        offset = nb.source_frame
    index = round(Fraction(offset) * Fraction(info.rate) / src_rate)
    return min(max(index, 0), info.frames - 1)


def neighbour_frame(nb: Optional[Neighbour], out_png: Path) -> Optional[Path]:
    """Extract the neighbour's frame next to the hole, or None when it cannot be read."""
    return neighbour_frames([(nb, out_png)])[0]


def neighbour_frames(wanted: list[tuple[Optional[Neighbour], Path]]) -> list[Optional[Path]]:
    """:func:`neighbour_frame` for several neighbours: one ffprobe per file, one ffmpeg for all frames.

    A neighbour whose media cannot be read gives None without costing the others their frames.
    """
    from shotfill.media.frames import extract_frames   # see the imports above
    probed: dict[str, tuple[MediaInfo, Optional[Fraction]]] = {}
    grabs: list[Optional[FrameGrab]] = []
    for nb, out_png in wanted:
        grabs.append(_neighbour_grab(nb, out_png, probed))
    ready = [g for g in grabs if g is not None]
    try:
        extract_frames(ready)
    except FFmpegNotFound:
        raise
    except MediaError:
        if len(ready) == 1:
            return [None] * len(grabs)
        # One unreadable file fails the shared run: take the frames one by one.
        return [_alone(g) if g is not None else None for g in grabs]
    return [g.out_png if g is not None else None for g in grabs]


def _neighbour_grab(nb: Optional[Neighbour], out_png: Path,
                    probed: dict[str, tuple[MediaInfo, Optional[Fraction]]]) -> Optional[FrameGrab]:
    if nb is None or nb.kind != "clip" or not nb.media_path or nb.source_frame is None:
        return None
    from shotfill.media.frames import grab   # see the imports above
    from shotfill.media.probe import probe_for_seek
    try:
        if nb.media_path not in probed:
            # Locating a frame: the container's count suffices (no whole-file demux of a long original).
            probed[nb.media_path] = probe_for_seek(nb.media_path, exact=False)
        info = probed[nb.media_path][0]
        make_dirs(out_png.parent)
        return grab(nb.media_path, frame_index_in_file(nb, info), out_png, probed=probed[nb.media_path])
    except FFmpegNotFound:
        raise
    except MediaError:
        return None


def _alone(g: FrameGrab) -> Optional[Path]:
    from shotfill.media.frames import extract_frames   # see the imports above
    try:
        return extract_frames([g])[0]
    except FFmpegNotFound:
        raise
    except MediaError:
        return None


def take_seed(ph: Placeholder, take: int = 1) -> int:
    """Take k of a placeholder uses its seed (``seed=S``, else the default) plus k - 1."""
    base = ph.options.seed if ph.options.seed is not None else default_seed(ph)
    return base + take - 1


#: fields a request gained after 0.1, with their defaults: each enters the hash only when it differs, so a
#: request that asks for none of them hashes as before and earlier caches and journals still serve it
LATER_FIELDS: dict[str, object] = {"take": 1, "segment": 1, "segments": 1, "chained_from": "", "handles": 0,
                                   "audio": False}
#: what names or stands in for bytes hashed on their own (frames, references) or labels the request
_NOT_HASHED = {"request_hash", "first_frame", "last_frame", "references", "placeholder_id", "shot_label"}


def request_hash(req: GenerationRequest) -> str:
    skip = _NOT_HASHED | {name for name, default in LATER_FIELDS.items() if getattr(req, name) == default}
    data = req.model_dump(mode="json", exclude=skip)
    h = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
    # A chained segment's first frame is named by the segment it comes from (chained_from), not by its bytes.
    for frame in (req.last_frame,) if req.chained_from else (req.first_frame, req.last_frame):
        h.update(b"\0frame\0")
        if frame:
            h.update(Path(frame).read_bytes())
    for ref in req.references:       # only when there are some: hashes without references stay as they were
        h.update(b"\0reference\0" + reference_bytes(req.placeholder_id, ref))
    return h.hexdigest()


def plan_request(ph: Placeholder, settings: PlanSettings, frames_dir: Path, take: int = 1,
                 handles: int = 0) -> GenerationRequest:
    """The request for take ``take`` of ``ph``, covering ``handles`` frames more each side (see plan.handles)."""
    # With handles the clip starts H frames before the cut and ends H after it: the frames it is to start
    # and end on are the neighbours' own at those times (so a handle dissolves into what it overlaps).
    tag = f"_h{handles}" if handles else ""
    first, last = neighbour_frames([(_shifted(ph.before, -handles), frames_dir / f"{ph.id}_before{tag}.png"),
                                    (_shifted(ph.after, handles), frames_dir / f"{ph.id}_after{tag}.png")])
    req = _request(ph, settings, take, handles, str(first) if first else None, str(last) if last else None)
    return req.model_copy(update={"request_hash": request_hash(req)})


def _request(ph: Placeholder, settings: PlanSettings, take: int, handles: int, first: Optional[str],
             last: Optional[str]) -> GenerationRequest:
    """The one place a placeholder's options become a request (``plan_request`` and ``preview_request``)."""
    opts = ph.options
    req = GenerationRequest(
        placeholder_id=ph.id, provider=(opts.provider or settings.provider).lower(),
        model=opts.model or settings.model, prompt=ph.prompt, negative=opts.negative,
        seed=take_seed(ph, take),
        width=settings.width, height=settings.height, rate=ph.rate, frames=ph.duration, timecode=ph.timecode,
        first_frame=first, last_frame=last, references=references_for(ph, settings),
        shot_label=ph.id, take=take, audio=audio_for(ph, settings),
    )
    return with_handles(req, handles)


def _shifted(nb: Optional[Neighbour], frames: int) -> Optional[Neighbour]:
    """``nb`` with the frame to use moved ``frames`` on in its source time (kept within its media)."""
    if nb is None or not frames or nb.source_frame is None:
        return nb
    frame = nb.source_frame + frames
    if nb.available_start is not None:
        frame = max(frame, nb.available_start)
        if nb.available_frames is not None:
            frame = min(frame, nb.available_start + nb.available_frames - 1)
    return nb.model_copy(update={"source_frame": max(frame, 0)})


def preview_request(ph: Placeholder, settings: PlanSettings, take: int = 1, handles: int = 0) -> GenerationRequest:
    """A request as ``plan_request`` would make it, without extracting any frame.

    The neighbour frames are stood in for by their media paths, so a
    provider's plan can say which neighbours it would use; nothing is read.
    """
    def usable(nb: Optional[Neighbour]) -> Optional[str]:
        return nb.media_path if nb is not None and nb.kind == "clip" and nb.media_path else None

    return _request(ph, settings, take, handles, usable(ph.before), usable(ph.after))
