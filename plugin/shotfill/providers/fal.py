"""fal.ai queue API (``queue.fal.run``): any video model behind one queue.

Contract (fal-ai/fal ``fal_client``; fal.ai/docs queue, model and request errors):

* every request carries ``Authorization: Key <FAL_KEY>``;
* ``POST /{model_id}`` with the model's own input JSON answers
  ``{"request_id", "status_url", "response_url", "cancel_url"}`` -- those URLs
  (on ``/{owner}/{alias}/requests/{id}``, not the full model id) are used as given;
* ``GET {status_url}?logs=1`` answers HTTP 202 with ``IN_QUEUE`` (``queue_position``)
  or ``IN_PROGRESS`` (``logs``), then 200 with ``COMPLETED``; a run that failed
  says so with ``error`` / ``error_type`` on the COMPLETED status, or when its
  result is fetched (4xx/5xx with ``detail`` and ``X-Fal-Error-Type``);
* ``GET {response_url}`` is the model output, ``{"video": {"url": ...}}`` on a
  public CDN (``*.fal.media``): fetched without the key.

Models differ only in how their inputs are spelled, so each catalog entry
names the model's input for each of our values (prompt, negative, seed,
duration or num_frames/fps, first/last frame, aspect ratio) and the inputs sent
as they are (``extra``).  Any other model id works once ``shotfill.toml``
declares it under ``[providers.fal.models."ID"]``, or with the older
``fields`` / ``durations`` / ``extra`` (see :func:`mapped_custom`).
Neighbour frames go inline as PNG data URIs, which fal takes in every ``*_url``
input, so no frame touches a third-party host.

fal has no request listing: a submit that got no answer stays ``uncertain``
in the journal and is never resent.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from shotfill.errors import Rejected, ServiceError
from shotfill.model import GenerationRequest
from shotfill.providers.base import JobHandle, JobStatus, ModelSpec, RemoteProvider, ServicePlan, png_data_uri
from shotfill.providers._mapped import configured_model, mapped_custom, mapped_inputs, mapped_plan, percent_in

class FalSubmitted(BaseModel):
    """The answer to a queue submit: the request id and the URLs to use for it."""

    model_config = ConfigDict(extra="allow")

    request_id: str
    status_url: Optional[str] = None
    response_url: Optional[str] = None
    cancel_url: Optional[str] = None


class FalLog(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str = ""


class FalStatus(BaseModel):
    """``GET .../status``: IN_QUEUE (queue_position), IN_PROGRESS (logs), COMPLETED (error?)."""

    model_config = ConfigDict(extra="allow")

    status: Optional[str] = None
    queue_position: Optional[int] = None
    logs: Optional[list[FalLog]] = None
    error: Optional[Any] = None
    error_type: Optional[str] = None
    response_url: Optional[str] = None


class FalFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: str
    content_type: Optional[str] = None


class FalVideoResult(BaseModel):
    """A video model's output: ``{"video": {"url": ...}}`` (some models also return ``seed``)."""

    model_config = ConfigDict(extra="allow")

    video: FalFile
    seed: Optional[int] = None


#: status values that end a request without output (not in fal_client; seen in third-party schemas)
_FAILED_STATES = {"FAILED", "CANCELED", "CANCELLED", "ERROR"}
#: model-error types that are a failed run (moderation, no output), not an input refused as written
_CONTENT_TYPES = {"content_policy_violation", "no_media_generated", "generation_timeout", "internal_server_error"}
#: result answers read here, not raised: a failed run's detail and ``X-Fal-Error-Type`` are the reason
#: we report (a refused key, 429 and no connection still go through the shared client's policy)
_RESULT_ANSWERS = frozenset(range(400, 600)) - {401, 403, 429}


