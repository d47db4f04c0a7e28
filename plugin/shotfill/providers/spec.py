"""What one model takes, and how a placeholder maps onto it: the plan.

:class:`ModelSpec` is a catalog entry made ready to plan with (see
:mod:`shotfill.providers.catalog`); :func:`plan_for` picks, in the model's own
units, what the service is asked to make: the nearest frame rate it can be asked
for, the smallest frame count it makes that is not shorter than the hole at that
rate (or the shortest allowed duration not shorter than the hole), the allowed
size nearest the timeline's aspect, and first/last frames where it takes them.
Conform then retimes exactly to the timeline.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict

from shotfill.config import ProviderSettings
from shotfill.model import GenerationRequest, Rate
from shotfill.rates import rate_str

SizeStyle = Literal["size", "ratio", "aspect"]
#: a listed duration this much shorter than the hole still counts as long enough (float seconds)
_SLACK = Fraction(1, 1000)


class ModelSpec(BaseModel):
    """What one model of a service accepts (one merged catalog entry)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    #: allowed output durations in seconds, ascending; empty: any length in min_seconds..max_seconds
    durations: tuple[float, ...] = ()
    min_seconds: Optional[float] = None
    max_seconds: Optional[float] = None
    step: Optional[float] = None
    #: frame counts made: frame_step * n + frame_offset
    frame_step: int = 1
    frame_offset: int = 0
    #: frame rates the model can be asked for; empty: it picks its own
    rates: tuple[Fraction, ...] = ()
    #: allowed output sizes or aspect ratios as (w, h)
    sizes: tuple[tuple[int, int], ...] = ((1280, 720), (720, 1280))
    #: how the size is sent: "1280x720" (size), "1280:720" (ratio), "16:9" (aspect)
    size_style: SizeStyle = "size"
    first_frame: bool = False
    last_frame: bool = False
    #: a last frame only together with a first frame
    last_needs_first: bool = True
    seed: bool = False
    negative: bool = False
    text_only: bool = True
    references: int = 0
    audio: bool = False
    extend: bool = False
    price_per_second: Optional[float] = None
    #: prices per size ("1280x720", "720p", "16:9") when they differ
    prices: dict[str, float] = {}
    #: the price per second with sound asked for, where it differs (one, or per size); else the above
    audio_price_per_second: Optional[float] = None
    audio_prices: dict[str, float] = {}
    # -- model-generic APIs (fal, Replicate): the model's own input names ----------------------
    #: our name -> the model's input name (optionally ":int" / ":str" / ":float")
    inputs: dict[str, str] = {}
    #: inputs sent as they are
    extra: dict[str, Any] = {}
    #: JSON type of a ``duration`` input
    duration_type: Literal["str", "int", "float"] = "str"
    #: the text-to-video sibling used when there is no shot before (image-only models)
    text_variant: Optional[str] = None
    #: documented caveats shown in the plan
    caveats: tuple[str, ...] = ()
    #: shipped with ShotFill (False: declared in shotfill.toml)
    builtin: bool = True
    source: Optional[str] = None
    date: Optional[str] = None

    def price_for(self, size: tuple[int, int], label: str, audio: bool = False) -> Optional[float]:
        """The price per second at this size: one price, or the size's own (the dearest when unlisted);
        with ``audio``, the audio price where the catalog gives one."""
        if audio and (self.audio_price_per_second is not None or self.audio_prices):
            return _priced(self.audio_price_per_second, self.audio_prices, size, label)
        return _priced(self.price_per_second, self.prices, size, label)


def _priced(one: Optional[float], table: dict[str, float], size: tuple[int, int], label: str) -> Optional[float]:
    if one is not None:
        return one
    if not table:
        return None
    w, h = size
    for key in (f"{w}x{h}", label, f"{min(w, h)}p"):
        if key in table:
            return table[key]
    return max(table.values())


class ServicePlan(BaseModel):
    """How one request maps onto one model; shown by ``scan`` and ``fill --dry-run``."""

    provider: str
    model: str
    seconds: float
    #: what the service is asked to make, where it counts frames at a rate it is told (else None)
    frames: Optional[int] = None
    fps: Optional[Rate] = None
    size: tuple[int, int]
    size_label: str
    use_first: bool
    use_last: bool
    #: the reference images sent (the model may take fewer than given, or none)
    references: list[str] = []
    #: sound asked of the service (the shot asked, and the model makes it)
    audio: bool = False
    seed: Optional[int]
    negative: Optional[str]
    estimated_cost: Optional[float]
    notes: list[str] = []
    refused: Optional[str] = None


def size_label(size: tuple[int, int], style: str) -> str:
    w, h = size
    if style == "ratio":
        return f"{w}:{h}"
    if style == "aspect":
        g = math.gcd(w, h)
        return f"{w // g}:{h // g}"
    return f"{w}x{h}"


