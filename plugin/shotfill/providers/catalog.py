"""The model catalog: what each model accepts, as data.

The rules ship in ``catalog.toml`` beside this module and are merged with the
``[providers.NAME.models."MODEL-ID"]`` tables of ``shotfill.toml`` (the same
schema, :class:`shotfill.config.ModelRules`), key by key: a user can declare a
model the day it ships, or correct one key of a built-in one, without a
release.  :func:`model_spec` turns a merged entry into the :class:`ModelSpec`
the clients plan with.
"""

from __future__ import annotations

import functools
import re
import sys
from fractions import Fraction
from importlib import resources
from typing import Any, Optional

from pydantic import ValidationError

from shotfill.config import FRAME_RULE, ModelRules, ProviderSettings
from shotfill.errors import ConfigError, Rejected
from shotfill.rates import normalize_rate, parse_rate
from shotfill.providers.spec import ModelSpec, SizeStyle

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CATALOG_FILE = "catalog.toml"
#: keys that pick one form of "how long": a table giving one form replaces the other
_LIST_FORM = {"durations"}
_RANGE_FORM = {"min_seconds", "max_seconds", "step"}


@functools.lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    text = resources.files("shotfill.providers").joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    providers: dict[str, Any] = tomllib.loads(text).get("providers", {})
    return providers


def retired(provider: str) -> dict[str, str]:
    """Model ids the service has shut down -> the date it did (an OpenAI gateway may still serve a
    Sora name: a table in shotfill.toml declaring it wins)."""
    return dict(_raw().get(provider, {}).get("retired") or {})


@functools.lru_cache(maxsize=1)
def builtin() -> dict[str, tuple[Optional[str], dict[str, ModelRules]]]:
    """provider -> (default model, model id -> rules), read once from the shipped file."""
    raw = _raw()
    out: dict[str, tuple[Optional[str], dict[str, ModelRules]]] = {}
    for name, table in raw.items():
        unknown = set(table) - {"default_model", "models", "retired"}
        if unknown:
            raise ConfigError(f"{CATALOG_FILE}: providers.{name}: unknown key(s) {', '.join(sorted(unknown))}")
        models: dict[str, ModelRules] = {}
        for mid, rules in (table.get("models") or {}).items():
            try:
                models[mid] = ModelRules.model_validate(rules)
            except ValidationError as exc:
                raise _explain(exc, f"{CATALOG_FILE}: providers.{name}.models.\"{mid}\"") from None
        out[name] = (table.get("default_model"), models)
    return out


def _explain(exc: ValidationError, where: str) -> ConfigError:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "table"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        lines.append(f"  {key}: {msg}")
    return ConfigError(f"{where}: bad model rule(s):\n" + "\n".join(lines),
                       hint="see docs/providers/catalog.md for the keys")


def merge(base: Optional[ModelRules], over: Optional[ModelRules]) -> ModelRules:
    """``over``'s keys laid over ``base``'s; a table that gives one form of length drops the other's."""
    if base is None:
        return over or ModelRules()
    if over is None:
        return base
    data = base.model_dump(exclude_none=True)
    given = over.model_dump(exclude_none=True)
    if _LIST_FORM & set(given):
        for k in _RANGE_FORM:
            data.pop(k, None)
    if _RANGE_FORM & set(given):
        for k in _LIST_FORM:
            data.pop(k, None)
    for k, v in given.items():
        data[k] = {**data[k], **v} if isinstance(v, dict) and isinstance(data.get(k), dict) else v
    return ModelRules.model_validate(data)


def models_for(provider: str, settings: ProviderSettings) -> dict[str, ModelRules]:
    """Every model of a provider: the shipped ones, then those of shotfill.toml (in their order)."""
    shipped = builtin().get(provider, (None, {}))[1]
    merged = dict(shipped)
    for mid, rules in settings.models.items():
        merged[mid] = merge(shipped.get(mid), rules)
    return merged


def default_model(provider: str, settings: ProviderSettings) -> Optional[str]:
    """``model`` from shotfill.toml, else the catalog's default, else the first model declared."""
    if settings.model:
        return settings.model
    default = builtin().get(provider, (None, {}))[0]
    if default:
        return default
    return next(iter(models_for(provider, settings)), None)


