"""Luma Dream Machine API (``https://api.lumalabs.ai/dream-machine/v1``).

Contract (lumalabs/lumaai-python ``resources/generations``, ``types/generation*.py``):

* ``POST /generations/video`` with JSON ``{model, prompt, aspect_ratio, duration, resolution}``;
  ``duration`` is a string ("5s", "9s"), ``aspect_ratio`` one of 1:1 16:9 9:16
  4:3 3:4 21:9 9:21, ``resolution`` 540p/720p/1080p/4k.  No seed, no negative.
* ``keyframes`` (``frame0`` first, ``frame1`` last) take only publicly fetchable
  image URLs or earlier generation ids.  ShotFill never uploads an editor's frames
  to a third-party host, so neighbour frames are not sent; the plan says so.
* ``GET /generations/{id}``: ``state`` queued -> dreaming -> completed | failed,
  ``failure_reason`` on failure, ``assets.video`` when done.  No progress number.
* ``assets.video`` is a public CDN URL: downloaded without the key.
* ``GET /generations?limit=&offset=`` lists generations (newest first): used to find
  a generation whose create got no answer (:meth:`LumaProvider.recover`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import httpx
from pydantic import BaseModel, ConfigDict

from shotfill.model import GenerationRequest
from shotfill.providers.base import JobHandle, JobStatus, ModelSpec, RemoteProvider, ServicePlan
from shotfill.providers._http import M, json_or_none, parse_answer

#: aspect ratios as (w, h); sent as "w:h" (``size_style="ratio"`` keeps 21:9 from becoming 7:3)
ASPECTS = ((16, 9), (9, 16), (1, 1), (4, 3), (3, 4), (21, 9), (9, 21))
#: output heights Luma renders, by name; 4k only when asked for in ``extra``
RESOLUTIONS = (("540p", 540), ("720p", 720), ("1080p", 1080))
#: how far back (s) a listed generation may have been created and still be the one our create made
RECOVER_SLACK = 30.0
#: the plan's words for neighbour frames that are not sent
KEYFRAME_NOTE = ("the shots before/after are not sent: Luma takes keyframes only as public image URLs, "
                 "and ShotFill does not upload an editor's frames to a third-party host")


class Assets(BaseModel):
    model_config = ConfigDict(extra="allow")

    video: Optional[str] = None
    image: Optional[str] = None
    progress_video: Optional[str] = None


class Generation(BaseModel):
    """What create, get and list return; ``request`` echoes the create body (used by recover)."""

    model_config = ConfigDict(extra="allow")

    id: str
    state: Optional[str] = None
    failure_reason: Optional[str] = None
    created_at: Optional[datetime] = None
    model: Optional[str] = None
    generation_type: Optional[str] = None
    assets: Optional[Assets] = None
    request: Optional[dict[str, Any]] = None


class GenerationList(BaseModel):
    model_config = ConfigDict(extra="allow")

    generations: list[Generation] = []
    count: Optional[int] = None
    has_more: Optional[bool] = None


def _spec(name: str, durations: tuple[float, ...] = (5.0, 9.0)) -> ModelSpec:
    return ModelSpec(name=name, durations=durations, sizes=ASPECTS, size_style="ratio",
                     first_frame=False, last_frame=False, seed=False, negative=False)


def _parse(resp: httpx.Response, model: type[M], what: str) -> M:
    return parse_answer("luma", model, json_or_none(resp), f"{what} (HTTP {resp.status_code})",
                        hint="check base_url: it must end in /dream-machine/v1")


def resolution_for(width: int, height: int) -> str:
    """The smallest Luma resolution that covers the timeline's short side (at most 1080p)."""
    short = min(width, height)
    for label, lines in RESOLUTIONS:
        if short <= lines:
            return label
    return RESOLUTIONS[-1][0]


