"""What a run would ask for, before anything is spent: one preview for ``scan``, ``--dry-run`` and Resolve.

Each placeholder becomes the request :mod:`shotfill.plan.requests` would make and the
provider's plan for it (duration, size, neighbours used, estimated cost), or
the reason there is none.  Without ``frames_dir`` no frame is extracted (the
neighbours' media paths stand in for their frames), so ``scan`` reads nothing;
with it, the real frames are pulled and the request body can be shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

from pydantic import BaseModel

from shotfill.config import Settings
from shotfill.errors import ShotFillError
from shotfill.model import Placeholder
from shotfill.plan.requests import PlanSettings, plan_request, preview_request
from shotfill.providers import get_provider, provider_endpoint
from shotfill.providers.base import Provider, ProviderContext, ServicePlan


class PlanPreview(BaseModel):
    """One placeholder's plan, or why it has none (``refused``)."""

    id: str
    timecode: str
    frames: int
    provider: str
    prompt: str
    plan: Optional[ServicePlan] = None
    #: the request body as it would be sent (images shortened); only with ``bodies``
    body: Any = None
    refused: Optional[str] = None
    #: where the requests go and which setting says so (``base_url``, ``base_url_source``, ``refused``)
    endpoint: Optional[dict[str, Any]] = None
    #: takes to be made, each a request like this one with the next seed, each paid for
    takes: int = 1

    @property
    def total_cost(self) -> Optional[float]:
        """The estimate for every take (the plan's is for one)."""
        cost = self.plan.estimated_cost if self.plan is not None else None
        return None if cost is None else cost * self.takes

    def plan_or_refusal(self) -> dict[str, Any]:
        """The plan as JSON (with its endpoint), or ``{"provider", "refused"}`` when there is none."""
        if self.plan is not None:
            return {**self.plan.model_dump(mode="json"), "endpoint": self.endpoint, "takes": self.takes,
                    "total_cost": self.total_cost}
        return {"provider": self.provider, "refused": self.refused}


def preview_plans(placeholders: Iterable[Placeholder], *, width: int, height: int, settings: Settings,
                  provider: Optional[str] = None, model: Optional[str] = None,
                  frames_dir: Optional[Path] = None, bodies: bool = False,
                  takes: Optional[int] = None, audio: bool = False) -> list[PlanPreview]:
    """The plan of each placeholder with the run's provider and model (a note's own choice wins).

    ``takes``: the run's ``--takes``; a note's ``takes=`` wins, the config's is the default.
    ``audio``: the run's ``--audio``; a note's ``audio=`` wins.  A plan with sound says "with audio"
    (``ServicePlan.audio`` and a note); a shot asking it of a model without sound is refused.
    """
    ps = PlanSettings(width=width, height=height, provider=provider or settings.default_provider, model=model,
                      references=tuple(settings.references), audio=audio)
    ctx = ProviderContext(settings=settings)
    providers: dict[str, Provider] = {}
    rows = []
    for ph in placeholders:
        req = plan_request(ph, ps, frames_dir) if frames_dir is not None else preview_request(ph, ps)
        row = PlanPreview(id=ph.id, timecode=ph.timecode, frames=ph.duration, provider=req.provider,
                          prompt=ph.prompt, takes=ph.options.takes or takes or settings.takes)
        try:
            if req.provider not in providers:
                providers[req.provider] = get_provider(req.provider, ctx)
            chosen = providers[req.provider]
            row.endpoint = provider_endpoint(settings, req.provider)
            if bodies:
                shown = chosen.request_preview(req)
                row.plan, row.body = shown.plan, shown.body
            else:
                row.plan = chosen.plan(req)
            row.refused = row.plan.refused
        except ShotFillError as exc:
            row.refused = str(exc)
        rows.append(row)
    return rows
