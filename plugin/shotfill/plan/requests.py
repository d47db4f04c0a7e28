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
from typing import Optional

from shotfill.errors import FFmpegNotFound, MediaError, UsageError
from shotfill.system.files import make_dirs
from shotfill.media.frames import extract_frame, read_reference
from shotfill.media.probe import probe
from shotfill.model import GenerationRequest, MediaInfo, Neighbour, Placeholder
from shotfill.rates import timecode_to_frames


@dataclass(frozen=True)
class PlanSettings:
    width: int
    height: int
    provider: str = "local"
    model: Optional[str] = None
    #: the project's reference images (shotfill.toml ``references``); a note's ``ref=`` replaces them
    references: tuple[str, ...] = ()


def references_for(ph: Placeholder, settings: PlanSettings) -> tuple[str, ...]:
    """The shot's reference images: its note's ``ref=`` (relative to the working folder), else the project's."""
    if ph.options.ref:
        return tuple(str(Path(p.strip()).expanduser().resolve()) for p in ph.options.ref.split(",") if p.strip())
    return settings.references


def reference_bytes(ph_id: str, path: str) -> bytes:
    """A reference image's bytes (read bounded; not an image: refused, naming the shot and the file)."""
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
    if nb is None or nb.kind != "clip" or not nb.media_path or nb.source_frame is None:
        return None
    try:
        info = probe(nb.media_path)
        make_dirs(out_png.parent)
        return extract_frame(nb.media_path, frame_index_in_file(nb, info), out_png)
    except FFmpegNotFound:
        raise
    except MediaError:
        return None


def request_hash(req: GenerationRequest) -> str:
    data = req.model_dump(mode="json", exclude={"request_hash", "first_frame", "last_frame", "references",
                                                "placeholder_id", "shot_label"})
    h = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
    for frame in (req.first_frame, req.last_frame):
        h.update(b"\0frame\0")
        if frame:
            h.update(Path(frame).read_bytes())
    for ref in req.references:       # only when there are some: hashes without references stay as they were
        h.update(b"\0reference\0" + reference_bytes(req.placeholder_id, ref))
    return h.hexdigest()


def plan_request(ph: Placeholder, settings: PlanSettings, frames_dir: Path) -> GenerationRequest:
    opts = ph.options
    first = neighbour_frame(ph.before, frames_dir / f"{ph.id}_before.png")
    last = neighbour_frame(ph.after, frames_dir / f"{ph.id}_after.png")
    req = GenerationRequest(
        placeholder_id=ph.id,
        provider=(opts.provider or settings.provider).lower(),
        model=opts.model or settings.model,
        prompt=ph.prompt,
        negative=opts.negative,
        seed=opts.seed if opts.seed is not None else default_seed(ph),
        width=settings.width, height=settings.height, rate=ph.rate, frames=ph.duration,
        timecode=ph.timecode,
        first_frame=str(first) if first else None,
        last_frame=str(last) if last else None,
        references=references_for(ph, settings),
        shot_label=ph.id,
    )
    return req.model_copy(update={"request_hash": request_hash(req)})


def preview_request(ph: Placeholder, settings: PlanSettings) -> GenerationRequest:
    """A request as ``plan_request`` would make it, without extracting any frame.

    The neighbour frames are stood in for by their media paths, so a
    provider's plan can say which neighbours it would use; nothing is read.
    """
    def usable(nb: Optional[Neighbour]) -> Optional[str]:
        return nb.media_path if nb is not None and nb.kind == "clip" and nb.media_path else None

    opts = ph.options
    req = GenerationRequest(
        placeholder_id=ph.id, provider=(opts.provider or settings.provider).lower(),
        model=opts.model or settings.model, prompt=ph.prompt, negative=opts.negative,
        seed=opts.seed if opts.seed is not None else default_seed(ph),
        width=settings.width, height=settings.height, rate=ph.rate, frames=ph.duration, timecode=ph.timecode,
        first_frame=usable(ph.before), last_frame=usable(ph.after), shot_label=ph.id,
        references=references_for(ph, settings),
    )
    return req
