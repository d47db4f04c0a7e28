"""A placeholder's media work once its clip has landed, as one task for the executor.

Length check, colour match, conform, the match measured on the result, content
credentials and the report's thumbnails run one after the other in one call:
on a Dask cluster that is one task on one worker (one round trip through the
scheduler instead of one per stage, and the clip's probe and pixels stay warm
in that worker), locally one thread hop.  It only reads and writes files, so
running it again after a lost worker is harmless.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from shotfill.errors import ShotFillError
from shotfill.media import match
from shotfill.media.conform import Part, conform, conform_joined, length_check
from shotfill.media.credentials import Claim, Signing
from shotfill.media.thumbs import clip_stills
from shotfill.model import ClipStills, ColourMatch, ConformTarget, MediaInfo


@dataclass(frozen=True)
class ConformJob:
    """All one placeholder's conform needs: its clip (or segments), its target and where it goes."""

    #: the generated clip (with segments: the first one's)
    clip: Path
    #: with segments: each one's file, frames shown and frames dropped, joined in one pass
    parts: Optional[list[Part]]
    target: ConformTarget
    #: the output media folder, and the name's start (timeline stem, placeholder id, take)
    media_dir: Path
    stem: str
    request_hash: str
    segment_hashes: tuple[str, ...]
    threads: int
    #: the neighbour frames the colour match compares with, and how it is asked for
    neighbours: tuple[Optional[str], ...]
    looks_dir: Path
    choice: match.MatchChoice
    provider: str
    span: Optional[match.Span]
    #: content credentials, when [c2pa] is set: the last write, after every re-encode
    signing: Optional[Signing] = None
    claim: Optional[Claim] = None
    #: the report's thumbnails (``shown``: the hole's frames within handles)
    stills_dir: Optional[Path] = None
    shown: Optional[tuple[int, int]] = None


@dataclass(frozen=True)
class ConformDone:
    media: Path
    result: MediaInfo
    warnings: list[str] = field(default_factory=list)
    colour: Optional[ColourMatch] = None
    stills: Optional[ClipStills] = None


def media_name(job: ConformJob, look: Optional[match.Look]) -> Path:
    """The conformed file's path, named by all that decides its bytes.

    Fit and look are not in the request: look-alike holes of two timelines sharing a
    media folder must never write one file. (Audio only when asked: the names of clips
    made before it existed stay as they were.)
    """
    target = job.target
    dumped = target.model_dump_json(exclude=None if target.audio else {"audio"})
    decides = f"{job.request_hash}\0{dumped}" + (f"\0{look.digest}" if look and look.cube else "") + (
        "".join(f"\0{h}" for h in job.segment_hashes))
    tag = hashlib.sha256(decides.encode()).hexdigest()[:8]
    return job.media_dir / f"{job.stem}_{tag}{target.codec.suffix}"


def run(job: ConformJob) -> ConformDone:
    """Conform ``job``'s clip into its media folder; raises the stage's own error (nothing half-written)."""
    warnings: list[str] = []
    # Measured before conforming: a short clip is padded by holding its last frame.
    if job.parts:
        for part in job.parts:
            warnings += length_check(Path(part.path), job.target.model_copy(update={"frames": part.skip + part.frames}))
    else:
        warnings += length_check(job.clip, job.target)
    look = match.prepare(job.clip, job.neighbours, job.looks_dir, choice=job.choice, provider=job.provider,
                         span=job.span)
    lut = look.cube if look else None
    dst = media_name(job, look)
    if job.parts:
        result = conform_joined(job.parts, dst, job.target, threads=job.threads, look=lut)
    else:
        result = conform(job.clip, dst, job.target, threads=job.threads, look=lut)
    colour = None
    if look is not None:
        warnings += look.warnings
        colour = match.result(look, dst, job.neighbours, span=job.span)
    if job.signing is not None and job.claim is not None:
        job.signing.sign(dst, job.claim, original=job.clip, frames=job.target.frames)
    stills = None
    if job.stills_dir is not None:
        try:
            stills = clip_stills(dst, job.stills_dir, dst.stem, hole=job.shown)
        except (ShotFillError, OSError):
            stills = None   # the report tries again; thumbnails never fail a shot
    return ConformDone(media=dst, result=result, warnings=warnings, colour=colour, stills=stills)