class LumaProvider(RemoteProvider):
    """Dream Machine ray models: 5 s or 9 s, seven aspect ratios, text only."""

    name = "luma"
    default_base_url = "https://api.lumalabs.ai/dream-machine/v1"
    size_style = "ratio"

    def custom_spec(self, name: str) -> ModelSpec:
        """A model name this client does not know (a newer ray): the service judges it."""
        return self._configured(_spec(name))

    def resolution(self, req: GenerationRequest) -> Optional[str]:
        extra = self.settings.extra or {}
        if self.spec(req.model).name == "ray-1-6":
            return None
        return str(extra["resolution"]) if "resolution" in extra else resolution_for(req.width, req.height)

    def plan(self, req: GenerationRequest) -> ServicePlan:
        plan = super().plan(req)
        notes = [n for n in plan.notes if not n.startswith(("the shot before is not used",
                                                            "the shot after is not used"))]
        if req.first_frame or req.last_frame:
            notes.append(KEYFRAME_NOTE)
        res = self.resolution(req)
        if res:
            notes.append(f"resolution {res}" + ("" if "resolution" in (self.settings.extra or {})
                                                else " (from the timeline; set extra.resolution to change)"))
        if plan.model not in {m.name for m in self.models}:
            notes.append(f"'{plan.model}' is not a model this client knows: sent as it is, "
                         "with ray-2's durations and aspect ratios assumed")
        return plan.model_copy(update={"notes": notes})

    def build_body(self, req: GenerationRequest, plan: ServicePlan) -> dict[str, Any]:
        body: dict[str, Any] = {"model": plan.model, "prompt": req.prompt, "aspect_ratio": plan.size_label}
        if plan.model != "ray-1-6":
            body["duration"] = f"{plan.seconds:g}s"
            body["resolution"] = self.resolution(req)
        for k, v in (self.settings.extra or {}).items():
            if k not in ("resolution", "keyframes"):
                body.setdefault(k, v)
        return body

    async def submit(self, http: Any, req: GenerationRequest, plan: ServicePlan, body: Any) -> JobHandle:
        resp = await http.request("POST", "generations/video", json_body=body, what="create generation")
        gen: Generation = _parse(resp, Generation, "create generation")
        return JobHandle(job_id=gen.id, data={"model": plan.model})

    async def poll(self, http: Any, handle: JobHandle) -> JobStatus:
        resp = await http.request("GET", f"generations/{handle.job_id}", what="get generation")
        return self._status(_parse(resp, Generation, "get generation"))

    def _status(self, gen: Generation) -> JobStatus:
        data = {"state": gen.state}
        if gen.state == "completed":
            url = gen.assets.video if gen.assets else None
            if not url:
                return JobStatus(state="failed", error="the generation completed without a video asset", data=data)
            return JobStatus(state="succeeded", output_url=url, data=data)
        if gen.state == "failed":
            return JobStatus(state="failed", error=gen.failure_reason or "the service gave no reason", data=data)
        if gen.state == "queued":
            return JobStatus(state="queued", data=data)
        # dreaming, and any state this client does not know: keep polling (the deadline ends it)
        return JobStatus(state="running", data=data)

    async def download(self, http: Any, handle: JobHandle, status: JobStatus, dest: Path) -> Path:
        """From the public CDN without the key; a dead link is asked for afresh once."""
        return await self.download_public(http, handle, status, dest, stale_hint="Luma gave no fresh link for "
                                          "this generation; generate the shot again")

    async def recover(self, http: Any, req: GenerationRequest, plan: ServicePlan, since: float) -> Optional[JobHandle]:
        """Our generation among the newest listed: same prompt, model, duration and ratio, created since."""
        resp = await http.request("GET", "generations", params={"limit": 20, "offset": 0}, what="list generations")
        page: GenerationList = _parse(resp, GenerationList, "list generations")
        body = self.build_body(req, plan)
        found = []
        for gen in page.generations:
            asked = gen.request or {}
            when = gen.created_at
            if when is None or asked.get("prompt") != req.prompt:
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            if when.timestamp() < since - RECOVER_SLACK:
                continue
            if any(k in asked and asked[k] != body.get(k) for k in ("model", "duration", "aspect_ratio")):
                continue
            found.append(gen)
        if len(found) != 1:
            return None
        return JobHandle(job_id=found[0].id, data={"model": plan.model, "recovered": True})
