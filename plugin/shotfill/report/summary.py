"""What became of each placeholder of a run, in one shape for every place that shows it.

:func:`entry_from_outcome` is the one projection of an
:class:`~shotfill.model.Outcome`: the command line's summary and ``--json``,
``report.json`` / ``report.html`` and the Resolve engine's results all read a
:class:`ReportEntry`, so they never disagree about a placeholder.
"""

from __future__ import annotations

import os
import shlex
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Sequence

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shotfill.model import ClipStills, Outcome
from shotfill.rates import normalize_rate, rate_str

Result = Literal["filled", "failed", "skipped"]


class TakeEntry(BaseModel):
    """One take of a placeholder that asked for several."""

    model_config = ConfigDict(extra="forbid")

    take: int
    result: Result
    seed: Optional[int] = None
    request_hash: Optional[str] = None
    job_id: Optional[str] = None
    estimated_cost: Optional[float] = None
    error: Optional[str] = None
    media: Optional[str] = None
    active: bool = False
    """the take the written timeline shows"""
    pick: Optional[str] = None
    """the ``shotfill pick`` command that makes this take the active one, quoted for a POSIX shell"""
    match: Optional[str] = None
    """this take's colour match (each take is matched on its own); None when none was tried"""
    colour_distance_before: Optional[float] = None
    colour_distance_after: Optional[float] = None
    audio: Optional[dict[str, bool]] = None
    """sound: ``{"asked": true, "present": ...}`` when the shot asked for it (present: the placed file has it)"""
    segments: Optional["SegmentsEntry"] = None
    """this take's own segments, when its hole is made in segments (each take makes its own)"""
    stills: Optional[ClipStills] = Field(default=None, exclude=True)
    """thumbnails made with the take's media work (not in report.json: the report copies them)"""


class SegmentEntry(BaseModel):
    """One segment of a placeholder made in segments (a hole longer than the model's longest clip)."""

    model_config = ConfigDict(extra="forbid")

    segment: int
    frames: int
    """frames it shows on the timeline"""
    request_frames: int
    """frames asked of the service (one more after the first: its first frame is the one before's last)"""
    seconds: float
    job_id: Optional[str] = None
    request_hash: Optional[str] = None
    estimated_cost: Optional[float] = None
    status: str
    """planned (not reached), paid (before this run), made, failed, skipped"""


class SegmentsEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int
    segments: list[SegmentEntry]


TakeEntry.model_rebuild()   # its segments are a SegmentsEntry, defined after it


def _segments(outcome: Outcome) -> Optional[SegmentsEntry]:
    if not outcome.segments:
        return None
    return SegmentsEntry(count=len(outcome.segments), segments=[
        SegmentEntry(segment=s.index, frames=s.frames, request_frames=s.request_frames, seconds=s.seconds,
                     job_id=s.job_id, request_hash=s.request_hash or None, estimated_cost=s.estimated_cost,
                     status=s.status) for s in outcome.segments])


def _path_str(value: object) -> object:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _rate_text(value: object) -> object:
    if isinstance(value, Fraction):
        return rate_str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return rate_str(normalize_rate(value))
    return value


PathText = Annotated[str, BeforeValidator(_path_str)]
RateText = Annotated[str, BeforeValidator(_rate_text)]


class ReportEntry(BaseModel):
    """One placeholder of a run, as the report shows it.  Paths may be given as ``Path``."""

    model_config = ConfigDict(extra="forbid")

    timeline: PathText
    """the input timeline"""
    output: Optional[PathText] = None
    """the timeline the run wrote"""
    placeholder_id: str
    track: str
    timecode: str
    record_frame: int
    start: int
    """frames from the start of the track"""
    duration: int
    """frames"""
    rate: RateText
    """``"24000/1001"``; a Fraction is turned into that form"""
    prompt: str
    provider: Optional[str] = None
    model: Optional[str] = None
    job_id: Optional[str] = None
    request_hash: Optional[str] = None
    estimated_cost: Optional[float] = None
    timings: dict[str, float] = {}
    """seconds per stage: plan, generate, conform, total"""
    result: Result
    error: Optional[str] = None
    warnings: list[str] = []
    """what the editor should know of the result (a short clip padded by holding its last frame)"""
    media: Optional[PathText] = None
    """the conformed clip"""
    before_frame: Optional[PathText] = None
    """PNG of the neighbour frame before the hole that the run extracted"""
    after_frame: Optional[PathText] = None
    before_name: Optional[str] = None
    after_name: Optional[str] = None
    takes: list[TakeEntry] = []
    """every take, when the placeholder asked for more than one"""
    worker: Optional[str] = None
    """the Dask worker that did its media work (None: the machine that ran ShotFill)"""
    match: Optional[str] = None
    """the colour match: "matched", "already matches its neighbours", ...; None when none was tried"""
    colour_distance_before: Optional[float] = None
    """CIEDE2000 zone distance of the generated clip to the neighbour frames (shotfill.media.match)"""
    colour_distance_after: Optional[float] = None
    """the same, measured on the conformed clip"""
    audio: Optional[dict[str, bool]] = None
    """sound: ``{"asked": true, "present": ...}`` when the shot asked for it (present: the placed file has it)"""
    stills: Optional[ClipStills] = Field(default=None, exclude=True)
    """thumbnails made with the clip's media work, maybe on a Dask worker (not in report.json)"""
    segments: Optional[SegmentsEntry] = None
    """a hole longer than the model's longest clip, made in segments: each one's frames, job and status"""
    source: Optional[str] = None
    """``"handles"``: filled from a neighbour's own media (no generation, cost 0); None: generated"""
    source_note: Optional[str] = None
    """what it was filled from: ``"from shot_a's media (free)"``"""
    source_in: Optional[int] = None
    """filled from a neighbour's media: the frame of its file (from the first) the hole's first frame shows"""
    handles: Optional[int] = None
    """handle frames asked for each side of the hole (None: none asked for)"""
    handles_made: Optional[int] = None
    """handle frames the clip has each side: its file is duration + 2 × this, the hole starting this far in;
    fewer than asked when the model's longest clip is short (the warnings say so)"""