def nearest_size(target: tuple[int, int], sizes: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """The allowed size closest in aspect ratio (log scale), then in area."""
    tw, th = target
    ta = math.log(tw / th)
    return min(sizes, key=lambda s: (round(abs(math.log(s[0] / s[1]) - ta), 3), abs(s[0] * s[1] - tw * th)))


def nearest_rate(rate: Fraction, rates: tuple[Fraction, ...]) -> Optional[Fraction]:
    """The allowed rate nearest the timeline's (the higher of two as near); None: the model picks."""
    if not rates:
        return None
    return min(rates, key=lambda r: (abs(r - rate), -r))


def frames_at_least(need: int, step: int, offset: int) -> int:
    """The smallest count ``step * n + offset`` (n >= 0) that is at least ``need`` and at least 1."""
    k = max(0, -((offset - max(need, 1)) // step))
    n = step * k + offset
    return n if n >= 1 else n + step


def frames_at_most(limit: Fraction, step: int, offset: int) -> int:
    return step * max(0, math.floor((limit - offset) / step)) + offset


def _length(provider: str, spec: ModelSpec, hole: Fraction,
            fps: Optional[Fraction]) -> tuple[Fraction, Optional[int], Optional[str]]:
    """(seconds, frames or None, refusal or None) for a hole of ``hole`` seconds."""
    def too_long(longest: Fraction, frames: Optional[int] = None) -> str:
        clip = (f"{frames} frames at {rate_str(fps)} fps, {float(longest):.2f} s" if frames and fps
                else f"{float(longest):g} s")
        return (f"the hole is {float(hole):.2f} s, longer than {provider} {spec.name}'s longest clip "
                f"({clip}); split the gap into shorter placeholders or choose a provider with longer clips")

    if spec.durations:
        listed = [Fraction(d) for d in spec.durations]
        fitting = [d for d in listed if d >= hole - _SLACK]
        seconds = fitting[0] if fitting else listed[-1]
        refused = None if fitting else too_long(listed[-1])
        frames = None if fps is None else frames_at_least(math.ceil(seconds * fps), spec.frame_step,
                                                          spec.frame_offset)
        return seconds, frames, refused
    lo = Fraction(spec.min_seconds) if spec.min_seconds is not None else Fraction(0)
    hi = Fraction(spec.max_seconds) if spec.max_seconds is not None else None
    if fps is not None:
        n = frames_at_least(max(math.ceil(hole * fps), math.ceil(lo * fps)), spec.frame_step, spec.frame_offset)
        if hi is not None and n > hi * fps:
            n = frames_at_most(hi * fps, spec.frame_step, spec.frame_offset)
            return Fraction(n) / fps, n, too_long(Fraction(n) / fps, n)
        return Fraction(n) / fps, n, None
    seconds = max(hole, lo)
    if spec.step:
        step = Fraction(spec.step)
        seconds = lo + step * math.ceil((seconds - lo) / step)
    if hi is not None and seconds > hi:
        return hi, None, too_long(hi)
    return seconds, None, None


def audio_refusal(provider: str, model: str, audio_models: tuple[str, ...]) -> str:
    """Why a shot that asks for sound cannot have it from this model, and which models can give it."""
    others = (f"{provider}'s models with audio: {', '.join(audio_models)}" if audio_models
              else f"no {provider} model is known to make audio")
    return (f"audio=on asks for sound, but {provider} {model} makes none ({others}); choose one with "
            "model=... or drop audio=on (or --audio)")


def plan_for(provider: str, spec: ModelSpec, req: GenerationRequest, settings: ProviderSettings,
             audio_models: tuple[str, ...] = ()) -> ServicePlan:
    rate = Fraction(req.rate)
    hole = Fraction(req.frames) / rate
    notes: list[str] = []
    fps = nearest_rate(rate, spec.rates)
    seconds, frames, refused = _length(provider, spec, hole, fps)
    if refused is None and seconds > hole:
        made = f"{frames} frames at {rate_str(fps)} fps ({float(seconds):.2f} s)" if frames and fps else \
            f"{float(seconds):g} s"
        notes.append(f"generates {made} for a {float(hole):.2f} s hole; conform trims the rest")
    if fps is not None and fps != rate:
        notes.append(f"made at {rate_str(fps)} fps, the nearest rate the model takes to the timeline's "
                     f"{rate_str(rate)}; conform retimes it frame-exactly")
    size = nearest_size((req.width, req.height), spec.sizes)
    label = size_label(size, spec.size_style)
    use_first = bool(spec.first_frame and req.first_frame)
    use_last = bool(spec.last_frame and req.last_frame and (use_first or not spec.last_needs_first))
    if req.first_frame and not use_first:
        notes.append("the shot before is not used: the model takes no first frame")
    if req.last_frame and not use_last:
        notes.append("the shot after is not used: the model takes no last frame" if not spec.last_frame
                     else "the shot after is not used: the model takes a last frame only with a first frame")
    if req.negative and not spec.negative:
        notes.append("negative prompt not sent: the model takes none")
    refs = list(req.references[:spec.references])
    if req.references and not refs:
        notes.append(f"reference images not sent: {provider} {spec.name} takes none")
    elif len(refs) < len(req.references):
        notes.append(f"only the first {len(refs)} of {len(req.references)} reference images are sent: "
                     f"{provider} {spec.name} takes {spec.references}")
    elif refs:
        notes.append(f"reference images sent: {', '.join(Path(r).name for r in refs)}")
    audio = bool(req.audio and spec.audio)
    if req.audio and not spec.audio:
        refused = refused or audio_refusal(provider, spec.name, audio_models)
    elif audio:
        notes.append("with audio: the model's sound goes on an audio track under the clip")
    price = settings.price_per_second if settings.price_per_second is not None else spec.price_for(size, label, audio)
    return ServicePlan(
        provider=provider, model=spec.name, seconds=float(seconds), frames=frames, fps=fps, size=size,
        size_label=label, use_first=use_first, use_last=use_last, references=refs, audio=audio,
        seed=req.seed if spec.seed else None, negative=req.negative if spec.negative else None,
        estimated_cost=None if price is None else round(price * float(seconds), 4),
        notes=notes, refused=refused,
    )