class FalProvider(RemoteProvider):
    name = "fal"
    default_base_url = "https://queue.fal.run"
    size_style = "aspect"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}"}

    # -- models and plan -------------------------------------------------------------------

    def spec(self, model: Optional[str]) -> ModelSpec:
        return configured_model(super().spec(model), self.settings, self.name)

    def custom_spec(self, name: str) -> ModelSpec:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*", name):
            raise Rejected(f"fal: '{name}' is not a fal model id",
                           hint="write it as on fal.ai, e.g. fal-ai/kling-video/v2.1/standard/image-to-video")
        return mapped_custom(self.name, name, self.settings, duration_type="str",
                             image_hint="image-to-video" in name or "i2v" in name)

    def plan(self, req: GenerationRequest) -> ServicePlan:
        return mapped_plan(self, req)

    def build_body(self, req: GenerationRequest, plan: ServicePlan) -> dict[str, Any]:
        """The model's input JSON, exactly: fal takes nothing around it."""
        return mapped_inputs(self.spec(plan.model), req, plan, self.settings.extra, png_data_uri)

    # -- the queue -------------------------------------------------------------------------

    async def submit(self, http: Any, req: GenerationRequest, plan: ServicePlan, body: Any) -> JobHandle:
        data = await http.post_json("/" + plan.model.strip("/"), body, what=f"submit to {plan.model}")
        try:
            sub = FalSubmitted.model_validate(data)
        except ValidationError:
            raise ServiceError(f"fal: the queue answered the submit without a request id: {json.dumps(data)[:200]}",
                               hint="the job may exist: check the fal dashboard before running again") from None
        app = "/".join(plan.model.strip("/").split("/")[:2])
        own = f"/{app}/requests/{sub.request_id}"
        return JobHandle(job_id=sub.request_id, data={
            "model": plan.model,
            "status_url": self._trusted(http, sub.status_url) or own + "/status",
            "response_url": self._trusted(http, sub.response_url) or own,
            "cancel_url": self._trusted(http, sub.cancel_url) or own + "/cancel",
        })

    def _trusted(self, http: Any, url: Optional[str]) -> Optional[str]:
        """A URL fal returned, if the key may go there: the configured origin or fal's own https hosts."""
        if not url:
            return None
        if http.same_origin(url):
            return url
        p = urlsplit(url)
        if p.scheme == "https" and p.hostname and (p.hostname == "fal.run" or p.hostname.endswith(".fal.run")):
            return url
        return None

    async def poll(self, http: Any, handle: JobHandle) -> JobStatus:
        url = handle.data.get("status_url") or self._own(handle, "/status")
        resp = await http.request("GET", url, params={"logs": "1"}, auth=True, what="status")
        try:
            st = FalStatus.model_validate(resp.json())
        except (ValidationError, ValueError):
            raise ServiceError(f"fal: the status of request {handle.job_id} is not JSON (HTTP {resp.status_code})",
                               hint="the service is having trouble; run again later: the request id is kept") from None
        state = (st.status or ("COMPLETED" if resp.status_code == 200 else "IN_PROGRESS")).upper()
        logs = " ".join(log.message for log in st.logs or [])
        data: dict[str, Any] = {"status": state}
        if state == "IN_QUEUE":
            if st.queue_position is not None:
                data["queue_position"] = st.queue_position
            return JobStatus(state="queued", data=data)
        if state == "COMPLETED":
            if st.error:
                return JobStatus(state="failed", error=_reason(st.error, st.error_type), data=data)
            return await self._result(http, handle, st)
        if state in _FAILED_STATES:
            return JobStatus(state="failed", error=_reason(st.error or state.lower(), st.error_type), data=data)
        # IN_PROGRESS, and anything new: keep polling until the deadline.
        return JobStatus(state="running", progress=percent_in(logs), data=data)

    def _own(self, handle: JobHandle, suffix: str) -> str:
        app = "/".join(str(handle.data.get("model", "")).strip("/").split("/")[:2])
        return f"/{app}/requests/{handle.job_id}{suffix}"

    async def _result(self, http: Any, handle: JobHandle, st: FalStatus) -> JobStatus:
        """Fetch the output of a COMPLETED request; a failed run answers its error here."""
        url = handle.data.get("response_url") or self._trusted(http, st.response_url) or self._own(handle, "")
        resp = await http.request("GET", url, auth=True, what="result", accept_status=_RESULT_ANSWERS)
        if resp.status_code >= 500 and not _fal_error(resp):   # not fal's answer: the shared retry policy
            body = await http.get_json(url, auth=True, what="result")
        elif resp.status_code >= 400:
            return self._failed_result(handle, resp)
        else:
            try:
                body = resp.json()
            except ValueError:
                raise ServiceError(f"fal: the result of request {handle.job_id} is not JSON") from None
        try:
            out = FalVideoResult.model_validate(body)
        except ValidationError:
            keys = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
            return JobStatus(state="failed", error=f"the result has no video (keys: {keys})")
        return JobStatus(state="succeeded", progress=1.0, output_url=out.video.url,
                         data={"status": "COMPLETED", "seed": out.seed})

    def _failed_result(self, handle: JobHandle, resp: httpx.Response) -> JobStatus:
        body = _json_or_none(resp)
        detail = body.get("detail") if isinstance(body, dict) else None
        etype = (body.get("error_type") if isinstance(body, dict) else None) or resp.headers.get("x-fal-error-type")
        if resp.status_code == 422 and isinstance(detail, list) and detail and all(
                _is_input_error(d) for d in detail):
            raise Rejected(f"fal: {handle.data.get('model', 'the model')} refused the input "
                           f"(HTTP 422: {_detail_text(detail)})",
                           hint="check the model's inputs: fields, durations and extra under [providers.fal]")
        text = _detail_text(detail) if detail else (resp.text.strip()[:300] or resp.reason_phrase)
        return JobStatus(state="failed", error=_reason(f"HTTP {resp.status_code}: {text}", etype),
                         data={"status": "COMPLETED", "http_status": resp.status_code})


def _json_or_none(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _fal_error(resp: httpx.Response) -> bool:
    body = _json_or_none(resp)
    return isinstance(body, dict) and "detail" in body


def _is_input_error(d: Any) -> bool:
    """A validation error on one named input (``loc: ["body", "duration"]``), not moderation."""
    if not isinstance(d, dict):
        return False
    loc = d.get("loc") or []
    return len(loc) >= 2 and loc[0] == "body" and str(d.get("type", "")) not in _CONTENT_TYPES


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for d in detail:
            if isinstance(d, dict):
                loc = ".".join(str(x) for x in d.get("loc", []) if x != "body")
                kind = f" [{d['type']}]" if d.get("type") else ""
                parts.append(f"{loc + ': ' if loc else ''}{d.get('msg', '')}{kind}")
            else:
                parts.append(str(d))
        return "; ".join(parts)[:400]
    return str(detail)[:400]


def _reason(error: Any, error_type: Optional[str]) -> str:
    """The service's words for a failed run, with fal's machine-readable type after them."""
    if isinstance(error, list):
        text = _detail_text(error)
    elif isinstance(error, dict):
        text = str(error.get("detail") or error.get("message") or json.dumps(error))[:400]
    else:
        text = str(error)[:400]
    return f"{text} ({error_type})" if error_type and error_type not in text else text

