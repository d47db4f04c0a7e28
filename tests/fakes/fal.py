"""A fake fal.ai queue (``queue.fal.run``) and a fake public CDN (``*.fal.media``) on 127.0.0.1.

The queue checks what fal checks: ``Authorization: Key <key>`` (401 ``{"detail": ...}``),
that the model id names a known app (404), and -- when the run starts, as fal's
runner does -- the input against the model's schema: unknown inputs, required
ones, enums and ranges, and that images are PNG data URIs or http(s) URLs.  An
invalid input shows as a COMPLETED request whose result is a 422 with a
FastAPI-style ``detail`` list.  Each request moves one step per status poll:
IN_QUEUE (queue_position, HTTP 202) -> IN_PROGRESS (logs with a percentage,
202) -> COMPLETED (200).  Outputs are ``{"video": {"url": <cdn>/files/...}}``;
the CDN is a second server that serves the video without any auth.

Scripting on top of the base: ``fail_next_job("status_error" | "moderation" |
"runner_error")``, ``cdn.expire_downloads()``, ``cdn.truncate_next_download()``,
``steps`` (the status sequence; the last one stays), ``on_poll`` (called with
the request id on each status poll, e.g. to read the journal).
"""

from __future__ import annotations

import base64
import itertools
import threading
from typing import Any, Callable, Optional

from fakes.server import FakeService, Recorded, Reply

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FakeCdn(FakeService):
    """A public file host: ``GET /files/{id}/{name}`` serves the video; it never asks for a key."""

    def setup_routes(self) -> None:
        self.route("GET", "/files/{id}/{name}", lambda rec, p: self.video_reply())


# -- input schemas: field -> check(value) -> error (msg, type) or None ---------------------------

Check = Callable[[Any], Optional[tuple[str, str]]]


def _str(v: Any) -> Optional[tuple[str, str]]:
    return None if isinstance(v, str) else ("Input should be a valid string", "string_type")


def _int_range(lo: int, hi: int) -> Check:
    def check(v: Any) -> Optional[tuple[str, str]]:
        if not isinstance(v, int) or isinstance(v, bool):
            return "Input should be a valid integer", "int_type"
        if not lo <= v <= hi:
            return f"Input should be between {lo} and {hi} (inclusive)", "range_error"
        return None
    return check


def _one_of(*allowed: Any) -> Check:
    def check(v: Any) -> Optional[tuple[str, str]]:
        if v in allowed and type(v) in {type(a) for a in allowed}:
            return None
        return "Input should be " + " or ".join(repr(a) for a in allowed), "literal_error"
    return check


def _bool(v: Any) -> Optional[tuple[str, str]]:
    return None if isinstance(v, bool) else ("Input should be a valid boolean", "bool_type")


def _number(v: Any) -> Optional[tuple[str, str]]:
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) else (
        "Input should be a valid number", "float_type")


def _image(v: Any) -> Optional[tuple[str, str]]:
    if not isinstance(v, str):
        return "Input should be a valid string", "string_type"
    if v.startswith(("https://", "http://")):
        return None
    if v.startswith("data:image/png;base64,"):
        try:
            raw = base64.b64decode(v.split(",", 1)[1], validate=True)
        except ValueError:
            return "Invalid base64 data URI", "image_load_error"
        return None if raw.startswith(PNG_SIGNATURE) else ("Could not load the image", "image_load_error")
    return "Input should be a URL or a data URI", "image_load_error"


WAN_I2V = {"prompt": _str, "image_url": _image, "end_image_url": _image, "negative_prompt": _str,
           "seed": _int_range(0, 2**31 - 1), "num_frames": _int_range(17, 161),
           "frames_per_second": _int_range(4, 60), "resolution": _one_of("480p", "580p", "720p"),
           "aspect_ratio": _one_of("auto", "16:9", "9:16", "1:1"), "num_inference_steps": _int_range(2, 40),
           "enable_safety_checker": _bool, "enable_prompt_expansion": _bool, "acceleration": _str}
WAN_T2V = {k: v for k, v in WAN_I2V.items() if k not in ("image_url", "end_image_url")}
KLING_21_STD = {"prompt": _str, "image_url": _image, "duration": _one_of("5", "10"), "negative_prompt": _str,
                "cfg_scale": _number}
