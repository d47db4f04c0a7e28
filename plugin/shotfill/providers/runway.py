"""Runway API (``api.dev.runwayml.com``): image_to_video / text_to_video tasks.

Contract (runwayml/sdk-python types, docs.dev.runwayml.com):

* every request carries ``Authorization: Bearer <RUNWAYML_API_SECRET>`` and
  ``X-Runway-Version: 2024-11-06`` (required);
* ``POST /v1/image_to_video`` or ``POST /v1/text_to_video`` with a camelCase
  JSON body answers ``{"id": ...}``; ``GET /v1/tasks/{id}`` walks
  PENDING -> (THROTTLED) -> RUNNING (``progress`` 0..1) -> SUCCEEDED | FAILED | CANCELLED;
* neighbour frames go inline as ``promptImage: [{"uri": "data:image/png;base64,...",
  "position": "first"|"last"}]`` (data URIs up to 5 MB), so no frame ever
  touches a third-party host;
* outputs are public signed URLs that expire (24-48 h): they are fetched
  without the key, and an expired one is refreshed once by re-reading the task.

Neighbour frames, per model: gen4_turbo / gen4.5 / veo3 take a first frame,
veo3.1(_fast) a first and a last one.  With no shot before, the request goes
to ``text_to_video``; gen4_turbo has no text-only mode, so such a hole is
made with gen4.5 instead, and the plan says so.

Runway has no task listing, so a submit that got no answer cannot be
recovered: it stays ``uncertain`` in the journal (never resent).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from shotfill.errors import Rejected
from shotfill.model import GenerationRequest
from shotfill.providers._frames import fit_frames, png_size
from shotfill.providers._http import M, parse_answer
from shotfill.providers.base import (JobHandle, JobStatus, ModelSpec, RemoteProvider, ServicePlan, plan_for,
                                     png_data_uri)

API_VERSION = "2024-11-06"

#: ratios of the gen4 family (image_to_video); text_to_video with gen4.5 takes only the first two
_GEN45_T2V_RATIOS = ((1280, 720), (720, 1280))

#: the model a gen4_turbo hole without a shot before is made with (gen4_turbo needs an image)
TEXT_FALLBACK = "gen4.5"
#: promptText limit, in UTF-16 code units
MAX_PROMPT_UNITS = 1000
#: largest data URI Runway takes (5 MB); bigger frames are scaled down to the output size first
MAX_DATA_URI = 5 * 1024 * 1024
SEED_MAX = 4294967295


class RunwayTask(BaseModel):
    """``GET /v1/tasks/{id}``: one shape for every status; only the fields we act on are typed."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    status: str
    created_at: Optional[str] = Field(default=None, alias="createdAt")
    progress: Optional[float] = None
    output: Optional[list[str]] = None
    failure: Optional[str] = None
    failure_code: Optional[str] = Field(default=None, alias="failureCode")


class RunwayCreated(BaseModel):
    """The answer to a create call: the task id only."""

    model_config = ConfigDict(extra="allow")

    id: str