def is_builtin(provider: str, model: str) -> bool:
    return model in builtin().get(provider, (None, {}))[1]


def frame_rule(text: Optional[str]) -> tuple[int, int]:
    """``"8n+1"`` -> (8, 1): counts 8k+1; ``"any"`` or none -> (1, 0)."""
    m = FRAME_RULE.match((text or "any").strip().lower())
    if not m or text in (None, "any"):
        return 1, 0
    step = int(m.group(1)) if m.group(1) else 1
    return max(step, 1), int(m.group(2) or 0)


def rate_of(value: Any) -> Fraction:
    if isinstance(value, str):
        return parse_rate(value)
    return normalize_rate(value)


def parse_size(text: str) -> tuple[int, int]:
    w, h = re.split(r"[x:]", text)
    return int(w), int(h)


def model_spec(provider: str, name: str, rules: ModelRules, size_style: SizeStyle,
               default_sizes: tuple[tuple[int, int], ...] = ((1280, 720), (720, 1280))) -> ModelSpec:
    """The plan-ready spec of one merged entry; an entry that cannot be planned is refused by name."""
    where = f"[providers.{provider}.models.\"{name}\"]"
    if not rules.durations and rules.min_seconds is None and rules.max_seconds is None:
        raise Rejected(f"{provider}: model '{name}' says nothing of how long its clips are",
                       hint=f"under {where} in shotfill.toml set durations = [5, 10], or min_seconds and "
                            "max_seconds (with frames and rates where the model counts frames)")
    step, offset = frame_rule(rules.frames)
    price = rules.price_per_second
    audio_price = rules.audio_price_per_second
    return ModelSpec(
        name=name,
        durations=tuple(sorted(float(d) for d in rules.durations or ())),
        min_seconds=rules.min_seconds,
        max_seconds=rules.max_seconds,
        step=rules.step,
        frame_step=step, frame_offset=offset,
        rates=tuple(rate_of(r) for r in rules.rates or ()),
        sizes=tuple(parse_size(s) for s in rules.sizes) if rules.sizes else default_sizes,
        size_style=size_style,
        first_frame=bool(rules.first_frame), last_frame=bool(rules.last_frame),
        last_needs_first=True if rules.last_needs_first is None else rules.last_needs_first,
        seed=bool(rules.seed), negative=bool(rules.negative),
        text_only=not rules.image_only,
        references=rules.references or 0, audio=bool(rules.audio), extend=bool(rules.extend),
        price_per_second=price if isinstance(price, (int, float)) else None,
        prices=dict(price) if isinstance(price, dict) else {},
        audio_price_per_second=audio_price if isinstance(audio_price, (int, float)) else None,
        audio_prices=dict(audio_price) if isinstance(audio_price, dict) else {},
        inputs=dict(rules.inputs or {}), extra=dict(rules.extra or {}),
        duration_type=rules.duration_type or "str",
        text_variant=rules.text_variant,
        builtin=is_builtin(provider, name),
        source=rules.source, date=rules.date,
    )


def describe(provider: str, settings: ProviderSettings, size_style: SizeStyle) -> list[dict[str, Any]]:
    """The merged catalog of one provider, for ``shotfill providers`` (rules as data, no secrets)."""
    rows = []
    for mid, rules in models_for(provider, settings).items():
        row: dict[str, Any] = {"name": mid, "builtin": is_builtin(provider, mid)}
        row.update(rules.model_dump(exclude_none=True, exclude={"inputs", "extra"}))
        row.setdefault("first_frame", False)
        row.setdefault("last_frame", False)
        row.setdefault("seed", False)
        row.setdefault("negative", False)
        row.setdefault("references", 0)
        row.setdefault("durations", [])
        row.setdefault("sizes", [])
        if settings.price_per_second is not None:
            row["price_per_second"] = settings.price_per_second
        row.setdefault("price_per_second", None)
        rows.append(row)
    return rows


def longest(spec: ModelSpec) -> Optional[float]:
    """The longest clip a model makes, in seconds (None: no upper bound known)."""
    if spec.durations:
        return spec.durations[-1]
    return spec.max_seconds

