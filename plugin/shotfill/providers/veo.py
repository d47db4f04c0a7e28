"""Google Veo through the Gemini API (``generativelanguage.googleapis.com``), not Vertex.

Contract (googleapis/python-genai ``models.py`` / ``operations.py``, ai.google.dev/gemini-api/docs/video):

* the key travels as ``x-goog-api-key``;
* ``POST /v1beta/models/{model}:predictLongRunning`` with
  ``{"instances": [{"prompt", "image", "lastFrame"}], "parameters": {...}}``
  answers a long-running operation ``{"name": "models/.../operations/..."}``;
* ``GET /v1beta/{name}`` until ``done: true``, then exactly one of ``response``
  (``generateVideoResponse.generatedSamples[].video.uri``) or ``error``
  (google.rpc.Status).  There is no progress value;
* neighbour frames go inline as ``{"bytesBase64Encoded", "mimeType"}`` (the
  Developer API takes no image URLs); ``lastFrame`` only with ``image``, on veo-3.1;
* there is **no seed** in Gemini-API mode (Vertex only), so a re-run gives a
  different clip; the plan says so;
* a result filtered by Google's responsible-AI checks is ``done`` with
  ``raiMediaFilteredReasons`` and no sample: a failed job with those reasons;
* 429 RESOURCE_EXHAUSTED carries ``google.rpc.RetryInfo.retryDelay``, honoured
  by the shared client;
* the video ``uri`` is on the API's own host and needs the key; it redirects to
  a storage host, which gets no key (the shared download drops auth across origins).

Google answers a wrong key with 400 INVALID_ARGUMENT "API key not valid", not
401; that one is reported as an AuthError.  The Gemini API has no operation
listing, so an unanswered submit stays ``uncertain`` in the journal.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from shotfill.errors import AuthError, Rejected
from shotfill.model import GenerationRequest
from shotfill.providers._frames import fit_frames, png_size
from shotfill.providers.base import JobHandle, JobStatus, ModelSpec, RemoteProvider, ServicePlan, plan_for
from shotfill.providers._http import M, parse_answer

_LANDSCAPE_PORTRAIT = {"720p": ((1280, 720), (720, 1280)), "1080p": ((1920, 1080), (1080, 1920)),
                       "4k": ((3840, 2160), (2160, 3840))}
#: resolutions that Veo 3.x makes only as 8 s clips
_EIGHT_ONLY = ("1080p", "4k")
#: a frame bigger than this (raw bytes) is scaled down before it is inlined: Gemini requests are capped near 20 MB
MAX_INLINE_BYTES = 7 * 1024 * 1024

#: google.rpc.Code numbers, for messages
_RPC_CODES = {1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
              7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 10: "ABORTED",
              13: "INTERNAL", 14: "UNAVAILABLE", 16: "UNAUTHENTICATED"}


# -- the service's answers -----------------------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RpcStatus(_Loose):
    """google.rpc.Status, as an operation's ``error``."""

    code: Optional[int] = None
    message: str = ""
    status: Optional[str] = None
    details: list[Any] = []


class VideoRef(_Loose):
    uri: Optional[str] = None
    mime_type: Optional[str] = Field(default=None, alias="mimeType")


class Sample(_Loose):
    video: Optional[VideoRef] = None


class GenerateVideoResponse(_Loose):
    """``generatedSamples`` holds the clips; the RAI fields say why some are missing."""

    generated_samples: list[Sample] = Field(default_factory=list, alias="generatedSamples")
    rai_media_filtered_count: Optional[int] = Field(default=None, alias="raiMediaFilteredCount")
    rai_media_filtered_reasons: list[str] = Field(default_factory=list, alias="raiMediaFilteredReasons")


class OperationResponse(_Loose):
    generate_video_response: Optional[GenerateVideoResponse] = Field(default=None, alias="generateVideoResponse")


class Operation(_Loose):
    """A long-running operation: ``done`` absent means false."""

    name: str
    done: bool = False
    response: Optional[OperationResponse] = None
    error: Optional[RpcStatus] = None
    metadata: Optional[dict[str, Any]] = None


# -- the client -------------------------------------------------------------------------------------


def _veo(name: str, durations: tuple[float, ...], last: bool, price: float) -> ModelSpec:
    return ModelSpec(name=name, durations=durations, sizes=_LANDSCAPE_PORTRAIT["720p"], size_style="aspect",
                     first_frame=True, last_frame=last, negative=True, price_per_second=price)


