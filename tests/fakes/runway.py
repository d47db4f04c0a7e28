"""A fake Runway API: the documented routes, validation and task life, on 127.0.0.1.

* ``POST /v1/image_to_video`` and ``POST /v1/text_to_video`` check the bearer key
  (401 ``{"error": ...}``), the ``X-Runway-Version: 2024-11-06`` header (400),
  and the body per model the way the SDK's types describe it: required and
  unknown fields, ratio, duration, ``promptImage`` positions, data URIs, seed.
* ``GET /v1/tasks/{id}`` moves a task one step per poll through
  :attr:`FakeRunway.sequence` (PENDING -> THROTTLED -> RUNNING with ``progress``
  -> SUCCEEDED), or ends it FAILED with a ``failureCode`` when told to.
* Outputs are public signed URLs on a second server, :attr:`FakeRunway.cdn`,
  which refuses expired tokens with the storage's 403.  Each task read hands
  out a fresh URL, as Runway does.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import secrets
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from fakes.server import FakeService, Recorded, Reply, bearer

VERSION = "2024-11-06"
GEN4_RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
VEO_RATIOS = {"1280:720", "720:1280", "1080:1920", "1920:1080"}
TWO_TO_TEN = set(range(2, 11))
_DATA_URI = re.compile(r"^data:image/(png|jpeg|webp);base64,([A-Za-z0-9+/=]+)$")


def _m(required: set[str], optional: set[str], ratios: set[str], durations: set[int],
       positions: set[str] = frozenset()) -> dict[str, Any]:
    return {"required": required, "optional": optional, "ratios": ratios, "durations": durations,
            "positions": positions}


#: endpoint -> model -> what its body may hold (runwayml/sdk-python *_create_params.py)
SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {
    "image_to_video": {
        "gen4_turbo": _m({"model", "promptImage", "ratio"}, {"promptText", "duration", "seed", "contentModeration"},
                         GEN4_RATIOS, TWO_TO_TEN, {"first"}),
        "gen4.5": _m({"model", "promptImage", "promptText", "ratio", "duration"}, {"seed", "contentModeration"},
                     GEN4_RATIOS, TWO_TO_TEN, {"first"}),
        "veo3.1": _m({"model", "promptImage", "ratio"}, {"promptText", "duration", "negativePrompt", "audio"},
                     VEO_RATIOS, {4, 6, 8}, {"first", "last"}),
        "veo3.1_fast": _m({"model", "promptImage", "ratio"}, {"promptText", "duration", "negativePrompt", "audio"},
                          VEO_RATIOS, {4, 6, 8}, {"first", "last"}),
        "veo3": _m({"model", "promptImage", "ratio", "duration"}, {"promptText", "negativePrompt"},
                   VEO_RATIOS, {8}, {"first"}),
    },
    "text_to_video": {
        "gen4.5": _m({"model", "promptText", "ratio", "duration"}, {"seed", "contentModeration"},
                     {"1280:720", "720:1280"}, TWO_TO_TEN),
        "veo3.1": _m({"model", "promptText", "ratio"}, {"duration", "audio"}, VEO_RATIOS, {4, 6, 8}),
        "veo3.1_fast": _m({"model", "promptText", "ratio"}, {"duration", "audio"}, VEO_RATIOS, {4, 6, 8}),
        "veo3": _m({"model", "promptText", "ratio", "duration"}, set(), VEO_RATIOS, {8}),
    },
}


class _Invalid(Exception):
    pass


class FakeRunway(FakeService):
    """Runway's API on one server and its output storage on another (:attr:`cdn`)."""

    def __init__(self, video: bytes = b"", key: str = "test-secret-key") -> None:
        self.key = key
        #: statuses a task shows on successive polls; the last one repeats
        self.sequence = ["PENDING", "THROTTLED", "RUNNING", "RUNNING", "SUCCEEDED"]
        #: called with the request on every task read (e.g. to look at the journal then)
        self.on_poll: Optional[Callable[[Recorded], None]] = None
        self._failures: list[tuple[str, str]] = []
        self._expire_next = 0
        self._tokens: dict[str, str] = {}
        self._expired_tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._jobs_lock = threading.Lock()
        self.cdn = FakeService(video)
        self.cdn.route("GET", "/outputs/{task}/{file}", self._cdn_get)
        super().__init__(video)

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self.cdn.start()
        super().start()

    def stop(self) -> None:
        self.cdn.stop()
        super().stop()

    # -- scripting -------------------------------------------------------------------------

    def moderate_next(self, code: str = "SAFETY.INPUT.TEXT",
                      failure: str = "The prompt was flagged by our content moderation system.") -> None:
        """The next task created ends FAILED with this ``failureCode`` and ``failure`` text."""
        self._failures.append((code, failure))

    def expire_next_urls(self, n: int = 1) -> None:
        """The next ``n`` output URLs handed out are already expired when fetched."""
        self._expire_next += n

    def expire_downloads(self, expired: bool = True) -> None:
        """Every output URL, issued or to come, answers 403 (the files are gone for good)."""
        super().expire_downloads(expired)
        self.cdn.expire_downloads(expired)

    def truncate_next_download(self, times: int = 1) -> None:
        self.cdn.truncate_next_download(times)

    # -- routes ----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", "/v1/image_to_video", lambda rec, p: self._create(rec, "image_to_video"))
        self.route("POST", "/v1/text_to_video", lambda rec, p: self._create(rec, "text_to_video"))
        self.route("GET", "/v1/tasks/{id}", self._get_task)
        self.route("DELETE", "/v1/tasks/{id}", self._delete_task)

    def _check_headers(self, rec: Recorded) -> Optional[Reply]:
        if bearer(rec) != self.key:
            return Reply(401, {"error": "Invalid API key. Keys start with key_ and are sent as "
                                        "'Authorization: Bearer <key>'."})
        version = rec.headers.get("x-runway-version")
        if version is None:
            return Reply(400, {"error": "The X-Runway-Version header is required. Use 2024-11-06."})
        if version != VERSION:
            return Reply(400, {"error": f"Unsupported API version '{version}'."})
        return None

    def _create(self, rec: Recorded, endpoint: str) -> Reply:
        bad = self._check_headers(rec)
        if bad is not None:
            return bad
        try:
            body = rec.json
        except ValueError:
            return Reply(400, {"error": "The request body is not valid JSON."})
        try:
            self._validate(endpoint, body)
        except _Invalid as exc:
            field, msg = exc.args
            return Reply(400, {"error": f"Validation of body failed: {field}: {msg}",
                               "issues": [{"path": [field], "message": msg}]})
        task_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
        with self._jobs_lock:
            fail = self._failures.pop(0) if self._failures else None
            self.jobs[task_id] = {"id": task_id, "endpoint": endpoint, "body": body, "polls": 0, "fail": fail,
                                  "createdAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        return Reply(200, {"id": task_id})

    def _validate(self, endpoint: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise _Invalid("body", "expected an object")
        models = SCHEMAS[endpoint]
        model = body.get("model")
        if model not in models:
            raise _Invalid("model", "Invalid discriminator value. Expected "
                           + " | ".join(f"'{m}'" for m in models))
        schema = models[model]
        for key in sorted(schema["required"] - set(body)):
            raise _Invalid(key, "Required")
        for key in sorted(set(body) - schema["required"] - schema["optional"]):
            raise _Invalid(key, f"Unrecognized key '{key}' for model {model}")
        if body["ratio"] not in schema["ratios"]:
            raise _Invalid("ratio", "Invalid enum value. Expected " + " | ".join(sorted(schema["ratios"])))
        if "duration" in body:
            d = body["duration"]
            if not isinstance(d, int) or isinstance(d, bool) or d not in schema["durations"]:
                raise _Invalid("duration", f"must be one of {sorted(schema['durations'])} for {model}, got {d!r}")
        if "promptText" in body:
            text = body["promptText"]
            if not isinstance(text, str) or not text or len(text.encode("utf-16-le")) // 2 > 1000:
                raise _Invalid("promptText", "must be a non-empty string of at most 1000 UTF-16 code units")
        if "seed" in body:
            s = body["seed"]
            if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= 4294967295:
                raise _Invalid("seed", "must be an integer from 0 to 4294967295")
        if "negativePrompt" in body and not isinstance(body["negativePrompt"], str):
            raise _Invalid("negativePrompt", "must be a string")
        if "promptImage" in body:
            self._validate_images(body["promptImage"], schema["positions"])

    @staticmethod
    def _validate_images(images: Any, positions: set[str]) -> None:
        if isinstance(images, str):
            images = [{"uri": images, "position": "first"}]
        if not isinstance(images, list) or not images:
            raise _Invalid("promptImage", "expected a URI or a non-empty list of {uri, position}")
        seen = []
        for i, img in enumerate(images):
            if not isinstance(img, dict) or set(img) != {"uri", "position"}:
                raise _Invalid(f"promptImage.{i}", "expected exactly {uri, position}")
            if img["position"] not in positions:
                raise _Invalid(f"promptImage.{i}.position",
                               f"Invalid enum value. Expected {' | '.join(sorted(positions))}")
            uri = img["uri"]
            if not isinstance(uri, str):
                raise _Invalid(f"promptImage.{i}.uri", "expected a string")
            if uri.startswith("data:"):
                if len(uri) > 5 * 1024 * 1024:
                    raise _Invalid(f"promptImage.{i}.uri", "Data URIs must be under 5MB.")
                m = _DATA_URI.match(uri)
                if not m:
                    raise _Invalid(f"promptImage.{i}.uri", "Invalid data URI.")
                try:
                    base64.b64decode(m.group(2), validate=True)
                except binascii.Error:
                    raise _Invalid(f"promptImage.{i}.uri", "Invalid data URI.") from None
            elif not uri.startswith("https://"):
                raise _Invalid(f"promptImage.{i}.uri", "Only HTTPS URLs are allowed.")
            seen.append(img["position"])
        if len(set(seen)) != len(seen):
            raise _Invalid("promptImage", "each position may be given once")
        if "last" in seen and "first" not in seen:
            raise _Invalid("promptImage", "This model does not support generating with only a last frame.")

    def _get_task(self, rec: Recorded, p: dict[str, str]) -> Reply:
        bad = self._check_headers(rec)
        if bad is not None:
            return bad
        if self.on_poll is not None:
            self.on_poll(rec)
        with self._jobs_lock:
            job = self.jobs.get(p["id"])
            if job is None:
                return Reply(404, {"error": "Task not found."})
            step = min(job["polls"], len(self.sequence) - 1)
            job["polls"] += 1
            status = self.sequence[step]
            out: dict[str, Any] = {"id": job["id"], "createdAt": job["createdAt"]}
            if status == "SUCCEEDED" and job["fail"]:
                code, failure = job["fail"]
                out.update(status="FAILED", failure=failure, failureCode=code)
            elif status == "SUCCEEDED":
                out.update(status="SUCCEEDED", output=[self._signed_url(job["id"])])
            elif status == "RUNNING":
                running = [i for i, s in enumerate(self.sequence) if s == "RUNNING"]
                k = running.index(step) + 1 if step in running else 1
                out.update(status="RUNNING", progress=round(k / (len(running) + 1), 2))
            else:
                out.update(status=status)
            job["last"] = out
        return Reply(200, out)

    def _delete_task(self, rec: Recorded, p: dict[str, str]) -> Reply:
        bad = self._check_headers(rec)
        if bad is not None:
            return bad
        with self._jobs_lock:
            if self.jobs.pop(p["id"], None) is None:
                return Reply(404, {"error": "Task not found."})
        return Reply(204)

    # -- the output storage ----------------------------------------------------------------

    def _signed_url(self, task_id: str) -> str:
        token = secrets.token_hex(12)
        self._tokens[token] = task_id
        if self._expire_next > 0:
            self._expire_next -= 1
            self._expired_tokens.add(token)
        return f"{self.cdn.url}/outputs/{task_id}/{secrets.token_hex(4)}.mp4?_jwt={token}"

    def _cdn_get(self, rec: Recorded, p: dict[str, str]) -> Reply:
        token = (rec.query.get("_jwt") or [""])[0]
        if self._tokens.get(token) != p["task"] or token in self._expired_tokens:
            return Reply(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                         {"Content-Type": "application/xml"})
        return self.cdn.video_reply()
