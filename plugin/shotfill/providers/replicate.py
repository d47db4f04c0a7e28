"""Replicate predictions API (``api.replicate.com``): any video model, one prediction per clip.

Contract (replicate/replicate-python; replicate.com/docs/reference/http):

* every request carries ``Authorization: Bearer <REPLICATE_API_TOKEN>``;
* ``POST /v1/models/{owner}/{name}/predictions`` with ``{"input": {...}}`` runs
  a model's current version; ``"owner/name:<version>"`` is run pinned through
  ``POST /v1/predictions`` with ``{"version": "<version>", "input": {...}}``;
* a prediction moves ``starting`` -> ``processing`` -> ``succeeded`` | ``failed``
  | ``canceled``; progress exists only as tqdm bars in ``logs``; ``output`` is a
  URL string or a list of them, on a public CDN (``replicate.delivery``):
  fetched without the token, and deleted about an hour after the run;
* errors are RFC 7807 ``{"title", "detail", "status"}``; 429 carries
  ``Retry-After``;
* ``GET /v1/predictions`` lists the account's predictions, newest first --
  used to find a prediction whose create call got no answer.

Inputs are per model: each known model is a :class:`MappedModel` naming its
inputs; any other model is described in ``shotfill.toml`` (``fields``,
``durations``, ``extra``).  Neighbour frames go as PNG data URIs; one over
1 MB (Replicate's advice for data URIs) is first uploaded to Replicate's own
file store (``POST /v1/files``) and sent as that file's URL.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from shotfill.errors import Rejected, ServiceError
from shotfill.model import GenerationRequest
from shotfill.providers.base import JobHandle, JobStatus, ModelSpec, RemoteProvider, ServicePlan, png_data_uri
from shotfill.providers import catalog
from shotfill.providers._mapped import configured_model, mapped_custom, mapped_inputs, mapped_plan, percent_in

_MODEL_RE = re.compile(r"^([\w.-]+)/([\w.-]+)(?::([0-9a-fA-F]{8,}))?$")
#: data URIs larger than this go to Replicate's file store first
INLINE_LIMIT = 1 << 20
#: how far back before the submit a listed prediction may say it was created (clock skew)
CLOCK_SLACK = 30.0
#: listing pages read when looking for a lost prediction
MAX_LIST_PAGES = 5
_RUNNING = {"starting", "processing"}


class ReplicatePrediction(BaseModel):
    """A prediction (create, get and list all return it); only the fields we act on are typed."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str = "starting"
    model: Optional[str] = None
    version: Optional[str] = None
    input: Optional[dict[str, Any]] = None
    output: Any = None
    error: Any = None
    logs: Optional[str] = None
    created_at: Optional[str] = None
    urls: Optional[dict[str, str]] = None


class ReplicatePage(BaseModel):
    """``GET /v1/predictions``: a cursor page, newest first."""

    model_config = ConfigDict(extra="allow")

    results: list[dict[str, Any]] = []
    next: Optional[str] = None


class ReplicateFile(BaseModel):
    """``POST /v1/files``: the stored file; ``urls.get`` is what a model input takes."""

    model_config = ConfigDict(extra="allow")

    id: str
    urls: dict[str, str]


def split_model(name: str) -> tuple[str, str, Optional[str]]:
    """``owner/name[:version]`` -> (owner, name, version)."""
    m = _MODEL_RE.match(name or "")
    if not m:
        raise Rejected(f"replicate: '{name}' is not a Replicate model",
                       hint="write owner/name (e.g. wan-video/wan-2.2-i2v-fast), or owner/name:<version id>")
    return m.group(1), m.group(2), m.group(3)


