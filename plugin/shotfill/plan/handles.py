"""Handles: frames generated before and after a hole, for the editor to trim, roll or dissolve into.

``handles=H`` (a note's, else ``--handles``, else ``handles`` in shotfill.toml)
asks for a clip of hole + 2H frames whose timecode starts H frames before the
hole's record timecode; the placed clip shows frames H .. H + hole - 1 of it.
When the model's longest clip cannot cover hole + 2H but covers the hole, the
handles shrink evenly to the most it can cover, and the run says so.  When the
hole itself is too long, it is made in segments (which cover the handles too).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable, Optional

from shotfill.model import GenerationRequest, Handles, Placeholder
from shotfill.providers.spec import ServicePlan
from shotfill.rates import frames_before, frames_to_timecode, timecode_to_frames

#: a provider's plan for a request (``Provider.plan``)
PlanFn = Callable[[GenerationRequest], ServicePlan]


def asked(ph: Placeholder, run: Optional[int], config: int) -> int:
    """The handles a placeholder asks for: its note's ``handles=``, else ``--handles``, else shotfill.toml's."""
    if ph.options.handles is not None:
        return ph.options.handles
    return run if run is not None else config


def handle_timecode(timecode: str, handles: int, rate: Fraction) -> str:
    """The timecode ``handles`` frames before ``timecode`` (drop frame when it is written with ``;``)."""
    if not handles:
        return timecode
    drop = ";" in timecode
    return frames_to_timecode(frames_before(timecode_to_frames(timecode, rate), handles, rate, drop), rate, drop)


def with_handles(req: GenerationRequest, handles: int) -> GenerationRequest:
    """A request for the hole alone (``req``) made to cover ``handles`` more frames each side."""
    if not handles:
        return req
    return req.model_copy(update={"frames": req.frames + 2 * handles, "handles": handles,
                                  "timecode": handle_timecode(req.timecode, handles, req.rate)})


def fit(hole: GenerationRequest, wanted: int, plan: PlanFn) -> Optional[Handles]:
    """The handles to make for a request of the hole alone: ``wanted``, or as many as the model's longest clip covers.

    Coverable means the provider's plan is not refused; a longer request is never easier to cover, so the
    most is found by halving.  None when no handles are asked for.
    """
    if wanted <= 0:
        return None
    full = plan(with_handles(hole, wanted))
    if full.refused is None:
        return Handles(asked=wanted, made=wanted)
    if plan(hole).refused is not None:
        # The hole alone is longer than the model's longest clip: it is made in segments where the model
        # can continue a clip (plan.segments), and segments cover the handles in full as well; where it
        # cannot, the request is refused either way.
        return Handles(asked=wanted, made=wanted)
    ok, too_many = 0, wanted
    while too_many - ok > 1:
        mid = (ok + too_many) // 2
        if plan(with_handles(hole, mid)).refused is None:
            ok = mid
        else:
            too_many = mid
    # A plan refused for length asks for the model's longest clip: its seconds say how long that is.
    note = (f"handles {wanted} → {ok} frames: {full.provider} {full.model}'s longest clip is "
            f"{_seconds(full.seconds)} s")
    return Handles(asked=wanted, made=ok, note=note)


def _seconds(value: float) -> str:
    return f"{round(value, 2):g}"
