"""OpenAI-style Videos API (Sora), as served by OpenAI and by gateways such as the LiteLLM proxy.

Contract (openai-python ``resources/videos.py``, ``types/video*.py``):

* ``POST /v1/videos`` as ``multipart/form-data`` (what the SDK sends): ``prompt``,
  ``model``, ``seconds`` (a *string*: "4", "8", "12"), ``size`` ("1280x720" ...)
  and, for a first frame, the file part ``input_reference`` -- an image that must
  have exactly the requested size, so the neighbour frame is resized with
  :func:`shotfill.media.frames.fit_image` first.  No last frame, seed or negative.
* ``GET /v1/videos/{id}`` returns the Video object; ``status`` queued ->
  in_progress -> completed | failed, ``progress`` 0..100, ``error`` {code, message};
  the response header ``openai-poll-after-ms`` says when to ask again.
* ``GET /v1/videos/{id}/content?variant=video`` streams the MP4 with the same
  bearer key (same origin); it is gone once ``expires_at`` has passed.
* ``GET /v1/videos?order=desc&limit=N`` lists jobs: used to find a job whose
  create got no answer (:meth:`OpenAIProvider.recover`).

The base URL is the service's origin (``https://api.openai.com``, or a LiteLLM
proxy such as ``http://host:4000``); a configured URL ending in ``/v1`` is
accepted too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal, Optional, Union

import httpx
from pydantic import BaseModel, ConfigDict

from shotfill.errors import DownloadError
from shotfill.model import GenerationRequest
from shotfill.providers.base import JobHandle, JobStatus, ModelSpec, RemoteProvider, ServicePlan
from shotfill.media.frames import fit_image
from shotfill.providers._http import M, json_or_none, parse_answer

#: sizes every Sora model takes (openai-python ``VideoSize``; sora-2 only the 720p pair)
SIZES_720 = ((1280, 720), (720, 1280))
SIZES_PRO = SIZES_720 + ((1792, 1024), (1024, 1792))
#: seconds the create call takes (``VideoSeconds``); others via ``durations`` in shotfill.toml
SECONDS = (4.0, 8.0, 12.0)
#: launch prices (USD per second, Oct 2025 reports; not read from OpenAI): pro costs more at 1792x1024
PRO_HIGH_RES_PRICE = 0.50
#: how far back (s) a listed job may have been created and still be the one our create made
RECOVER_SLACK = 30.0


class VideoError(BaseModel):
    """``Video.error``: why a job failed (e.g. a moderation block)."""

    model_config = ConfigDict(extra="allow")

    code: Optional[str] = None
    message: Optional[str] = None


class Video(BaseModel):
    """The one object create, retrieve and list return; extra keys kept (gateways add their own)."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Optional[str] = None
    status: str
    progress: Optional[float] = None
    model: Optional[str] = None
    prompt: Optional[str] = None
    seconds: Optional[Union[str, int, float]] = None
    size: Optional[str] = None
    created_at: Optional[float] = None
    completed_at: Optional[float] = None
    expires_at: Optional[float] = None
    error: Optional[VideoError] = None


class VideoList(BaseModel):
    """``GET /v1/videos``: a cursor page of Video objects."""

    model_config = ConfigDict(extra="allow")

    object: Optional[Literal["list"]] = None
    data: list[Video] = []
    has_more: Optional[bool] = None


def _spec(name: str, pro: bool) -> ModelSpec:
    return ModelSpec(name=name, durations=SECONDS, sizes=SIZES_PRO if pro else SIZES_720, size_style="size",
                     first_frame=True, last_frame=False, seed=False, negative=False,
                     price_per_second=0.30 if pro else 0.10)


def _parse(resp: httpx.Response, model: type[M], provider: str, what: str) -> M:
    return parse_answer(provider, model, json_or_none(resp), f"{what} (HTTP {resp.status_code})",
                        hint="check base_url: it must be the service's origin, e.g. https://api.openai.com "
                             "or https://127.0.0.1:4000 for a LiteLLM proxy")