def _parse_time(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _output_url(output: Any) -> Optional[str]:
    """The video in an output: a URL, a list of URLs (the first video), or ``{"video": url}``."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        urls = [u for u in output if isinstance(u, str)]
        videos = [u for u in urls if urlsplit(u).path.lower().endswith((".mp4", ".mov", ".webm", ".mkv"))]
        return next(iter(videos or urls), None)
    if isinstance(output, dict):
        for k in ("video", "mp4", "output"):
            if isinstance(output.get(k), str):
                return output[k]
        return next((v for v in output.values() if isinstance(v, str)), None)
    return None


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("detail") or error.get("message") or error)[:400]
    return str(error)[:400]


class ReplicateProvider(RemoteProvider):
    name = "replicate"
    default_base_url = "https://api.replicate.com"
    size_style = "aspect"

    # -- models and plan -------------------------------------------------------------------

    def spec(self, model: Optional[str]) -> ModelSpec:
        """``owner/name`` from the catalog; ``owner/name:version`` runs that version under its model's rules."""
        name = model or self.default_model() or ""
        owner, mname, version = split_model(name)
        rules = catalog.models_for(self.name, self.settings)
        base = name if name in rules else f"{owner}/{mname}"
        if base in rules:
            spec = self._configured(catalog.model_spec(self.name, base, rules[base], self.size_style))
            if base != name:
                spec = spec.model_copy(update={"name": name})
            return configured_model(spec, self.settings, self.name)
        return self.custom_spec(name)

    def custom_spec(self, name: str) -> ModelSpec:
        split_model(name)
        return mapped_custom(self.name, name, self.settings, duration_type="int",
                             image_hint="i2v" in name or "image-to-video" in name)

    def plan(self, req: GenerationRequest) -> ServicePlan:
        plan = mapped_plan(self, req)
        if plan.use_first or plan.use_last:
            big = [p for p, used in ((req.first_frame, plan.use_first), (req.last_frame, plan.use_last))
                   if used and p and _png_size(p) * 4 // 3 > INLINE_LIMIT]
            if big:
                plan = plan.model_copy(update={"notes": plan.notes + [
                    "neighbour frames over 1 MB are uploaded to Replicate's file store, not inlined"]})
        return plan

    def build_body(self, req: GenerationRequest, plan: ServicePlan) -> dict[str, Any]:
        """``{"input": {...}}`` (plus ``"version"`` for a pinned ``owner/name:version``)."""
        body: dict[str, Any] = {"input": mapped_inputs(self.spec(plan.model), req, plan, self.settings.extra,
                                                       png_data_uri)}
        _, _, version = split_model(plan.model)
        if version:
            body = {"version": version, **body}
        return body

    # -- predictions -----------------------------------------------------------------------

    async def submit(self, http: Any, req: GenerationRequest, plan: ServicePlan, body: Any) -> JobHandle:
        owner, mname, version = split_model(plan.model)
        body = {**body, "input": await self._upload_large(http, body["input"])}
        path = "/v1/predictions" if version else f"/v1/models/{owner}/{mname}/predictions"
        data = await http.post_json(path, body, what=f"create prediction for {owner}/{mname}")
        try:
            pred = ReplicatePrediction.model_validate(data)
        except ValidationError:
            raise ServiceError("replicate: the create call answered without a prediction id",
                               hint="the prediction may exist: check replicate.com/predictions") from None
        return self._handle(http, pred)

    def _handle(self, http: Any, pred: ReplicatePrediction) -> JobHandle:
        get = (pred.urls or {}).get("get")
        return JobHandle(job_id=pred.id, data={
            "get_url": get if get and http.same_origin(get) else f"/v1/predictions/{pred.id}",
            "created_at": pred.created_at})

    async def _upload_large(self, http: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """Data URIs over :data:`INLINE_LIMIT` replaced by files uploaded to Replicate itself."""
        out = dict(inputs)
        for k, v in inputs.items():
            if isinstance(v, str) and v.startswith("data:") and len(v) > INLINE_LIMIT:
                head, _, b64 = v.partition(",")
                ctype = head[5:].split(";")[0] or "application/octet-stream"
                ext = ctype.split("/")[-1]
                # An upload creates nothing billable, so it is retried like a read.
                resp = await http.request(
                    "POST", "/v1/files", idempotent=True, what="upload a neighbour frame",
                    files={"content": (f"{k}.{ext}", base64.b64decode(b64), ctype)},
                    data={"metadata": "{}"})
                try:
                    f = ReplicateFile.model_validate(resp.json())
                except (ValidationError, ValueError):
                    raise ServiceError("replicate: the file upload answered without a file URL") from None
                out[k] = f.urls.get("get") or next(iter(f.urls.values()))
        return out

    async def poll(self, http: Any, handle: JobHandle) -> JobStatus:
        data = await http.get_json(handle.data.get("get_url") or f"/v1/predictions/{handle.job_id}",
                                   what="get prediction")
        try:
            pred = ReplicatePrediction.model_validate(data)
        except ValidationError:
            raise ServiceError(f"replicate: prediction {handle.job_id} came back without an id or status") from None
        status = pred.status.lower()
        info = {"status": status}
        if status == "succeeded":
            url = _output_url(pred.output)
            if not url:
                return JobStatus(state="failed", error="the prediction succeeded but has no output URL", data=info)
            return JobStatus(state="succeeded", progress=1.0, output_url=url, data=info)
        if status == "failed":
            return JobStatus(state="failed", error=_error_text(pred.error) if pred.error else "failed", data=info)
        if status == "canceled":
            return JobStatus(state="failed", error="the prediction was canceled", data=info)
        if status in _RUNNING:
            return JobStatus(state="queued" if status == "starting" else "running",
                             progress=percent_in(pred.logs or "") if status == "processing" else None, data=info)
        # An ending we do not know (e.g. "aborted"): it will not produce output; stop, safely.
        reason = f"status '{pred.status}'" + (f": {_error_text(pred.error)}" if pred.error else "")
        return JobStatus(state="failed", error=reason, data=info)

    async def recover(self, http: Any, req: GenerationRequest, plan: ServicePlan, since: float) -> Optional[JobHandle]:
        """The one prediction, created since ``since``, of this model with our input (images aside)."""
        body = self.build_body(req, plan)
        want = {k: v for k, v in body["input"].items() if not (isinstance(v, str) and v.startswith("data:"))}
        owner, mname, version = split_model(plan.model)
        found: list[ReplicatePrediction] = []
        url: Optional[str] = "/v1/predictions"
        for _ in range(MAX_LIST_PAGES):
            if not url:
                break
            page = ReplicatePage.model_validate(await http.get_json(url, what="list predictions"))
            older = False
            for item in page.results:
                try:
                    pred = ReplicatePrediction.model_validate(item)
                except ValidationError:
                    continue
                created = _parse_time(pred.created_at)
                if created is None or created < since - CLOCK_SLACK:
                    older = True
                    continue
                if pred.model and pred.model != f"{owner}/{mname}":
                    continue
                if version and pred.version and pred.version != version:
                    continue
                if pred.input is None:               # a listing without inputs: read the prediction
                    pred = ReplicatePrediction.model_validate(
                        await http.get_json(f"/v1/predictions/{pred.id}", what="get prediction"))
                if all(pred.input.get(k) == v for k, v in want.items()) if pred.input is not None else False:
                    found.append(pred)
            nxt = page.next
            url = nxt if nxt and (not nxt.startswith(("http://", "https://")) or http.same_origin(nxt)) else None
            if older:
                break
        if len(found) != 1:
            return None                               # none, or ambiguous: leave it to the journal
        return self._handle(http, found[0])


def _png_size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
