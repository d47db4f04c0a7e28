"""Models described by the names of their inputs (fal, Replicate: any video model).

Hosted model zoos take the same few values under different input names
(``image_url``, ``start_image``, ``first_frame_image``...).  A catalog entry
names them (``inputs``, ``extra``); a model declared in ``shotfill.toml``
(``[providers.fal.models."ID"]``) is sent exactly like a shipped one.  The
older per-provider ``fields`` / ``durations`` / ``extra`` still describe a
model the catalog does not list (see :func:`mapped_custom`).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Callable, Literal, Optional

from shotfill.config import ProviderSettings
from shotfill.errors import Rejected
from shotfill.model import GenerationRequest
from shotfill.rates import normalize_rate
from shotfill.providers._frames import reference_data_uri
from shotfill.providers.base import (ModelSpec, RemoteProvider, ServicePlan, plan_for,
                                     size_label)


#: our names for the values a model may take, in the order they go into a body
OUR_FIELDS = ("prompt", "negative", "seed", "first_frame", "last_frame", "aspect_ratio", "resolution",
              "duration", "num_frames", "fps", "references", "audio")
_CASTS = ("str", "int", "float")


#: a model whose request body is its own flat input object: a ModelSpec with ``inputs``
MappedModel = ModelSpec


def parse_fields(fields: Optional[dict[str, str]], provider: str) -> dict[str, str]:
    """``fields`` from shotfill.toml, checked: only our names, each a non-empty input name."""
    out: dict[str, str] = {}
    for ours, theirs in (fields or {}).items():
        if ours not in OUR_FIELDS:
            raise Rejected(f"{provider}: fields.{ours} is not a value ShotFill sends",
                           hint="fields may name: " + ", ".join(OUR_FIELDS))
        name, _, cast = str(theirs).partition(":")
        if not name or (cast and cast not in _CASTS):
            raise Rejected(f"{provider}: fields.{ours} = '{theirs}' is not an input name",
                           hint="write the model's input name, optionally with :int, :str or :float")
        out[ours] = str(theirs)
    return out


def mapped_custom(provider: str, name: str, settings: ProviderSettings, *,
                  duration_type: Literal["str", "int", "float"],
                  image_hint: bool) -> MappedModel:
    """A model this client does not ship, described by ``fields`` / ``durations`` / ``extra``.

    Which of our values it takes follows from ``fields``; its durations must be
    given; a ``num_frames`` model counts ``seconds * fps + 1`` frames at the fps
    given in ``extra`` under the ``fps`` input (16 when not given, as Wan).
    A model whose id says image-to-video needs the shot before.
    """
    fields = parse_fields(settings.fields, provider)
    if not settings.durations:
        raise Rejected(f"{provider}: model '{name}' is not one ShotFill knows, and no durations are set for it",
                       hint=f"declare it under [providers.{provider}.models.\"{name}\"] in shotfill.toml: "
                            "durations = [5, 10] (or min_seconds / max_seconds with frames and rates), sizes, "
                            "first_frame, and inputs = {prompt = \"prompt\", first_frame = \"image_url\", "
                            "duration = \"duration\"} naming the model's inputs")
    if "prompt" not in fields:
        fields["prompt"] = "prompt"
    caveats: list[str] = []
    rates: tuple[Fraction, ...] = ()
    frame_step, frame_offset = 1, 0
    if "num_frames" in fields:
        fps_input = fields.get("fps", "").partition(":")[0]
        given = (settings.extra or {}).get(fps_input) if fps_input else None
        rates = (normalize_rate(given if isinstance(given, (int, float)) else 16),)
        frame_step, frame_offset = 4, 1
        if given is None:
            caveats.append("num_frames assumes 16 fps: set the model's fps in extra to change it")
    aspects = "aspect_ratio" in fields
    sizes = ((1280, 720), (720, 1280), (960, 960)) if aspects else ((1280, 720), (720, 1280))
    # A resolution input gets 720p, the size every listed size is at.
    extra = {fields.pop("resolution").partition(":")[0]: "720p"} if "resolution" in fields else {}
    return ModelSpec(
        name=name, durations=tuple(sorted(float(d) for d in settings.durations)), sizes=sizes,
        size_style="aspect" if aspects else "size",
        first_frame="first_frame" in fields, last_frame="last_frame" in fields,
        seed="seed" in fields, negative="negative" in fields,
        text_only=not (image_hint and "first_frame" in fields), rates=rates,
        frame_step=frame_step, frame_offset=frame_offset,
        inputs=fields, duration_type=duration_type, caveats=tuple(caveats), builtin=False,
        extra=extra,
    )


def configured_model(spec: ModelSpec, settings: ProviderSettings, provider: str) -> ModelSpec:
    """A shipped model with ``fields`` from shotfill.toml laid over its input names; naming an
    input for a value the model was not known to take (e.g. a last frame) turns that value on."""
    if settings.fields:
        fields = parse_fields(settings.fields, provider)
        flags = {flag: True for ours, flag in (("first_frame", "first_frame"), ("last_frame", "last_frame"),
                                               ("seed", "seed"), ("negative", "negative")) if ours in fields}
        spec = spec.model_copy(update={"inputs": {**spec.inputs, **fields}, **flags})
    return spec


def mapped_plan(provider: RemoteProvider, req: GenerationRequest) -> ServicePlan:
    """plan_for, plus: an image-only model without a shot before uses its text sibling or is refused."""
    spec = provider.spec(req.model)
    notes: list[str] = []
    if not spec.text_only and not req.first_frame:
        variant = getattr(spec, "text_variant", None)
        if variant:
            notes.append(f"{spec.name} makes video only from the shot before, and there is none: "
                         f"this hole is made with {variant} instead")
            spec = provider.spec(variant)
        else:
            plan = plan_for(provider.name, spec, req, provider.settings, provider.audio_models())
            return plan.model_copy(update={
                "refused": plan.refused or (
                    f"{provider.name} {spec.name} makes video only from the shot before, and this hole has "
                    "none; choose a text-to-video model for it (model=... in the GEN: note)")})
    plan = plan_for(provider.name, spec, req, provider.settings, provider.audio_models())
    notes.extend(getattr(spec, "caveats", ()))
    return plan.model_copy(update={"notes": notes + plan.notes})


def _cast(value: Any, cast: str) -> Any:
    if cast == "int":
        return int(round(float(value)))
    if cast == "float":
        return float(value)
    if cast == "str":
        return f"{value:g}" if isinstance(value, float) else str(value)
    return value


def mapped_inputs(spec: ModelSpec, req: GenerationRequest, plan: ServicePlan, extra: Optional[dict[str, Any]],
                  image: Callable[[str], str]) -> dict[str, Any]:
    """The model's input object for this plan: our values under its names, then ``extra`` as given."""
    f = spec.inputs
    body: dict[str, Any] = {}

    def put(ours: str, value: Any, default_cast: str = "") -> None:
        if ours in f:
            name, _, cast = f[ours].partition(":")
            body[name] = _cast(value, cast or default_cast)

    put("prompt", req.prompt)
    if plan.negative:
        put("negative", plan.negative)
    if plan.seed is not None:
        put("seed", plan.seed, "int")
    if plan.use_first and req.first_frame:
        put("first_frame", image(req.first_frame))
    if plan.use_last and req.last_frame:
        put("last_frame", image(req.last_frame))
    if plan.references:
        put("references", [reference_data_uri(r) for r in plan.references])
    put("aspect_ratio", size_label(plan.size, "aspect"))
    if "num_frames" in f and plan.frames is not None:
        put("num_frames", plan.frames, "int")
    else:
        put("duration", plan.seconds, spec.duration_type)
    if plan.fps is not None:
        put("fps", plan.fps, "int" if plan.fps.denominator == 1 else "float")
    # Said either way where the model names the switch: LTX-2 makes sound unless told not to.
    put("audio", plan.audio)
    for k, v in spec.extra.items():
        body.setdefault(k, v)
    body.update(extra or {})
    return body


_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")


def percent_in(text: str) -> Optional[float]:
    """The last percentage in log text (tqdm bars: `` 45%|####5     | 9/20``), as 0..1."""
    found = _PERCENT.findall(text or "")
    if not found:
        return None
    return max(0.0, min(1.0, float(found[-1]) / 100))


# -- fal ------------------------------------------------------------------------------------------
