"""A fake Gemini API for Veo: long-running operations, Google error shapes, key-checked downloads.

* ``POST /v1beta/models/{model}:predictLongRunning`` checks ``x-goog-api-key``
  (missing: 403 PERMISSION_DENIED; wrong: 400 INVALID_ARGUMENT "API key not
  valid", as Google answers), the model (404 NOT_FOUND), and the body:
  instances (``image`` / ``lastFrame`` as ``bytesBase64Encoded`` + ``mimeType``
  or ``inlineData``), parameters (aspect ratio, duration per model,
  resolution, no ``seed`` and nothing unknown).  It answers ``{"name": ...}``.
* ``GET /v1beta/models/{model}/operations/{id}`` is not done (``done`` absent,
  then ``false``) for :attr:`FakeVeo.steps` polls, then ``done`` with a
  ``response``, an ``error``, or an RAI-filtered response without samples.
* The video ``uri`` is ``/v1beta/files/{id}:download?alt=media`` on this
  server, which needs the key and redirects (302) to a second server,
  :attr:`FakeVeo.storage`, that serves the bytes and must never see the key.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import secrets
import threading
from typing import Any, Callable, Optional

from fakes.server import FakeService, Recorded, Reply

MODELS = {
    # name: (durations, resolutions, last frame)
    "veo-3.1-generate-preview": ({4, 6, 8}, {"720p", "1080p", "4k"}, True),
    "veo-3.1-fast-generate-preview": ({4, 6, 8}, {"720p", "1080p", "4k"}, True),
    "veo-3.0-generate-001": ({4, 6, 8}, {"720p", "1080p"}, False),
    "veo-3.0-fast-generate-001": ({4, 6, 8}, {"720p", "1080p"}, False),
    "veo-2.0-generate-001": ({5, 6, 8}, set(), False),
}
PARAMETERS = {"aspectRatio", "durationSeconds", "resolution", "negativePrompt", "personGeneration",
              "sampleCount", "numberOfVideos", "enhancePrompt"}
INSTANCE_KEYS = {"prompt", "image", "lastFrame", "referenceImages", "video"}
IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp"}


def google_error(code: int, status: str, message: str, details: Optional[list] = None) -> Reply:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return Reply(code, {"error": err})


class _Invalid(Exception):
    pass


class FakeVeo(FakeService):
    """The Gemini API's Veo routes on one server, the video storage on another (:attr:`storage`)."""

    def __init__(self, video: bytes = b"", key: str = "test-secret-key") -> None:
        self.key = key
        #: polls that answer "not done" before an operation is done
        self.steps = 2
        #: called with the request on every operation read
        self.on_poll: Optional[Callable[[Recorded], None]] = None
        self._outcomes: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._jobs_lock = threading.Lock()
        self.files_gone = False
        self.storage = FakeService(video)
        self.storage.route("GET", "/videos/{file}", lambda rec, p: self.storage.video_reply())
        super().__init__(video)

    def start(self) -> None:
        self.storage.start()
        super().start()

    def stop(self) -> None:
        self.storage.stop()
        super().stop()

    # -- scripting -------------------------------------------------------------------------

    def filter_next(self, reasons: Optional[list[str]] = None) -> None:
        """The next operation ends done with no sample, filtered for these reasons."""
        self._outcomes.append({"filtered": reasons or [
            "Veo could not generate videos because the input image violates Vertex AI's usage guidelines. "
            "Support codes: 17301594"]})

    def fail_next(self, code: int = 13, message: str = "Video generation failed due to an internal error.") -> None:
        """The next operation ends done with ``error`` (a google.rpc.Status)."""
        self._outcomes.append({"error": {"code": code, "message": message}})

    def expire_downloads(self, expired: bool = True) -> None:
        """Generated files are gone (Gemini keeps them for 2 days): the files route answers 404."""
        self.files_gone = expired

    def truncate_next_download(self, times: int = 1) -> None:
        self.storage.truncate_next_download(times)

    # -- routes ----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", "/v1beta/models/{target}", self._predict)
        self.route("GET", "/v1beta/models/{model}/operations/{op}", self._get_operation)
        self.route("GET", "/v1beta/files/{target}", self._file)

    def _check_key(self, rec: Recorded) -> Optional[Reply]:
        key = rec.headers.get("x-goog-api-key") or (rec.query.get("key") or [None])[0]
        if not key:
            return google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers "
                                "without established identity). Please use API Key or other form of API "
                                "consumer identity to call this API.")
        if key != self.key:
            return google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                  "domain": "googleapis.com"}])
        return None

    def _predict(self, rec: Recorded, p: dict[str, str]) -> Reply:
        bad = self._check_key(rec)
        if bad is not None:
            return bad
        model, _, action = p["target"].partition(":")
        if model not in MODELS or action != "predictLongRunning":
            return google_error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, or is not "
                                "supported for predictLongRunning. Call ListModels to see the list of available "
                                "models and their supported methods.")
        try:
            body = rec.json
        except ValueError:
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        try:
            self._validate(model, body)
        except _Invalid as exc:
            return google_error(400, "INVALID_ARGUMENT", exc.args[0])
        name = f"models/{model}/operations/{next(self._ids):04d}{secrets.token_hex(6)}"
        with self._jobs_lock:
            outcome = self._outcomes.pop(0) if self._outcomes else {}
            self.jobs[name] = {"name": name, "model": model, "body": body, "polls": 0, **outcome}
        return Reply(200, {"name": name})

    def _validate(self, model: str, body: Any) -> None:
        durations, resolutions, last_ok = MODELS[model]
        if not isinstance(body, dict):
            raise _Invalid("Invalid JSON payload received. Expected an object.")
        for k in body:
            if k not in ("instances", "parameters"):
                raise _Invalid(f'Invalid JSON payload received. Unknown name "{k}": Cannot find field.')
        instances = body.get("instances")
        if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
            raise _Invalid("instances must hold exactly one instance.")
        inst = instances[0]
        for k in inst:
            if k not in INSTANCE_KEYS:
                raise _Invalid(f"`{k}` isn't supported by this model. Please remove it or refer to the Gemini API "
                               "documentation for supported usage.")
        for k in ("image", "lastFrame"):
            if k in inst:
                self._validate_image(k, inst[k])
        if "lastFrame" in inst:
            if not last_ok:
                raise _Invalid("`lastFrame` isn't supported by this model. Please remove it or refer to the "
                               "Gemini API documentation for supported usage.")
            if "image" not in inst:
                raise _Invalid("`lastFrame` requires `image` (the first frame).")
        if not inst.get("prompt") and "image" not in inst:
            raise _Invalid("A prompt is required for text-to-video.")
        params = body.get("parameters", {})
        if not isinstance(params, dict):
            raise _Invalid("parameters must be an object.")
        for k in params:
            if k not in PARAMETERS:
                raise _Invalid(f"`{k}` isn't supported by this model. Please remove it or refer to the Gemini API "
                               "documentation for supported usage.")
        if params.get("aspectRatio", "16:9") not in ("16:9", "9:16"):
            raise _Invalid(f"Aspect ratio {params['aspectRatio']!r} is not supported. Supported: 16:9, 9:16.")
        d = params.get("durationSeconds", 8)
        if not isinstance(d, int) or isinstance(d, bool) or d not in durations:
            raise _Invalid(f"The number of seconds requested ({d}) is out of bound. Supported values are "
                           + ", ".join(str(x) for x in sorted(durations)) + ".")
        if "resolution" in params:
            res = params["resolution"]
            if not resolutions:
                raise _Invalid("`resolution` isn't supported by this model.")
            if res not in resolutions:
                raise _Invalid(f"Resolution {res!r} is not supported. Supported: {', '.join(sorted(resolutions))}.")
            if res in ("1080p", "4k") and d != 8:
                raise _Invalid(f"{res} videos must be 8 seconds long.")
        if "negativePrompt" in params and not isinstance(params["negativePrompt"], str):
            raise _Invalid("negativePrompt must be a string.")

    @staticmethod
    def _validate_image(field: str, img: Any) -> None:
        if not isinstance(img, dict):
            raise _Invalid(f"{field} must be an image object.")
        if "inlineData" in img:
            inner = img["inlineData"]
            data, mime = (inner.get("data"), inner.get("mimeType")) if isinstance(inner, dict) else (None, None)
        elif "gcsUri" in img:
            raise _Invalid(f"{field}: gcsUri is not supported in the Gemini API; send bytesBase64Encoded.")
        else:
            data, mime = img.get("bytesBase64Encoded"), img.get("mimeType")
        if not isinstance(data, str) or not data:
            raise _Invalid(f"{field}: image bytes are required (bytesBase64Encoded).")
        if mime not in IMAGE_TYPES:
            raise _Invalid(f"{field}: unsupported mimeType {mime!r}.")
        try:
            raw = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise _Invalid(f"{field}: bytesBase64Encoded is not valid base64.") from None
        if mime == "image/png" and raw[:8] != b"\x89PNG\r\n\x1a\n":
            raise _Invalid(f"{field}: the bytes are not a PNG image.")

    def _get_operation(self, rec: Recorded, p: dict[str, str]) -> Reply:
        bad = self._check_key(rec)
        if bad is not None:
            return bad
        if self.on_poll is not None:
            self.on_poll(rec)
        name = f"models/{p['model']}/operations/{p['op']}"
        with self._jobs_lock:
            job = self.jobs.get(name)
            if job is None:
                return google_error(404, "NOT_FOUND", f"Operation {name} not found.")
            job["polls"] += 1
            if job["polls"] == 1 and self.steps > 0:
                return Reply(200, {"name": name})                  # `done` absent means not done
            if job["polls"] <= self.steps:
                return Reply(200, {"name": name, "done": False})
        out: dict[str, Any] = {"name": name, "done": True}
        if "error" in job:
            out["error"] = job["error"]
        else:
            gvr: dict[str, Any]
            if "filtered" in job:
                gvr = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": job["filtered"]}
            else:
                file_id = job.setdefault("file", f"f{p['op']}")
                gvr = {"generatedSamples": [{"video": {
                    "uri": f"{self.url}/v1beta/files/{file_id}:download?alt=media"}}]}
            out["response"] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                                        "PredictLongRunningResponse", "generateVideoResponse": gvr}
        return Reply(200, out)

    def _file(self, rec: Recorded, p: dict[str, str]) -> Reply:
        bad = self._check_key(rec)
        if bad is not None:
            return bad
        file_id, _, action = p["target"].partition(":")
        known = any(j.get("file") == file_id for j in list(self.jobs.values()))
        if action != "download" or rec.query.get("alt") != ["media"] or not known or self.files_gone:
            return google_error(404, "NOT_FOUND", f"File {file_id} not found or has expired.")
        return Reply(302, None, {"Location": f"{self.storage.url}/videos/{file_id}.mp4?GoogleAccessId=fake&"
                                             "Expires=9999999999&Signature=c2lnbmVk"})