LTX2_I2V = {"prompt": _str, "image_url": _image, "duration": _one_of(6, 8, 10),
            "resolution": _one_of("1080p", "1440p", "2160p"), "fps": _one_of(25, 50), "generate_audio": _bool}

MODELS: dict[str, tuple[dict[str, Check], tuple[str, ...]]] = {
    "fal-ai/wan/v2.2-a14b/image-to-video": (WAN_I2V, ("prompt", "image_url")),
    "fal-ai/wan/v2.2-a14b/text-to-video": (WAN_T2V, ("prompt",)),
    "fal-ai/kling-video/v2.1/standard/image-to-video": (KLING_21_STD, ("prompt", "image_url")),
    "fal-ai/ltx-2/image-to-video": (LTX2_I2V, ("prompt", "image_url")),
}


def validate(schema: dict[str, Check], required: tuple[str, ...], body: Any) -> list[dict[str, Any]]:
    """FastAPI-style error objects for an input, as fal's runner returns them (empty when valid)."""
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
    errors = []
    for name in required:
        if name not in body:
            errors.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
    for name, value in body.items():
        check = schema.get(name)
        problem = ("Extra inputs are not permitted", "extra_forbidden") if check is None else check(value)
        if problem:
            errors.append({"loc": ["body", name], "msg": problem[0], "type": problem[1],
                           "url": f"https://docs.fal.ai/errors/#{problem[1]}"})
    return errors