class VeoProvider(RemoteProvider):
    name = "veo"
    default_base_url = "https://generativelanguage.googleapis.com"
    models = (
        _veo("veo-3.1-generate-preview", (4.0, 6.0, 8.0), True, 0.40),
        _veo("veo-3.1-fast-generate-preview", (4.0, 6.0, 8.0), True, 0.15),
        _veo("veo-3.0-generate-001", (4.0, 6.0, 8.0), False, 0.40),
        _veo("veo-3.0-fast-generate-001", (4.0, 6.0, 8.0), False, 0.15),
        _veo("veo-2.0-generate-001", (5.0, 6.0, 8.0), False, 0.35),
    )

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    # -- models and plan -------------------------------------------------------------------

    def resolution(self, model: str) -> Optional[str]:
        """What ``parameters.resolution`` says: ``extra.resolution`` or 720p; veo-2 takes none."""
        if model.startswith("veo-2"):
            return None
        return str((self.settings.extra or {}).get("resolution", "720p")).lower()

    def _configured(self, m: ModelSpec) -> ModelSpec:
        res = self.resolution(m.name)
        if res in _LANDSCAPE_PORTRAIT:
            update: dict[str, Any] = {"sizes": _LANDSCAPE_PORTRAIT[res]}
            if res in _EIGHT_ONLY:
                update["durations"] = (8.0,)
            m = m.model_copy(update=update)
        return super()._configured(m)   # configured `durations` still win

    def custom_spec(self, name: str) -> ModelSpec:
        """A newer Veo id is described like its family and sent as written (the service decides)."""
        for prefix, known in (("veo-3.1", "veo-3.1-generate-preview"), ("veo-3", "veo-3.0-generate-001"),
                              ("veo-2", "veo-2.0-generate-001")):
            if name.startswith(prefix):
                base = next(m for m in self.models if m.name == known)
                return self._configured(base.model_copy(update={"name": name, "price_per_second": None}))
        return super().custom_spec(name)

    def plan(self, req: GenerationRequest) -> ServicePlan:
        plan = plan_for(self.name, self.spec(req.model), req, self.settings)
        notes = list(plan.notes)
        notes.append("seed not sent: the Gemini API takes none, so a re-run gives a different clip")
        res = self.resolution(plan.model)
        if res:
            notes.append(f"made at {res} {plan.size_label}")
        return plan.model_copy(update={"notes": notes})

    # -- body ------------------------------------------------------------------------------

    def build_body(self, req: GenerationRequest, plan: ServicePlan) -> dict[str, Any]:
        """``instances[0]`` holds the prompt and frames; ``[providers.veo] extra`` goes into ``parameters``."""
        instance: dict[str, Any] = {"prompt": req.prompt}
        if plan.use_first:
            assert req.first_frame
            instance["image"] = _inline_png(req.first_frame)
        if plan.use_last:
            assert req.last_frame
            instance["lastFrame"] = _inline_png(req.last_frame)
        params: dict[str, Any] = {"aspectRatio": plan.size_label, "durationSeconds": int(round(plan.seconds))}
        res = self.resolution(plan.model)
        if res:
            params["resolution"] = res
        if plan.negative:
            params["negativePrompt"] = plan.negative
        params.update({k: v for k, v in (self.settings.extra or {}).items() if k != "resolution"})
        return {"instances": [instance], "parameters": params}

    # -- lifecycle -------------------------------------------------------------------------

    def _api(self, path: str) -> str:
        """``/v1beta/...``, unless the configured base URL already ends in ``/v1beta``."""
        path = path.lstrip("/")
        return path if self.base_url.endswith("/v1beta") else f"v1beta/{path}"

    async def prepare_request(self, request: GenerationRequest, plan: ServicePlan, workdir: Path) -> GenerationRequest:
        """Frames of another aspect than the output, or too big to inline, are first scaled and
        centre-cropped to the output size, so first and last frame match the clip Veo makes."""
        w, h = plan.size

        def needs_fit(src: str) -> bool:
            size = png_size(src)
            same_aspect = size is not None and abs(size[0] * h - size[1] * w) <= 0.01 * size[1] * w
            return not (same_aspect and Path(src).stat().st_size <= MAX_INLINE_BYTES)

        return await fit_frames(request, plan, workdir, self.name, needs_fit)

    async def submit(self, http: Any, req: GenerationRequest, plan: ServicePlan, body: Any) -> JobHandle:
        what = f"POST models/{plan.model}:predictLongRunning"
        data = await _key_checked(http.post_json(self._api(f"models/{plan.model}:predictLongRunning"), body,
                                                 what=what))
        op = _parse(Operation, data, "the operation")
        return JobHandle(job_id=op.name, data={"operation": op.name, "model": plan.model})

    async def poll(self, http: Any, handle: JobHandle) -> JobStatus:
        op = _parse(Operation, await _key_checked(http.get_json(self._api(handle.job_id),
                                                                what="GET operation")), "the operation")
        if not op.done:
            return JobStatus(state="running")
        if op.error is not None:
            e = op.error
            name = e.status or _RPC_CODES.get(e.code or -1, "")
            return JobStatus(state="failed", error=f"{e.message or 'no message'}"
                                                   + (f" ({name}, code {e.code})" if e.code is not None else ""))
        gvr = (op.response.generate_video_response if op.response else None) or GenerateVideoResponse()
        for sample in gvr.generated_samples:
            if sample.video and sample.video.uri:
                return JobStatus(state="succeeded", progress=1.0, output_url=sample.video.uri)
        if gvr.rai_media_filtered_reasons or gvr.rai_media_filtered_count:
            reasons = "; ".join(gvr.rai_media_filtered_reasons) or "no reason given"
            return JobStatus(state="failed", error=f"the video was blocked by Google's safety filters "
                                                   f"(raiMediaFilteredCount={gvr.rai_media_filtered_count}): "
                                                   f"{reasons}")
        return JobStatus(state="failed", error="the operation finished without a video")


# -- helpers -----------------------------------------------------------------------------------------


def _inline_png(path: str) -> dict[str, str]:
    return {"bytesBase64Encoded": base64.b64encode(Path(path).read_bytes()).decode(), "mimeType": "image/png"}


async def _key_checked(call: Any) -> Any:
    """Google says "API key not valid" (reason API_KEY_INVALID) with HTTP 400; that is a refused key,
    not a bad request."""
    try:
        return await call
    except Rejected as exc:
        said = exc.body if isinstance(exc.body, str) else json.dumps(exc.body)
        if "API key not valid" in said or "API_KEY_INVALID" in said:
            raise AuthError(exc.message, hint="check GEMINI_API_KEY (or api_key under [providers.veo])",
                            status=exc.status, body=exc.body, headers=exc.headers) from None
        raise


def _parse(model: type[M], data: Any, what: str) -> M:
    return parse_answer("veo", model, data, what, hint="the Gemini API may have changed")

