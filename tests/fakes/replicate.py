"""A fake Replicate predictions API on 127.0.0.1 (outputs served by :class:`fakes.fal.FakeCdn`).

It checks what Replicate checks: ``Authorization: Bearer <token>`` (401, RFC 7807
body), the model or version (404 / 422), and the ``input`` against the model's
schema (required inputs, types, enums, ranges, images as PNG data URIs, https
URLs or files uploaded here) with Replicate's 422 ``Input validation failed``
shape.  It is stricter than Replicate on one point: unknown inputs are refused,
so a misspelt input name fails here instead of being silently ignored.

Each prediction moves one step per GET: starting -> processing (tqdm bar in
``logs``) -> succeeded (``output`` = a CDN URL, or a list when
``output_as_list``) | failed (``error``).  ``GET /v1/predictions`` lists them
newest first in pages of ``page_size`` with a ``next`` URL; ``POST /v1/files``
stores an upload.

Scripting on top of the base: ``fail_next_job(error)``, ``lose_next_create_reply()``
(the prediction is created, then the connection closes without an answer),
``add_prediction(...)`` (someone else's prediction in the listing), ``steps``,
``on_poll``, ``list_inputs`` (False: the listing leaves ``input`` out).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import itertools
import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from fakes.fal import PNG_SIGNATURE
from fakes.server import FakeService, Recorded, Reply

MODERATION = "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"

# -- input schemas (JSON-schema-like): field -> check(value, fake) -> message or None ----------

Check = Callable[[Any, "FakeReplicate"], Optional[str]]


def _str(v: Any, fake: "FakeReplicate") -> Optional[str]:
    return None if isinstance(v, str) else f"Invalid type. Expected: string, given: {_jtype(v)}"


def _jtype(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(v), "unknown")


def _int(lo: Optional[int] = None, hi: Optional[int] = None) -> Check:
    def check(v: Any, fake: "FakeReplicate") -> Optional[str]:
        if not isinstance(v, int) or isinstance(v, bool):
            return f"Invalid type. Expected: integer, given: {_jtype(v)}"
        if lo is not None and v < lo:
            return f"Must be greater than or equal to {lo}"
        if hi is not None and v > hi:
            return f"Must be less than or equal to {hi}"
        return None
    return check


def _number(v: Any, fake: "FakeReplicate") -> Optional[str]:
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) else (
        f"Invalid type. Expected: number, given: {_jtype(v)}")


def _bool(v: Any, fake: "FakeReplicate") -> Optional[str]:
    return None if isinstance(v, bool) else f"Invalid type. Expected: boolean, given: {_jtype(v)}"


def _enum(name: str, *allowed: Any) -> Check:
    def check(v: Any, fake: "FakeReplicate") -> Optional[str]:
        if v in allowed and type(v) in {type(a) for a in allowed}:
            return None
        return f"{name} must be one of the following: " + ", ".join(
            json.dumps(a) if isinstance(a, str) else str(a) for a in allowed)
    return check


def _image(v: Any, fake: "FakeReplicate") -> Optional[str]:
    if not isinstance(v, str):
        return f"Invalid type. Expected: string, given: {_jtype(v)}"
    if v.startswith(f"{fake.url}/v1/files/"):
        return None if v.rsplit("/", 1)[-1] in fake.files else "file not found"
    if v.startswith("https://"):
        return None
    if v.startswith("data:image/png;base64,"):
        try:
            raw = base64.b64decode(v.split(",", 1)[1], validate=True)
        except ValueError:
            return "Does not match format 'uri'"
        return None if raw.startswith(PNG_SIGNATURE) else "cannot identify image file"
    return "Does not match format 'uri'"


WAN_I2V_FAST = {"prompt": _str, "image": _image, "last_image": _image, "num_frames": _int(81, 121),
                "frames_per_second": _int(5, 30), "resolution": _enum("resolution", "480p", "720p"),
                "seed": _int(), "go_fast": _bool, "sample_shift": _number, "interpolate_output": _bool,
                "disable_safety_checker": _bool}
WAN_T2V_FAST = {**{k: v for k, v in WAN_I2V_FAST.items() if k not in ("image", "last_image")},
                "aspect_ratio": _enum("aspect_ratio", "16:9", "9:16"), "optimize_prompt": _bool}
KLING_25_TURBO_PRO = {"prompt": _str, "negative_prompt": _str, "start_image": _image, "end_image": _image,
                      "aspect_ratio": _enum("aspect_ratio", "16:9", "9:16", "1:1"),
                      "duration": _enum("duration", 5, 10), "image": _image}

MODELS: dict[str, tuple[dict[str, Check], tuple[str, ...]]] = {
    "wan-video/wan-2.2-i2v-fast": (WAN_I2V_FAST, ("prompt", "image")),
    "wan-video/wan-2.2-t2v-fast": (WAN_T2V_FAST, ("prompt",)),
    "kwaivgi/kling-v2.5-turbo-pro": (KLING_25_TURBO_PRO, ("prompt",)),
}
#: version id -> model (fake ids, 64 hex like Replicate's)
VERSIONS = {hashlib.sha256(m.encode()).hexdigest(): m for m in MODELS}


def problem(status: int, title: str, detail: str, **extra: Any) -> Reply:
    return Reply(status, {"title": title, "detail": detail, "status": status, **extra},
                 {"Content-Type": "application/problem+json"})


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeReplicate(FakeService):
    """Predictions (create by model or version, get, list, cancel) and file uploads."""

    def __init__(self, video: bytes = b"", key: str = "test-secret-key", cdn: Optional[FakeService] = None) -> None:
        self.key = key
        self.cdn = cdn
        self.files: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._plock = threading.Lock()
        super().__init__(video)
        self.clear()

    # -- scripting -------------------------------------------------------------------------

    def clear(self) -> None:
        super().clear()
        self.files.clear()
        self.models = dict(MODELS)
        self.versions = dict(VERSIONS)
        #: statuses a prediction shows, one per GET; the last one stays
        self.steps: list[str] = ["starting", "starting", "processing", "succeeded"]
        self.on_poll: Optional[Callable[[str], Any]] = None
        self.polls: list[Any] = []
        self.page_size = 100
        self.output_as_list = False
        self.list_inputs = True
        self._fail_next: list[str] = []
        self._lose_next = 0

    def fail_next_job(self, error: str = MODERATION) -> None:
        self._fail_next.append(error)

    def lose_next_create_reply(self) -> None:
        self._lose_next += 1

    def add_prediction(self, model: str, input: dict[str, Any], *, age: float = 0.0, status: str = "succeeded") -> str:
        """Someone else's prediction, created ``age`` seconds ago."""
        pid = self._new(model, None, input, datetime.now(timezone.utc) - timedelta(seconds=age))
        self.jobs[pid]["fixed"] = status
        return pid

    # -- routes ----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", "/v1/models/{owner}/{name}/predictions", self._create_for_model)
        self.route("POST", "/v1/predictions/{id}/cancel", self._cancel)
        self.route("POST", "/v1/predictions", self._create_for_version)
        self.route("GET", "/v1/predictions/{id}", self._get)
        self.route("GET", "/v1/predictions", self._list)
        self.route("POST", "/v1/files", self._upload)

    def _auth(self, rec: Recorded) -> Optional[Reply]:
        if rec.headers.get("authorization", "") != f"Bearer {self.key}":
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    def _body(self, rec: Recorded) -> Any:
        try:
            return rec.json
        except ValueError:
            return None

    def _create_for_model(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        model = f"{p['owner']}/{p['name']}"
        if model not in self.models:
            return problem(404, "Not found", f"The requested model could not be found: {model}")
        return self._create(rec, model, None)

    def _create_for_version(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        body = self._body(rec)
        version = body.get("version") if isinstance(body, dict) else None
        if not isinstance(version, str) or version not in self.versions:
            return problem(422, "Invalid version or not permitted",
                           "The specified version does not exist (or perhaps you don't have permission to use it?)")
        return self._create(rec, self.versions[version], version)

    def _create(self, rec: Recorded, model: str, version: Optional[str]) -> Reply:
        body = self._body(rec)
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            return problem(422, "Input validation failed", "- input: Invalid type. Expected: object\n")
        unknown = sorted(set(body) - {"input", "version", "webhook", "webhook_events_filter", "stream"})
        if unknown:
            return problem(422, "Invalid request", f"- (root): Additional property {unknown[0]} is not allowed\n")
        errors = self._validate(model, body["input"])
        if errors:
            return problem(422, "Input validation failed", "".join(f"- {f}: {m}\n" for f, m in errors),
                           invalid_fields=[{"type": "invalid", "field": f, "description": m} for f, m in errors])
        pid = self._new(model, version, body["input"], datetime.now(timezone.utc))
        reply = Reply(201, self._view(self.jobs[pid]))
        with self._plock:
            if self._lose_next:
                self._lose_next -= 1
                reply.drop = True
        return reply

    def _validate(self, model: str, input: dict[str, Any]) -> list[tuple[str, str]]:
        schema, required = self.models[model]
        errors = [("input", f"{name} is required") for name in required if name not in input]
        for name, value in input.items():
            check = schema.get(name)
            msg = f"Additional property {name} is not allowed" if check is None else check(value, self)
            if msg:
                errors.append((f"input.{name}" if check else "input", msg))
        return errors

    def _new(self, model: str, version: Optional[str], input: dict[str, Any], created: datetime) -> str:
        with self._plock:
            n = next(self._ids)
            fail = self._fail_next.pop(0) if self._fail_next else None
        pid = f"rp{n:04d}q{hashlib.sha1(str(n).encode()).hexdigest()[:20]}"
        self.jobs[pid] = {"id": pid, "model": model, "version": version or hashlib.sha256(model.encode()).hexdigest(),
                          "input": input, "created_at": iso(created), "step": 0, "fail": fail, "fixed": None}
        return pid

    def _status(self, job: dict[str, Any]) -> str:
        if job["fixed"]:
            return job["fixed"]
        status = self.steps[min(job["step"], len(self.steps) - 1)]
        if status == "succeeded" and job["fail"]:
            return "failed"
        return status

    def _view(self, job: dict[str, Any], with_input: bool = True) -> dict[str, Any]:
        status = self._status(job)
        base = f"{self.url}/v1/predictions/{job['id']}"
        out: Any = None
        logs = ""
        if status == "processing":
            logs = "Loading pipeline...\n  0%|          | 0/20 [00:00<?, ?it/s]\n 45%|####5     | 9/20 [00:09<00:11]"
        if status == "succeeded":
            host = self.cdn.url if self.cdn is not None else self.url
            url = f"{host}/files/{job['id']}/output.mp4"
            out = [url] if self.output_as_list else url
            logs = "100%|##########| 20/20 [00:20<00:00]"
        view = {"id": job["id"], "model": job["model"], "version": job["version"], "logs": logs, "output": out,
                "data_removed": False, "error": job["fail"] if status == "failed" else None, "status": status,
                "created_at": job["created_at"], "source": "api",
                "urls": {"get": base, "cancel": base + "/cancel", "stream": f"{self.url}/stream/{job['id']}",
                         "web": f"https://replicate.com/p/{job['id']}"}}
        if with_input:
            view["input"] = job["input"]
        return view

    def _get(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        job = self.jobs.get(p["id"])
        if job is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if self.on_poll is not None:
            self.polls.append(self.on_poll(p["id"]))
        with self._plock:
            job["step"] += 1
        return Reply(200, self._view(job))

    def _list(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        start = int(rec.query.get("cursor", ["0"])[0])
        ordered = sorted(self.jobs.values(), key=lambda j: j["created_at"], reverse=True)
        page = ordered[start:start + self.page_size]
        nxt = f"{self.url}/v1/predictions?cursor={start + self.page_size}" if start + self.page_size < len(ordered) \
            else None
        return Reply(200, {"previous": None, "next": nxt,
                           "results": [self._view(j, with_input=self.list_inputs) for j in page]})

    def _cancel(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        job = self.jobs.get(p["id"])
        if job is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if self._status(job) in ("starting", "processing"):
            job["fixed"] = "canceled"
        return Reply(200, self._view(job))

    def _upload(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        ctype = rec.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return problem(400, "Bad request", "Expected a multipart/form-data body with a 'content' part")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + rec.body)
        parts = {part.get_param("name", header="content-disposition"): part for part in msg.iter_parts()}
        content = parts.get("content")
        if content is None or content.get_filename() is None:
            return problem(400, "Bad request", "Missing file part 'content'")
        data = content.get_payload(decode=True) or b""
        fid = f"file{len(self.files) + 1:03d}"
        now = datetime.now(timezone.utc)
        self.files[fid] = {"name": content.get_filename(), "content_type": content.get_content_type(), "data": data}
        return Reply(201, {"id": fid, "name": content.get_filename(), "content_type": content.get_content_type(),
                           "size": len(data), "etag": hashlib.md5(data).hexdigest(),
                           "checksums": {"sha256": hashlib.sha256(data).hexdigest()}, "metadata": {},
                           "created_at": iso(now), "expires_at": iso(now + timedelta(days=1)),
                           "urls": {"get": f"{self.url}/v1/files/{fid}"}})