def pick_command(output: str | os.PathLike[str], placeholder_id: str, take: int) -> str:
    """``shotfill pick`` for one take, every word quoted for a POSIX shell (paths may hold anything)."""
    out = Path(output)
    picked = out.with_name(f"{out.stem}_{placeholder_id}_take{take}{out.suffix}")
    return shlex.join(["shotfill", "pick", str(out), f"{placeholder_id}={take}", "-o", str(picked)])


def _takes(outcome: Outcome, output: str | os.PathLike[str] | None) -> list[TakeEntry]:
    if len(outcome.takes) <= 1:
        return []
    active = next((t.spec.take for t in outcome.takes if t.ok), None)
    rows = []
    for t in outcome.takes:
        status = t.status if t.status in ("filled", "failed", "skipped") else "failed"
        prov = t.provenance or {}
        rows.append(TakeEntry(
            take=t.spec.take, result=status, seed=t.request.seed if t.request else None,
            request_hash=t.request.request_hash if t.request else None, job_id=prov.get("job_id"),
            estimated_cost=t.estimated_cost, error=t.error,
            media=None if t.media is None else os.fspath(t.media), active=t.spec.take == active,
            pick=pick_command(output, outcome.placeholder.id, t.spec.take) if output is not None and t.ok else None,
            match=t.colour.note if t.colour else None,
            colour_distance_before=t.colour.distance_before if t.colour else None,
            colour_distance_after=t.colour.distance_after if t.colour else None, segments=_segments(t),
            stills=t.stills))
    return rows


def entry_from_outcome(outcome: Outcome, *, timeline: str | os.PathLike[str],
                       output: str | os.PathLike[str] | None) -> ReportEntry:
    """The one projection of an :class:`~shotfill.model.Outcome`: what every summary shows of it."""
    ph, req, prov = outcome.placeholder, outcome.request, outcome.provenance or {}
    status = outcome.status
    return ReportEntry(
        timeline=os.fspath(timeline), output=None if output is None else os.fspath(output),
        placeholder_id=ph.id, track=ph.track, timecode=ph.timecode,
        record_frame=ph.record_frame, start=ph.start, duration=ph.duration, rate=rate_str(ph.rate), prompt=ph.prompt,
        provider=prov.get("provider") or (req.provider if req else None),
        model=prov.get("model") or (req.model if req else None),
        job_id=prov.get("job_id"),
        estimated_cost=outcome.estimated_cost, timings=dict(outcome.timings),
        result=status if status in ("filled", "failed", "skipped") else "failed", error=outcome.error,
        warnings=list(outcome.warnings),
        request_hash=req.request_hash if req else None,
        media=None if outcome.media is None else os.fspath(outcome.media),
        before_frame=req.first_frame if req else None, after_frame=req.last_frame if req else None,
        before_name=ph.before.name if ph.before else None, after_name=ph.after.name if ph.after else None,
        takes=_takes(outcome, output),
        worker=outcome.worker,
        match=outcome.colour.note if outcome.colour else None,
        colour_distance_before=outcome.colour.distance_before if outcome.colour else None,
        colour_distance_after=outcome.colour.distance_after if outcome.colour else None,
        stills=outcome.stills,
        segments=_segments(outcome),
        source=prov.get("source"), source_note=prov.get("note") if prov.get("source") else None,
        source_in=int(prov["source_in"]) if prov.get("source") and prov.get("source_in") is not None else None,
        handles=outcome.handles.asked if outcome.handles else None,
        handles_made=outcome.handles.made if outcome.handles else None,
        audio={"asked": True, "present": bool(outcome.audio)} if req is not None and req.audio else None,
    )


def totals(entries: Sequence[ReportEntry]) -> dict[str, Any]:
    """Counts per result, and the estimated cost of the placeholders that were sent.

    ``estimated_cost`` sums the known estimates of filled and failed
    placeholders (skipped ones cost nothing); None when none is known.
    """
    costs = [e.estimated_cost for e in entries if e.result != "skipped" and e.estimated_cost is not None]
    return {
        "filled": sum(e.result == "filled" for e in entries),
        "failed": sum(e.result == "failed" for e in entries),
        "skipped": sum(e.result == "skipped" for e in entries),
        "estimated_cost": round(sum(costs), 6) if costs else None,
    }
