"""Google Veo 3.1 on Vertex AI (Gemini Enterprise Agent Platform), the GA models.

The Gemini API's ``veo-3.1-*-generate-preview`` models were shut down on
2026-10-22 (and ``veo-3.0-*`` / ``veo-2.0`` retired on 2026-06-30); Veo 3.1 GA
(``veo-3.1-generate-001``, ``-fast-``, ``-lite-``) is served by Vertex AI.
What stays uncertain is listed in docs/providers/veo.md.

Contract (Vertex AI REST reference for publisher models; the Gen AI SDK's Vertex path):

* ``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predictLongRunning``
  (``https://{location}-aiplatform.googleapis.com``), or without a project
  (``/v1/publishers/google/models/...``: express mode, API key only), with
  ``{"instances": [{"prompt", "image", "lastFrame"}], "parameters": {...}}``,
  answers a long-running operation ``{"name": "projects/.../operations/..."}``;
* ``POST .../models/{model}:fetchPredictOperation`` with ``{"operationName": name}``
  until ``done: true``, then exactly one of ``response`` (``videos[]``: the MP4 as
  ``bytesBase64Encoded`` when no ``storageUri`` is given) or ``error``
  (google.rpc.Status).  There is no progress value;
* neighbour frames go inline as ``{"bytesBase64Encoded", "mimeType"}``;
  ``lastFrame`` only with ``image`` (not on lite); ``seed`` is taken (uint32);
  ``generateAudio`` is always sent (Vertex requires it for Veo 3.x): true only for a shot
  that asks for sound (``audio=on`` / ``--audio``), which is then placed under the clip;
* a result filtered by Google's responsible-AI checks is ``done`` with
  ``raiMediaFilteredReasons`` and no video: a failed job with those reasons;
* 429 RESOURCE_EXHAUSTED carries ``google.rpc.RetryInfo.retryDelay``, honoured
  by the shared client;
* the key: an OAuth access token (``ya29.``..., e.g. ``gcloud auth
  print-access-token``) goes as ``Authorization: Bearer``, an API key as
  ``x-goog-api-key``; Google answers a wrong API key with 400 "API key not
  valid", reported as an AuthError.

The video comes inline in the finished operation, so there is no separate
download and nothing on a storage host to expire; the operation can be read
again (resume) while Vertex keeps it.  Vertex has no operation listing for
these models, so an unanswered submit stays ``uncertain`` in the journal.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from shotfill.errors import AuthError, DownloadError, Rejected, ServiceError
from shotfill.system.files import write_bytes
from shotfill.model import GenerationRequest
from shotfill.providers._frames import fit_frames, png_size, reference_image
from shotfill.providers.base import JobHandle, JobStatus, ModelSpec, RemoteProvider, ServicePlan
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


class Video(_Loose):
    """One of ``response.videos``: the MP4 inline, or where it was stored (with ``storageUri``)."""

    bytes_base64: Optional[str] = Field(default=None, alias="bytesBase64Encoded")
    gcs_uri: Optional[str] = Field(default=None, alias="gcsUri")
    mime_type: Optional[str] = Field(default=None, alias="mimeType")


class OperationResponse(_Loose):
    """``videos`` holds the clips; the RAI fields say why some are missing."""

    videos: list[Video] = Field(default_factory=list)
    rai_media_filtered_count: Optional[int] = Field(default=None, alias="raiMediaFilteredCount")
    rai_media_filtered_reasons: list[str] = Field(default_factory=list, alias="raiMediaFilteredReasons")


class Operation(_Loose):
    """A long-running operation: ``done`` absent means false."""

    name: str
    done: bool = False
    response: Optional[OperationResponse] = None
    error: Optional[RpcStatus] = None
    metadata: Optional[dict[str, Any]] = None


# -- the client -------------------------------------------------------------------------------------


#: a uint32
SEED_MAX = 4294967295


class VeoProvider(RemoteProvider):
    name = "veo"
    default_base_url = "https://us-central1-aiplatform.googleapis.com"
    size_style = "aspect"

    def auth_headers(self, key: str) -> dict[str, str]:
        # An OAuth access token is a bearer credential; anything else is an API key.
        if key.startswith("ya29."):
            return {"Authorization": f"Bearer {key}"}
        return {"x-goog-api-key": key}

    @property
    def location(self) -> str:
        return self.settings.location or "us-central1"

    @property
    def base_url(self) -> str:
        """The location's own host unless a base URL is configured."""
        return self.ctx.settings.base_url(self.name, f"https://{self.location}-aiplatform.googleapis.com")

    def _model_path(self, model: str) -> str:
        if self.settings.project:
            return (f"v1/projects/{self.settings.project}/locations/{self.location}/publishers/google/"
                    f"models/{model}")
        return f"v1/publishers/google/models/{model}"

    # -- models and plan -------------------------------------------------------------------

    def resolution(self, model: str) -> Optional[str]:
        """What ``parameters.resolution`` says: ``extra.resolution`` or 720p."""
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
        """A newer Veo 3.1 id is described like veo-3.1-generate-001 and sent as written (the service decides)."""
        base = next((m for m in self.models if m.name == "veo-3.1-generate-001"), None)
        if name.startswith("veo-3.1") and base is not None:
            return self._configured(base.model_copy(update={"name": name, "price_per_second": None,
                                                            "builtin": False}))
        return super().custom_spec(name)

    def plan(self, req: GenerationRequest) -> ServicePlan:
        plan = super().plan(req)
        notes = list(plan.notes)
        res = self.resolution(plan.model)
        if res:
            notes.append(f"made at {res} {plan.size_label}")
        refused = plan.refused
        if refused is None and "storageUri" in (self.settings.extra or {}):
            refused = ("extra.storageUri sends the video to Cloud Storage, which ShotFill does not read: "
                       "remove it, so that the video comes back inline")
        if refused is None and not self.settings.project and self.api_key_kind() == "token":
            refused = ("an OAuth access token needs a project: set project (and location) under [providers.veo]")
        if plan.seed is not None and not 0 <= plan.seed <= SEED_MAX:
            plan = plan.model_copy(update={"seed": plan.seed % (SEED_MAX + 1)})
        return plan.model_copy(update={"notes": notes, "refused": refused})

    def api_key_kind(self) -> str:
        key = self.api_key() or ""
        return "token" if key.startswith("ya29.") else "key"

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
        if plan.references:
            # "asset" images carry a subject into the shot (Veo 3.1 takes up to three).
            instance["referenceImages"] = [{"image": _inline_image(r), "referenceType": "asset"}
                                           for r in plan.references]
        params: dict[str, Any] = {"aspectRatio": plan.size_label, "durationSeconds": int(round(plan.seconds))}
        res = self.resolution(plan.model)
        if res:
            params["resolution"] = res
        if plan.negative:
            params["negativePrompt"] = plan.negative
        if plan.seed is not None:
            params["seed"] = plan.seed
        params["generateAudio"] = plan.audio
        params["sampleCount"] = 1
        params.update({k: v for k, v in (self.settings.extra or {}).items() if k != "resolution"})
        return {"instances": [instance], "parameters": params}

    # -- lifecycle -------------------------------------------------------------------------

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
        data = await _key_checked(http.post_json(f"{self._model_path(plan.model)}:predictLongRunning", body,
                                                 what=what))
        op = _parse(Operation, data, "the operation")
        return JobHandle(job_id=op.name, data={"operation": op.name, "model": plan.model})

    async def poll(self, http: Any, handle: JobHandle) -> JobStatus:
        model = str(handle.data.get("model") or _model_of(handle.job_id))
        # A read, safe to send again: fetchPredictOperation is a POST only because the name goes in a body.
        resp = await _key_checked(http.request("POST", f"{self._model_path(model)}:fetchPredictOperation",
                                               json_body={"operationName": handle.job_id}, idempotent=True,
                                               what="fetchPredictOperation"))
        op = _parse(Operation, _json(resp), "the operation")
        if not op.done:
            return JobStatus(state="running")
        if op.error is not None:
            e = op.error
            name = e.status or _RPC_CODES.get(e.code or -1, "")
            return JobStatus(state="failed", error=f"{e.message or 'no message'}"
                                                   + (f" ({name}, code {e.code})" if e.code is not None else ""))
        out = op.response or OperationResponse()
        for video in out.videos:
            if video.bytes_base64:
                return JobStatus(state="succeeded", progress=1.0, output_url=f"inline:{handle.job_id}",
                                 data={"video": video.bytes_base64})
        stored = next((v.gcs_uri for v in out.videos if v.gcs_uri), None)
        if stored:
            return JobStatus(state="failed", error=f"the video was written to Cloud Storage ({stored}), not "
                                                   "returned inline: fetch it from there; remove storageUri")
        if out.rai_media_filtered_reasons or out.rai_media_filtered_count:
            reasons = "; ".join(out.rai_media_filtered_reasons) or "no reason given"
            return JobStatus(state="failed", error=f"the video was blocked by Google's safety filters "
                                                   f"(raiMediaFilteredCount={out.rai_media_filtered_count}): "
                                                   f"{reasons}")
        return JobStatus(state="failed", error="the operation finished without a video")

    async def download(self, http: Any, handle: JobHandle, status: JobStatus, dest: Path) -> Path:
        """The video came inline in the operation: decoded, checked for size, written whole."""
        text = str(status.data.get("video") or "")
        limit = self.settings.max_download_mb << 20
        if len(text) // 4 * 3 > limit:
            raise DownloadError(f"veo: the video of {handle.job_id} is over the {limit >> 20} MB limit",
                                hint="raise max_download_mb in shotfill.toml")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ServiceError(f"veo: the video of {handle.job_id} is not valid base64",
                               hint="run again: the operation is read again, nothing is paid twice") from None
        return write_bytes(dest, data)


# -- helpers -----------------------------------------------------------------------------------------


def _inline_image(path: str) -> dict[str, str]:
    mime, data = reference_image(path)
    return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": mime}


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
    return parse_answer("veo", model, data, what, hint="the Vertex AI API may have changed")


def _json(resp: Any) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _model_of(operation: str) -> str:
    """``.../models/{model}/operations/{id}`` -> model."""
    m = re.search(r"/models/([^/]+)/operations/", operation)
    return m.group(1) if m else ""