class OpenAIProvider(RemoteProvider):
    """Sora through ``/v1/videos``; first frame only, durations 4/8/12 s."""

    name = "openai"
    default_base_url = "https://api.openai.com"
    size_style = "size"

    @property
    def base_url(self) -> str:
        url = super().base_url
        return url[:-3] if url.endswith("/v1") else url

    def custom_spec(self, name: str) -> ModelSpec:
        """A name no catalog table declares: a gateway alias, sent as written with the /v1/videos
        contract's own limits (seconds 4/8/12, Sora's sizes); the gateway judges it."""
        return self._configured(_spec(name, pro="pro" in name.lower()).model_copy(update={"builtin": False}))

    def plan(self, req: GenerationRequest) -> ServicePlan:
        plan = super().plan(req)
        spec = self.spec(req.model)
        updates: dict[str, Any] = {}
        if spec.name not in {m.name for m in self.models}:
            updates["notes"] = plan.notes + [f"'{spec.name}' is not declared in the catalog or shotfill.toml: "
                                             "sent as it is (gateway alias); limits assumed from the /v1/videos "
                                             "contract (" + ("sora-2-pro" if spec.sizes == SIZES_PRO else "sora-2")
                                             + ")"]
        if (self.settings.price_per_second is None and spec.sizes == SIZES_PRO
                and max(plan.size) == 1792):
            updates["estimated_cost"] = round(PRO_HIGH_RES_PRICE * plan.seconds, 4)
        if plan.use_first:
            updates["notes"] = updates.get("notes", plan.notes) + [
                f"the shot before is sent as input_reference, resized to {plan.size_label}"]
        if plan.audio:
            # /v1/videos has no audio switch: Sora 2 makes its synced sound with every clip.
            updates["notes"] = updates.get("notes", plan.notes) + [
                "no audio field is sent: the /v1/videos contract has none (Sora-style models return sound "
                "with every clip); the clip's own sound is placed"]
        return plan.model_copy(update=updates) if updates else plan

    def build_body(self, req: GenerationRequest, plan: ServicePlan) -> dict[str, Any]:
        """The multipart form: text fields as strings, the first frame as an exact-size PNG file part."""
        body: dict[str, Any] = {
            "prompt": req.prompt,
            "model": plan.model,
            "seconds": f"{plan.seconds:g}",
            "size": plan.size_label,
        }
        for k, v in (self.settings.extra or {}).items():
            body.setdefault(k, v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v))
        if plan.use_first and req.first_frame:
            w, h = plan.size
            with tempfile.TemporaryDirectory(prefix="shotfill-openai-") as tmp:
                fitted = fit_image(req.first_frame, Path(tmp) / "first_frame.png", w, h)
                body["input_reference"] = ("first_frame.png", fitted.read_bytes(), "image/png")
        return body

    async def submit(self, http: Any, req: GenerationRequest, plan: ServicePlan, body: Any) -> JobHandle:
        files = [(k, v if isinstance(v, tuple) else (None, v)) for k, v in body.items()]
        resp = await http.request("POST", "/v1/videos", files=files, what="create video")
        video: Video = _parse(resp, Video, self.name, "create video")
        return JobHandle(job_id=video.id, data={k: v for k, v in (("model", video.model or plan.model),
                                                                   ("seconds", body["seconds"]),
                                                                   ("size", body["size"])) if v})

    async def poll(self, http: Any, handle: JobHandle) -> JobStatus:
        resp = await http.request("GET", f"/v1/videos/{handle.job_id}", what="retrieve video")
        video: Video = _parse(resp, Video, self.name, "retrieve video")
        return self._status(video, resp)

    def _status(self, video: Video, resp: Optional[httpx.Response] = None) -> JobStatus:
        poll_after = None
        hint = resp.headers.get("openai-poll-after-ms") if resp is not None else None
        if hint:
            try:
                poll_after = max(0.0, float(hint) / 1000)
            except ValueError:
                poll_after = None
        progress = None if video.progress is None else max(0.0, min(1.0, float(video.progress) / 100))
        data = {"status": video.status, "expires_at": video.expires_at}
        if video.status == "completed":
            return JobStatus(state="succeeded", progress=1.0, data=data,
                             output_url=f"/v1/videos/{video.id}/content?variant=video")
        if video.status == "failed":
            err = video.error
            reason = (f"{err.message or 'no message'} (code {err.code})" if err and err.code
                      else (err.message if err and err.message else "the service gave no reason"))
            return JobStatus(state="failed", error=reason, data=data)
        if video.status == "queued":
            return JobStatus(state="queued", progress=progress, poll_after=poll_after, data=data)
        # in_progress, and any status this client does not know: keep polling (the deadline ends it)
        return JobStatus(state="running", progress=progress, poll_after=poll_after, data=data)

    async def download(self, http: Any, handle: JobHandle, status: JobStatus, dest: Path) -> Path:
        """The content route with the key (same origin only); the SDK asks for ``application/binary``."""
        assert status.output_url
        try:
            return await http.download(status.output_url, dest, max_bytes=self.settings.max_download_mb << 20,
                                       headers={"Accept": "application/binary, video/*"})
        except DownloadError as exc:
            if not exc.expired:
                raise
            raise DownloadError(f"{exc.message} (OpenAI keeps a video's content only until its expires_at, "
                                "about an hour after it completes)",
                                hint="the job's output cannot be fetched again; generate the shot again",
                                expired=True, status=exc.status) from None

    async def recover(self, http: Any, req: GenerationRequest, plan: ServicePlan, since: float) -> Optional[JobHandle]:
        """Our job in the newest listed ones: same prompt, seconds and size, created since the submit.

        Only a job whose listing carries the prompt can be told apart from a
        neighbour's; with none or more than one match, the submit stays uncertain.
        """
        resp = await http.request("GET", "/v1/videos", params={"order": "desc", "limit": 20}, what="list videos")
        page: VideoList = _parse(resp, VideoList, self.name, "list videos")
        seconds, size = f"{plan.seconds:g}", plan.size_label
        found = [v for v in page.data
                 if v.prompt == req.prompt and v.created_at is not None and v.created_at >= since - RECOVER_SLACK
                 and (v.seconds is None or str(v.seconds) == seconds) and (v.size is None or v.size == size)]
        if len(found) != 1:
            return None
        v = found[0]
        return JobHandle(job_id=v.id, data={"model": v.model or plan.model, "seconds": seconds, "size": size,
                                            "recovered": True})
