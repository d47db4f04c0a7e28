"""Shots that ask for sound of a model that makes none: found before anything is spent.

``scan`` and ``--dry-run`` show such a shot's plan as refused (:func:`shotfill.providers.spec.plan_for`);
``fill`` refuses the whole run up front (exit 2), naming each shot, its model, and the models of
that provider that do make sound, so that nothing is paid for a clip whose sound cannot come.
"""

from __future__ import annotations

from typing import Iterable, Optional

from shotfill.config import Settings
from shotfill.errors import PlaceholderError, ShotFillError
from shotfill.model import Placeholder
from shotfill.plan.requests import PlanSettings, audio_for, preview_request
from shotfill.providers import get_provider
from shotfill.providers.base import Provider, ProviderContext, RemoteProvider
from shotfill.providers.spec import audio_refusal


def refusals(placeholders: Iterable[Placeholder], settings: Settings, *, provider: Optional[str] = None,
             model: Optional[str] = None, audio: bool = False) -> list[str]:
    """One line per shot whose model cannot give the sound it asks for (``audio=on`` or ``--audio``)."""
    ps = PlanSettings(width=0, height=0, provider=provider or settings.default_provider, model=model, audio=audio)
    ctx = ProviderContext(settings=settings)
    built: dict[str, Provider] = {}
    lines = []
    for ph in placeholders:
        if not audio_for(ph, ps):
            continue
        req = preview_request(ph, ps)
        try:
            chosen = built.get(req.provider) or get_provider(req.provider, ctx)
            built[req.provider] = chosen
            if isinstance(chosen, RemoteProvider):
                spec = chosen.spec(req.model)
                if spec.audio:
                    continue
                name, models = spec.name, chosen.audio_models()
            else:    # the offline generator and ComfyUI workflows make no sound
                name, models = req.model or str(getattr(chosen, "model", "") or chosen.name), ()
        except ShotFillError:
            continue     # an unknown model is refused by the plan itself, with its own words
        lines.append(f"  {ph.id} at {ph.timecode}: {audio_refusal(req.provider, name, models)}")
    return lines


def check(placeholders: Iterable[Placeholder], settings: Settings, *, provider: Optional[str] = None,
          model: Optional[str] = None, audio: bool = False) -> None:
    """Refuse the run (PlaceholderError, exit 2) when any shot asks for sound its model cannot make."""
    lines = refusals(placeholders, settings, provider=provider, model=model, audio=audio)
    if lines:
        raise PlaceholderError(f"{len(lines)} placeholder(s) ask for audio their model does not make:\n"
                               + "\n".join(lines),
                               hint="choose a model with audio for them (model=... in the note, or --model), or "
                                    "drop audio=on / --audio; nothing was generated")