class FakeFal(FakeService):
    """The queue: submit, status, result, cancel."""

    def __init__(self, video: bytes = b"", key: str = "test-secret-key", cdn: Optional[FakeCdn] = None) -> None:
        self.key = key
        self.cdn = cdn
        self.models = dict(MODELS)
        #: statuses a request shows, one per status poll; the last one stays
        self.steps: list[str] = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        self.on_poll: Optional[Callable[[str], Any]] = None
        self.polls: list[Any] = []
        self._fail_next: list[str] = []
        self._ids = itertools.count(1)
        self._jobs_lock = threading.Lock()
        super().__init__(video)

    # -- scripting -------------------------------------------------------------------------

    def clear(self) -> None:
        """Back to a fresh queue (same port, same key)."""
        super().clear()
        self.models = dict(MODELS)
        self.steps = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        self.on_poll = None
        self.polls = []
        self._fail_next = []

    def fail_next_job(self, kind: str = "moderation") -> None:
        """The next request fails: ``status_error`` (COMPLETED with error/error_type),
        ``moderation`` (its result is a 422 content_policy_violation) or ``runner_error``
        (its result is a 500 with error_type runner_server_error)."""
        assert kind in ("status_error", "moderation", "runner_error")
        self._fail_next.append(kind)

    # -- routes ----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("GET", "/{owner}/{alias}/requests/{id}/status", self._status)
        self.route("PUT", "/{owner}/{alias}/requests/{id}/cancel", self._cancel)
        self.route("GET", "/{owner}/{alias}/requests/{id}", self._result)
        self.route("POST", "/{model:path}", self._submit)

    def _auth(self, rec: Recorded) -> Optional[Reply]:
        auth = rec.headers.get("authorization", "")
        if not auth:
            return Reply(401, {"detail": "Authentication is required to access this application."})
        if auth != f"Key {self.key}":
            return Reply(401, {"detail": "Invalid API key or it has been revoked."})
        return None

    def _urls(self, app: str, rid: str) -> dict[str, str]:
        base = f"{self.url}/{app}/requests/{rid}"
        return {"status_url": base + "/status", "response_url": base, "cancel_url": base + "/cancel"}

    def _submit(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        model = p["model"].strip("/")
        if model not in self.models:
            return Reply(404, {"detail": f"Application '{model}' not found"})
        try:
            body = rec.json
        except ValueError:
            return Reply(422, {"detail": [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]})
        app = "/".join(model.split("/")[:2])
        rid = f"{next(self._ids):04d}-fal-req"
        schema, required = self.models[model]
        with self._jobs_lock:
            fail = self._fail_next.pop(0) if self._fail_next else None
            self.jobs[rid] = {"model": model, "app": app, "input": body, "step": -1, "fail": fail,
                              "errors": validate(schema, required, body)}
        return Reply(200, {"request_id": rid, "status": "IN_QUEUE", "queue_position": 2, **self._urls(app, rid)})

    def _job(self, p: dict[str, str]) -> Optional[dict[str, Any]]:
        job = self.jobs.get(p["id"])
        if job is None or job["app"] != f"{p['owner']}/{p['alias']}":
            return None
        return job

    def _state(self, job: dict[str, Any]) -> str:
        return self.steps[min(max(job["step"], 0), len(self.steps) - 1)]

    def _status(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        job = self._job(p)
        if job is None:
            return Reply(404, {"detail": f"Request {p['id']} not found"})
        if self.on_poll is not None:
            self.polls.append(self.on_poll(p["id"]))
        with self._jobs_lock:
            job["step"] += 1
        state = self._state(job)
        with_logs = rec.query.get("logs", ["0"])[0] in ("1", "true")
        urls = self._urls(job["app"], p["id"])
        if state == "IN_QUEUE":
            return Reply(202, {"status": "IN_QUEUE", "queue_position": 2, "request_id": p["id"],
                               "response_url": urls["response_url"], "logs": None})
        if state == "IN_PROGRESS":
            logs = [{"message": "Loading model", "level": "INFO", "timestamp": "2026-01-01T00:00:01Z"},
                    {"message": "Generating:  40%|####      | 8/20 [00:08<00:12]", "level": "INFO",
                     "timestamp": "2026-01-01T00:00:09Z"}]
            return Reply(202, {"status": "IN_PROGRESS", "request_id": p["id"],
                               "response_url": urls["response_url"], "logs": logs if with_logs else None})
        if state != "COMPLETED":                    # any other status a test scripts, as fal would send it
            return Reply(202, {"status": state, "request_id": p["id"], "response_url": urls["response_url"]})
        error = error_type = None
        if job["fail"] == "status_error":
            error, error_type = "Runner disconnected while processing the request", "runner_disconnected"
        return Reply(200, {"status": "COMPLETED", "request_id": p["id"], "response_url": urls["response_url"],
                           "logs": [] if with_logs else None, "metrics": {"inference_time": 41.2},
                           "error": error, "error_type": error_type})

    def _result(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        job = self._job(p)
        if job is None:
            return Reply(404, {"detail": f"Request {p['id']} not found"})
        if self._state(job) != "COMPLETED":
            return Reply(400, {"detail": "Request is still in progress"})
        if job["errors"]:
            return Reply(422, {"detail": job["errors"]})
        if job["fail"] == "moderation":
            return Reply(422, {"detail": [{
                "loc": ["body", "prompt"], "msg": "The content could not be processed because it contained "
                "material flagged by a content checker.", "type": "content_policy_violation",
                "url": "https://docs.fal.ai/errors/#content_policy_violation"}]},
                {"X-Fal-Retryable": "false"})
        if job["fail"] == "runner_error":
            return Reply(500, {"detail": "CUDA out of memory while decoding the video",
                               "error_type": "runner_server_error"},
                         {"X-Fal-Error-Type": "runner_server_error", "x-fal-request-id": p["id"]})
        if job["fail"] == "status_error":
            return Reply(503, {"detail": "Runner disconnected while processing the request",
                               "error_type": "runner_disconnected"},
                         {"X-Fal-Error-Type": "runner_disconnected"})
        host = self.cdn.url if self.cdn is not None else self.url
        return Reply(200, {"video": {"url": f"{host}/files/{p['id']}/out.mp4", "content_type": "video/mp4",
                                     "file_name": "out.mp4", "file_size": len(self.video)},
                           "seed": 123456})

    def _cancel(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        job = self._job(p)
        if job is None:
            return Reply(404, {"status": "NOT_FOUND"})
        if self._state(job) == "COMPLETED":
            return Reply(400, {"status": "ALREADY_COMPLETED"})
        return Reply(202, {"status": "CANCELLATION_REQUESTED"})
