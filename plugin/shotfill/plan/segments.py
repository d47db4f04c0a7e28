"""A hole longer than the model's longest clip, planned as segments that continue one another.

Where the model takes a first frame, segment k+1 is asked to start on the last frame segment k
shows (extracted from segment k's downloaded file by :mod:`shotfill.jobs.segments`), so the
segments play as one shot.  A first-frame-conditioned clip starts ON the frame it is given: the
OpenAI-style Videos API's ``input_reference`` "acts as the first frame", Runway's ``promptImage``
at position ``first``, Veo's ``image``, Luma's ``frame0`` and the fal/Replicate start-image inputs
are all the video's frame 0.  So segment k+1's first frame repeats segment k's last one: it is
asked for one frame more and conform drops that frame, and the join shows every picture once.

The plan is the fewest segments of near-equal length (the frames asked for differ by at most one),
each within the model's own rules: every segment is a :class:`GenerationRequest` planned by the
provider (durations or min..max seconds, frame rule, rates: :func:`shotfill.providers.spec.plan_for`),
with its own hash (segment index and count in it), journal row, cache entry and cost.

``extend`` (the service continues a clip itself) is used only where ShotFill's client sends the
service's documented extend call (:attr:`Provider.extends`); no client does yet, so a model whose
catalog entry says ``extend = true`` but takes no first frame keeps the refusal, saying why.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict

from shotfill.errors import Rejected
from shotfill.model import GenerationRequest, Segment
from shotfill.plan.requests import request_hash
from shotfill.providers.base import Provider, RemoteProvider, ServicePlan

#: stands in for a segment's first frame before the segment ahead of it exists (a plan only asks
#: whether there is one; nothing reads it)
PENDING_FRAME = "(the last frame of the segment before)"


class SegmentPlan(BaseModel):
    """How one hole is made in segments; shown by ``scan`` and ``fill --dry-run``."""

    model_config = ConfigDict(frozen=True)

    #: how segment k+1 continues segment k
    how: str = "first_frame"
    #: frames each segment shows on the timeline (they add up to the hole)
    frames: tuple[int, ...]
    #: frames each is asked for: one more after the first (its first frame, the one before's last, is dropped)
    request_frames: tuple[int, ...]
    #: the provider's plan of each segment
    plans: tuple[ServicePlan, ...]

    @property
    def count(self) -> int:
        return len(self.frames)

    @property
    def estimated_cost(self) -> Optional[float]:
        """Every segment's estimate added up; None when one has no price."""
        costs = [p.estimated_cost for p in self.plans]
        return None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 4)

    def rows(self) -> list[Segment]:
        return [Segment(index=k + 1, frames=f, request_frames=r, seconds=p.seconds, estimated_cost=p.estimated_cost)
                for k, (f, r, p) in enumerate(zip(self.frames, self.request_frames, self.plans))]

    def summary(self) -> str:
        """One line: ``3 segments of 21, 20, 19 frames (1 s each), each continuing from the one before's last frame``."""
        secs = sorted({p.seconds for p in self.plans})
        length = f"{secs[0]:g} s each" if len(secs) == 1 else "; ".join(f"{p.seconds:g} s" for p in self.plans)
        return (f"{self.count} segments of {', '.join(str(f) for f in self.frames)} frames ({length}), "
                "each starting on the last frame of the one before")


def longest_frames(provider: Provider, req: GenerationRequest) -> int:
    """The most frames at the request's rate that the provider plans without refusing (0: none).

    Searched through the provider's own plan, so every rule of the model (listed durations,
    min..max seconds, frame rule, rates) and of the client is the one applied to the segments.
    """
    def fits(n: int) -> bool:
        return provider.plan(req.model_copy(update={"frames": n})).refused is None

    if not fits(1):
        return 0
    lo, hi = 1, req.frames   # fits(lo), not fits(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def split(frames: int, longest: int) -> Optional[tuple[int, ...]]:
    """The frames asked of each of the fewest segments covering ``frames``, near-equal, none over ``longest``.

    Segments after the first show one frame fewer than they are asked for (see the module's note),
    so n segments ask for ``frames + n - 1`` in all.  None: not even two-frame segments fit.
    """
    if longest < 2:
        return None
    n = 2
    while -(-(frames + n - 1) // n) > longest:
        n += 1
    total = frames + n - 1
    return tuple(total // n + (1 if k < total % n else 0) for k in range(n))


def why_not(provider: Provider, req: GenerationRequest) -> Optional[str]:
    """Why the model cannot be chained (None: it can, by its first frame)."""
    spec = provider.spec(req.model) if isinstance(provider, RemoteProvider) else None
    if spec is None:
        return f"{provider.name} gives no way to continue a clip"
    if spec.first_frame:
        return None
    name = f"{provider.name} {spec.name}"
    if spec.extend and not provider.extends:
        return (f"{name} takes no first frame, and its catalog entry's extend = true is not used: ShotFill's "
                f"{provider.name} client does not send the service's extend call")
    return f"{name} can continue a clip neither from a first frame (first_frame) nor by extending it (extend)"


def plan_segments(provider: Provider, req: GenerationRequest, plan: ServicePlan) -> Optional[SegmentPlan]:
    """The segments of a hole longer than the model's longest clip; None when it needs none.

    None also when the plan is refused for another reason than length (that refusal stands).
    Raises Rejected, with the length refusal and why, when the model cannot continue a clip.
    """
    if plan.refused is None:
        return None
    longest = longest_frames(provider, req)
    if longest == 0 or longest >= req.frames:
        return None
    cannot = why_not(provider, req)
    asked = split(req.frames, longest)
    if cannot is None and asked is None:
        cannot = f"its longest clip is {longest} frame(s) at the timeline's rate"
    if cannot is not None or asked is None:
        raise Rejected(f"{provider.name}: {plan.refused}; it cannot be made in segments either: {cannot}",
                       hint="choose a model that takes a first frame (first_frame = true), or split the gap")
    n = len(asked)
    plans = tuple(provider.plan(segment_request(req, k + 1, n, r, PENDING_FRAME if k else req.first_frame))
                  for k, r in enumerate(asked))
    refused = next((p.refused for p in plans if p.refused), None)
    if refused is not None:
        raise Rejected(f"{provider.name}: a segment of the hole is refused: {refused}")
    shown = tuple(r - (1 if k else 0) for k, r in enumerate(asked))
    return SegmentPlan(frames=shown, request_frames=asked, plans=plans)


def segment_request(req: GenerationRequest, index: int, count: int, frames: int,
                    first_frame: Optional[str], *, chained_from: str = "", hashed: bool = False) -> GenerationRequest:
    """Segment ``index`` of ``count`` of the whole-hole ``req``: its length, its first frame (the shot
    before for the first, the segment before's last frame for the others, whose request hash is
    ``chained_from``), the shot after only for the last; ``hashed``: with its request hash."""
    seg = req.model_copy(update={
        "frames": frames, "segment": index, "segments": count, "first_frame": first_frame,
        "last_frame": req.last_frame if index == count else None, "request_hash": "",
        "chained_from": chained_from if index > 1 else ""})
    return seg.model_copy(update={"request_hash": request_hash(seg)}) if hashed else seg


def segment_requests_preview(req: GenerationRequest, segs: SegmentPlan) -> list[GenerationRequest]:
    """Every segment's request as planned (the frames ahead of segment 1 stood in for)."""
    return [segment_request(req, k + 1, segs.count, r, PENDING_FRAME if k else req.first_frame)
            for k, r in enumerate(segs.request_frames)]