class RunwayProvider(RemoteProvider):
    name = "runway"
    default_base_url = "https://api.dev.runwayml.com"
    size_style = "ratio"

    # -- headers ---------------------------------------------------------------------------

    def extra_headers(self) -> dict[str, str]:
        return {"X-Runway-Version": API_VERSION}

    # -- models and plan -------------------------------------------------------------------

    def custom_spec(self, name: str) -> ModelSpec:
        """A newer model of a known family (``gen4.5*``, ``gen4*``, ``veo3.1*``, ``veo3*``) is described like
        that family and sent as written: the service has the last word on it."""
        for prefix, known in (("veo3.1", "veo3.1"), ("gen4.5", "gen4.5"), ("gen4", "gen4_turbo")):
            base = next((m for m in self.models if m.name == known), None)
            if name.startswith(prefix) and base is not None:
                return self._configured(base.model_copy(update={"name": name, "price_per_second": None,
                                                                "prices": {}, "builtin": False}))
        return super().custom_spec(name)

    def plan(self, req: GenerationRequest) -> ServicePlan:
        spec = self.spec(req.model)
        settings = self.settings
        notes: list[str] = []
        if not req.first_frame:
            # No shot before: text_to_video, which gen4_turbo does not offer.
            if not spec.text_only:
                fallback = self.spec(spec.text_variant or TEXT_FALLBACK)
                notes.append(f"{spec.name} makes video only from the shot before, and there is none: "
                             f"this hole is made with {fallback.name} text_to_video instead")
                spec = fallback
                settings = settings.model_copy(update={"price_per_second": None})
            spec = _text_only(spec)
        plan = plan_for(self.name, spec, req, settings, self.audio_models())
        if req.seed is not None and not spec.seed:
            notes.append(f"seed not sent: Runway {spec.name} takes none, so a re-run gives a different clip")
        if plan.seed is not None and not 0 <= plan.seed <= SEED_MAX:
            notes.append(f"seed {plan.seed} is outside Runway's 0..{SEED_MAX}: sent as {plan.seed % (SEED_MAX + 1)}")
            plan = plan.model_copy(update={"seed": plan.seed % (SEED_MAX + 1)})
        refused = plan.refused
        units = len(req.prompt.encode("utf-16-le")) // 2
        if refused is None and units > MAX_PROMPT_UNITS:
            refused = (f"the prompt is {units} characters (UTF-16 units); Runway takes at most "
                       f"{MAX_PROMPT_UNITS}: shorten the GEN: note")
        if refused is None and not req.prompt.strip():
            refused = "the prompt is empty; Runway needs promptText"
        return plan.model_copy(update={"notes": notes + plan.notes, "refused": refused})

    # -- body ------------------------------------------------------------------------------

    def build_body(self, req: GenerationRequest, plan: ServicePlan) -> dict[str, Any]:
        """Exactly the documented camelCase body; ``[providers.runway] extra`` is merged last."""
        body: dict[str, Any] = {
            "model": plan.model,
            "promptText": req.prompt,
            "ratio": plan.size_label,
            "duration": int(round(plan.seconds)),
        }
        images = []
        if plan.use_first:
            assert req.first_frame
            images.append({"uri": png_data_uri(req.first_frame), "position": "first"})
        if plan.use_last:
            assert req.last_frame
            images.append({"uri": png_data_uri(req.last_frame), "position": "last"})
        if images:
            body["promptImage"] = images
        if plan.seed is not None:
            body["seed"] = plan.seed
        if plan.negative:
            body["negativePrompt"] = plan.negative
        if self.spec(plan.model).audio:
            # SDK: veo3.1 / veo3.1_fast (and seedance2*) take `audio` (bool, "affects pricing"): said either way.
            body["audio"] = plan.audio
        body.update(self.settings.extra or {})
        return body

    # -- lifecycle -------------------------------------------------------------------------

    async def prepare_request(self, request: GenerationRequest, plan: ServicePlan, workdir: Path) -> GenerationRequest:
        """Frames too big for a 5 MB data URI are first scaled to the output size (no request is
        made for a refused plan, so that check stays in the shared lifecycle)."""
        return await fit_frames(request, plan, workdir, self.name, self._too_big)

    def _too_big(self, src: str) -> bool:
        """A frame whose data URI would pass 5 MB (it must be a PNG to be scaled)."""
        if (Path(src).stat().st_size + 2) // 3 * 4 + 22 <= MAX_DATA_URI:
            return False
        if png_size(src) is None:
            raise Rejected(f"{self.name}: {src} is too big to send inline and is not a PNG")
        return True

    async def submit(self, http: Any, req: GenerationRequest, plan: ServicePlan, body: Any) -> JobHandle:
        endpoint = "image_to_video" if "promptImage" in body else "text_to_video"
        data = await http.post_json(f"/v1/{endpoint}", body, what=f"POST /v1/{endpoint}")
        created = _parse(RunwayCreated, data, "the create answer")
        return JobHandle(job_id=created.id, data={"endpoint": endpoint, "model": plan.model})

    async def poll(self, http: Any, handle: JobHandle) -> JobStatus:
        task = _parse(RunwayTask, await http.get_json(f"/v1/tasks/{handle.job_id}"), "the task")
        s = task.status.upper()
        if s in ("PENDING", "THROTTLED"):
            return JobStatus(state="queued", data={"status": s})
        if s == "RUNNING":
            p = task.progress
            return JobStatus(state="running", progress=None if p is None else min(max(p, 0.0), 1.0))
        if s == "SUCCEEDED":
            if not task.output:
                return JobStatus(state="failed", error="the task succeeded but listed no output")
            return JobStatus(state="succeeded", progress=1.0, output_url=task.output[0])
        if s == "FAILED":
            return JobStatus(state="failed", error=_failure_text(task))
        if s == "CANCELLED":
            return JobStatus(state="failed", error="the task was cancelled (CANCELLED), in Runway's dashboard "
                                                   "or by another client")
        # A status this client does not know: keep polling; the deadline ends it.
        return JobStatus(state="running", data={"status": s})

    async def download(self, http: Any, handle: JobHandle, status: JobStatus, dest: Path) -> Path:
        """Outputs are public signed URLs: fetched without the key.  When one has expired, the
        task is read once more for a fresh URL and that one is tried."""
        return await self.download_public(http, handle, status, dest)


# -- helpers -----------------------------------------------------------------------------------


def _text_only(spec: ModelSpec) -> ModelSpec:
    """What a model takes on ``text_to_video``: no frames; gen4.5 only in 16:9 / 9:16; no
    negativePrompt (only the image_to_video bodies document one)."""
    update: dict[str, Any] = {"first_frame": False, "last_frame": False, "negative": False}
    if spec.name.startswith("gen4"):
        update["sizes"] = _GEN45_T2V_RATIOS
    return spec.model_copy(update=update)


def _failure_text(task: RunwayTask) -> str:
    reason = task.failure or "no reason given"
    code = task.failure_code or ""
    if code.startswith("SAFETY."):
        return (f"refused by Runway's content moderation: {reason} ({code}); change the prompt or the "
                "neighbour frames, a retry as written will be refused again")
    return f"{reason} ({code})" if code else reason


def _parse(model: type[M], data: Any, what: str) -> M:
    return parse_answer("runway", model, data, what, hint="the API may have changed; check X-Runway-Version")

