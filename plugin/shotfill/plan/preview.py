"""What a run would ask for, before anything is spent: one preview for ``scan``, ``--dry-run`` and Resolve.

Each placeholder becomes the request :mod:`shotfill.plan.requests` would make and the
provider's plan for it (duration, size, neighbours used, estimated cost), or
the reason there is none.  Without ``frames_dir`` no frame is extracted (the
neighbours' media paths stand in for their frames), so ``scan`` reads nothing;
with it, the real frames are pulled and the request body can be shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Literal, Optional

from pydantic import BaseModel

from shotfill.config import Settings
from shotfill.errors import Rejected, ShotFillError
from shotfill.model import Handles, Placeholder, match_wanted
from shotfill.plan import handles as handle_plan
from shotfill.plan.requests import PlanSettings, plan_request, preview_request
from shotfill.plan.segments import SegmentPlan, plan_segments, segment_requests_preview
from shotfill.scan.runon import SOURCE, label, serving
from shotfill.providers import get_provider, provider_endpoint
from shotfill.providers.base import Provider, ProviderContext, ServicePlan
from shotfill.rates import rate_str


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
    #: a hole longer than the model's longest clip, made in segments (``plan`` is then the first one's)
    segments: Optional[SegmentPlan] = None
    #: filled from a neighbour's own media instead (``source=handles``): "from shot_a's media (free)"
    from_media: Optional[str] = None
    #: the handles asked for and made (None: none asked for)
    handles: Optional[Handles] = None
    #: whether each take's colour will be matched to the neighbours, and toward which (see match_plan)
    match: Optional[str] = None

    @property
    def take_cost(self) -> Optional[float]:
        """The estimate for one take: its plan's, or every segment's added up (nothing from media)."""
        if self.from_media:
            return 0.0
        if self.segments is not None:
            return self.segments.estimated_cost
        return self.plan.estimated_cost if self.plan is not None else None

    @property
    def total_cost(self) -> Optional[float]:
        """The estimate for every take (and every segment of each)."""
        cost = self.take_cost
        return None if cost is None else cost * self.takes

    def plan_or_refusal(self) -> dict[str, Any]:
        """The plan as JSON (with its endpoint), or ``{"provider", "refused"}`` when there is none."""
        if self.from_media:
            return {"provider": self.provider, "from_media": self.from_media, "estimated_cost": 0.0,
                    "total_cost": 0.0, "takes": 1}
        if self.plan is not None:
            shown = {**self.plan.model_dump(mode="json"), "endpoint": self.endpoint, "takes": self.takes,
                     "total_cost": self.total_cost, "match": self.match, **self.handle_fields()}
            if self.segments is not None:   # the estimate of a take is then every segment's
                shown.update(estimated_cost=self.take_cost, segments=segments_json(self.segments))
            return shown
        return {"provider": self.provider, "refused": self.refused}

    def handle_fields(self) -> dict[str, Any]:
        """``handles`` (asked) and ``handles_made`` (fewer when the model's longest clip is short), when asked."""
        return {} if self.handles is None else {"handles": self.handles.asked, "handles_made": self.handles.made}


def preview_plans(placeholders: Iterable[Placeholder], *, width: int, height: int, settings: Settings,
                  provider: Optional[str] = None, model: Optional[str] = None,
                  frames_dir: Optional[Path] = None, bodies: bool = False,
                  takes: Optional[int] = None, prefer_handles: bool = False,
                  handles: Optional[int] = None, match: Optional[Literal["on", "off"]] = None,
                  audio: bool = False) -> list[PlanPreview]:
    """The plan of each placeholder with the run's provider and model (a note's own choice wins).

    ``takes``, ``handles``, ``match``: the run's ``--takes``, ``--handles``, ``--match``; a note's wins, the
    config's is the default.
    A hole a neighbour's own media fills (``source=handles``, ``prefer_handles``) asks nothing of anyone.
    ``audio``: the run's ``--audio``; a note's ``audio=`` wins.  A plan with sound says "with audio"
    (``ServicePlan.audio`` and a note); a shot asking it of a model without sound is refused.
    """
    ps = PlanSettings(width=width, height=height, provider=provider or settings.default_provider, model=model,
                      references=tuple(settings.references), audio=audio)
    ctx = ProviderContext(settings=settings)
    providers: dict[str, Provider] = {}
    rows = []
    for ph in placeholders:
        media = serving(ph, prefer_handles)
        if media is not None:
            rows.append(PlanPreview(id=ph.id, timecode=ph.timecode, frames=ph.duration, provider=SOURCE,
                                    prompt=ph.prompt, from_media=label(media)))
            continue
        hole = preview_request(ph, ps)
        row = PlanPreview(id=ph.id, timecode=ph.timecode, frames=ph.duration, provider=hole.provider,
                          prompt=ph.prompt, takes=ph.options.takes or takes or settings.takes,
                          match=match_plan(ph, hole.provider, ph.options.match or match or settings.match))
        rows.append(row)
        try:
            if hole.provider not in providers:
                providers[hole.provider] = get_provider(hole.provider, ctx)
            chosen = providers[hole.provider]
            # How many handles the model's longest clip leaves room for (no frame is read for this).
            row.handles = handle_plan.fit(hole, handle_plan.asked(ph, handles, settings.handles), chosen.plan)
        except ShotFillError as exc:
            row.refused = str(exc)
            continue
        made = row.handles.made if row.handles else 0
        req = (plan_request(ph, ps, frames_dir, handles=made) if frames_dir is not None
               else handle_plan.with_handles(hole, made))
        try:
            row.endpoint = provider_endpoint(settings, req.provider)
            if bodies:
                shown = chosen.request_preview(req)
                row.plan, row.body = shown.plan, shown.body
            else:
                row.plan = chosen.plan(req)
            try:
                segs = plan_segments(chosen, req, row.plan)
            except Rejected as exc:   # too long, and no way to continue a clip: the plan's refusal says so
                segs, row.plan = None, row.plan.model_copy(
                    update={"refused": exc.message.removeprefix(f"{req.provider}: ")})
            if segs is not None:
                row.segments, row.plan = segs, segs.plans[0]
                if bodies:   # the first segment's body: the others start on frames not made yet
                    row.body = chosen.request_preview(segment_requests_preview(req, segs)[0]).body
            row.refused = row.plan.refused
            if row.handles is not None and row.handles.note:
                row.plan = row.plan.model_copy(update={"notes": [row.handles.note, *row.plan.notes]})
        except ShotFillError as exc:
            row.refused = str(exc)
    return rows


def match_plan(ph: Placeholder, provider: str, choice: Optional[Literal["on", "off"]]) -> str:
    """What the colour match will do to the placeholder's clips, as ``scan`` and ``--dry-run`` say it.

    Whether a neighbour frame can really be read is known only when it is extracted; here a
    neighbour clip with media found stands for one.
    """
    if not match_wanted(choice, provider):
        return ("off (match=off)" if choice == "off"
                else "off: the offline generator draws its frames from the neighbours already")
    toward = [nb.name for nb in (ph.before, ph.after)
              if nb is not None and nb.kind == "clip" and nb.media_path]
    if toward:
        return "on, toward " + " and ".join(toward)
    return ("on, but no neighbour has media to match toward: the colour stays as generated" if choice == "on"
            else "off: no neighbour has media to match toward")


def segments_json(segs: SegmentPlan) -> dict[str, Any]:
    """The segments as ``scan --json`` and ``--dry-run --json`` show them."""
    return {"count": segs.count, "how": segs.how, "summary": segs.summary(),
            "segments": [{"segment": k + 1, "frames": f, "request_frames": r, "seconds": p.seconds,
                          "service_frames": p.frames, "fps": None if p.fps is None else rate_str(p.fps),
                          "estimated_cost": p.estimated_cost}
                         for k, (f, r, p) in enumerate(zip(segs.frames, segs.request_frames, segs.plans))],
            "estimated_cost": segs.estimated_cost}
