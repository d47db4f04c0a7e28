"""Make a placeholder's segments: one job each, in order, each starting on the last frame of the one before.

Segment k+1's request carries segment k's last shown frame (taken from segment k's downloaded
file, :func:`shotfill.media.conform.last_shown_frame`), so it can only be submitted once segment k
has landed: a placeholder's segments run one after the other, while other placeholders run
concurrently as ever.  Each segment goes through the runner's one path for a request (cache ->
journal -> resumed job -> new job), so each has its own journal row and cache entry: a segment that
fails fails the placeholder, and the segments already paid stay kept, so the next run pays only for
the missing ones (a segment's hash names the segment it continues, not its first frame's bytes, so
the kept ones are found again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from shotfill.errors import ShotFillError
from shotfill.media.conform import Part, last_shown_frame
from shotfill.model import GeneratedMedia, GenerationRequest, Outcome, Segment
from shotfill.plan.segments import segment_request

#: runs a CPU stage where conforms run (the executor's ``cpu``)
Cpu = Callable[..., Awaitable[Any]]


def _part(seg: Segment, path: str) -> Part:
    # Segments after the first start on the frame the one before ends on (plan.segments): not shown twice.
    return Part(path=path, frames=seg.frames, skip=0 if seg.index == 1 else 1)


def _frame_png(frames_dir: Path, req: GenerationRequest) -> Path:
    take = f"_take{req.take}" if req.take > 1 else ""
    return frames_dir / f"{req.placeholder_id}{take}_seg{req.segment}_{req.request_hash[:16]}_last.png"


def _request(out: Outcome, seg: Segment, first: Optional[str], before: str) -> GenerationRequest:
    """Segment ``seg``'s request; ``before``: the request hash of the segment it continues ("" for the first)."""
    assert out.request is not None
    return segment_request(out.request, seg.index, len(out.segments), seg.request_frames, first,
                           chained_from=before, hashed=True)


def survey(out: Outcome, paid: Callable[[GenerationRequest], bool]) -> None:
    """Mark the segments paid before this run (cached or journaled), so the budget counts only the rest.

    Each segment's hash follows from the one before's (``chained_from``), so no file is read.
    """
    assert out.request is not None
    before = ""
    for i, seg in enumerate(out.segments):
        req = _request(out, seg, out.request.first_frame if i == 0 else None, before)
        out.segments[i] = seg.model_copy(update={"request_hash": req.request_hash,
                                                 "status": "paid" if paid(req) else seg.status})
        before = req.request_hash


def first_request(out: Outcome) -> GenerationRequest:
    """Segment 1's request: the only one that can be submitted before any segment has landed."""
    return _request(out, out.segments[0], out.request.first_frame if out.request else None, "")


def unpaid_cost(out: Outcome) -> Optional[float]:
    """What the placeholder's segments not yet paid for are estimated to cost (None: one has no price)."""
    costs = [s.estimated_cost for s in out.segments if s.status != "paid"]
    return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


def skipped(out: Outcome) -> None:
    out.segments = [s if s.status == "paid" else s.model_copy(update={"status": "skipped"}) for s in out.segments]


async def generate(out: Outcome, make: Callable[[GenerationRequest], Awaitable[GeneratedMedia]], cpu: Cpu,
                   frames_dir: Path, note: Callable[[str], None]) -> list[GeneratedMedia]:
    """Every segment's media, in order; the first failure fails the placeholder (the earlier ones are kept)."""
    assert out.request is not None
    first = out.request.first_frame
    made: list[GeneratedMedia] = []
    n = len(out.segments)
    before = ""
    for i, seg in enumerate(out.segments):
        req = _request(out, seg, first, before)
        before = req.request_hash
        note(f"segment {seg.index} of {n}: {seg.frames} frames")
        try:
            gen = await make(req)
        except BaseException as exc:
            out.segments[i] = seg.model_copy(update={"request_hash": req.request_hash, "status": "failed"})
            if isinstance(exc, ShotFillError):   # say which segment, and that the ones before are kept
                which = "segment 1 is" if i == 1 else f"segments 1 to {i} are"
                kept = (f"; {which} kept (journal and cache): the next run pays only for segment {seg.index} "
                        "onward" if i else "")
                exc.message = f"segment {seg.index} of {n}: {exc.message}{kept}"
            raise
        out.segments[i] = seg.model_copy(update={"request_hash": req.request_hash, "job_id": gen.job_id,
                                                 "status": "paid" if seg.status == "paid" else "made"})
        made.append(gen)
        if i + 1 < n:
            first = str(await cpu(last_shown_frame, _part(seg, gen.path), out.request.rate, _frame_png(frames_dir, req)))
    return made


def parts(out: Outcome, made: list[GeneratedMedia]) -> list[Part]:
    """What the joined conform takes: each segment's file, the frames it shows, the frame it drops."""
    return [_part(seg, gen.path) for seg, gen in zip(out.segments, made)]


def provenance(out: Outcome) -> list[dict[str, Any]]:
    """Each segment as the clip's metadata and the report record it."""
    return [s.model_dump(mode="json") for s in out.segments]
