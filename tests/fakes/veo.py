"""A fake Vertex AI for Veo 3.1 GA: long-running operations, Google error shapes, the video inline.

* ``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predictLongRunning``
  (and ``/v1/publishers/google/models/...``, express mode) checks the key
  (``x-goog-api-key`` or ``Authorization: Bearer``; missing: 401 UNAUTHENTICATED;
  a wrong API key: 400 INVALID_ARGUMENT "API key not valid", as Google answers),
  the model (404 NOT_FOUND, also for the shut-down preview and retired 3.0/2.0
  ids), and the body: instances (``image`` / ``lastFrame`` as
  ``bytesBase64Encoded`` + ``mimeType``), parameters (aspect ratio, duration,
  resolution, ``generateAudio`` required for Veo 3, ``seed`` a uint32, nothing
  unknown).  It answers ``{"name": ...}``.
* ``POST .../models/{model}:fetchPredictOperation`` with ``{"operationName"}`` is
  not done (``done`` absent, then ``false``) for :attr:`FakeVeo.steps` reads,
  then ``done`` with ``response.videos[0].bytesBase64Encoded`` (the video), an
  ``error``, or an RAI-filtered response without videos.
* :attr:`FakeVeo.storage` stays for the contract suite's shape: Vertex returns
  the video inline, so nothing is ever fetched from it.
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
    "veo-3.1-generate-001": ({4, 6, 8}, {"720p", "1080p", "4k"}, True),
    "veo-3.1-fast-generate-001": ({4, 6, 8}, {"720p", "1080p", "4k"}, True),
    "veo-3.1-lite-generate-001": ({4, 6, 8}, {"720p", "1080p"}, False),
}
#: models that take reference images ("asset"), up to three
REFERENCES = {"veo-3.1-generate-001"}
#: ids Google has shut down: 404 like any unknown model
GONE = ("veo-3.1-generate-preview", "veo-3.1-fast-generate-preview", "veo-3.1-lite-generate-preview",
        "veo-3.0-generate-001", "veo-3.0-fast-generate-001", "veo-2.0-generate-001")
PARAMETERS = {"aspectRatio", "durationSeconds", "resolution", "negativePrompt", "personGeneration",
              "sampleCount", "enhancePrompt", "seed", "generateAudio", "storageUri", "compressionQuality",
              "resizeMode"}
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
        """Finished operations are gone: reading one answers 404 NOT_FOUND."""
        self.files_gone = expired

    def truncate_next_download(self, times: int = 1) -> None:
        self.storage.truncate_next_download(times)

    # -- routes ----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", "/v1/projects/{project}/locations/{location}/publishers/google/models/{target}",
                   self._model_call)
        self.route("POST", "/v1/publishers/google/models/{target}", self._model_call)

    def _check_key(self, rec: Recorded) -> Optional[Reply]:
        bearer = rec.headers.get("authorization", "")
        key = rec.headers.get("x-goog-api-key") or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
        if not key:
            return google_error(401, "UNAUTHENTICATED", "Request is missing required authentication credential. "
                                "Expected OAuth 2 access token, login cookie or other valid authentication "
                                "credential.")
        if key != self.key:
            if bearer:
                return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            return google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                  "domain": "googleapis.com"}])
        return None

    def _model_call(self, rec: Recorded, p: dict[str, str]) -> Reply:
        bad = self._check_key(rec)
        if bad is not None:
            return bad
        model, _, action = p["target"].partition(":")
        if model not in MODELS or action not in ("predictLongRunning", "fetchPredictOperation"):
            return google_error(404, "NOT_FOUND", f"Publisher Model `publishers/google/models/{model}` was not "
                                "found or your project does not have access to it.")
        if action == "fetchPredictOperation":
            return self._get_operation(rec, model)
        try:
            body = rec.json
        except ValueError:
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        try:
            self._validate(model, body)
        except _Invalid as exc:
            return google_error(400, "INVALID_ARGUMENT", exc.args[0])
        prefix = (f"projects/{p['project']}/locations/{p['location']}/" if "project" in p else "")
        name = f"{prefix}publishers/google/models/{model}/operations/{next(self._ids):04d}{secrets.token_hex(6)}"
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
                raise _Invalid(f"`{k}` isn't supported by this model.")
        for k in ("image", "lastFrame"):
            if k in inst:
                self._validate_image(k, inst[k])
        if "referenceImages" in inst:
            refs = inst["referenceImages"]
            if model not in REFERENCES or not isinstance(refs, list) or not 1 <= len(refs) <= 3:
                raise _Invalid("`referenceImages` isn't supported by this model, or holds more than 3 images.")
            for i, ref in enumerate(refs):
                if not isinstance(ref, dict) or ref.get("referenceType") not in ("asset", "style"):
                    raise _Invalid(f"referenceImages[{i}].referenceType must be asset or style.")
                self._validate_image(f"referenceImages[{i}].image", ref.get("image"))
        if "lastFrame" in inst:
            if not last_ok:
                raise _Invalid("`lastFrame` isn't supported by this model.")
            if "image" not in inst:
                raise _Invalid("`lastFrame` requires `image` (the first frame).")
        if not inst.get("prompt") and "image" not in inst:
            raise _Invalid("A prompt is required for text-to-video.")
        params = body.get("parameters", {})
        if not isinstance(params, dict):
            raise _Invalid("parameters must be an object.")
        for k in params:
            if k not in PARAMETERS:
                raise _Invalid(f"`{k}` isn't supported by this model.")
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
        if not isinstance(params.get("generateAudio"), bool):
            raise _Invalid("generateAudio is required for Veo 3 models.")
        seed = params.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= 4294967295:
            raise _Invalid(f"seed {seed!r} must be a whole number from 0 to 4294967295.")

    @staticmethod
    def _validate_image(field: str, img: Any) -> None:
        if not isinstance(img, dict):
            raise _Invalid(f"{field} must be an image object.")
        if "inlineData" in img:
            inner = img["inlineData"]
            data, mime = (inner.get("data"), inner.get("mimeType")) if isinstance(inner, dict) else (None, None)
        elif "gcsUri" in img:
            raise _Invalid(f"{field}: this fake takes no gcsUri; send bytesBase64Encoded.")
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

    def _get_operation(self, rec: Recorded, model: str) -> Reply:
        if self.on_poll is not None:
            self.on_poll(rec)
        try:
            name = rec.json.get("operationName") if isinstance(rec.json, dict) else None
        except ValueError:
            name = None
        if not isinstance(name, str):
            return google_error(400, "INVALID_ARGUMENT", "operationName is required.")
        with self._jobs_lock:
            job = self.jobs.get(name)
            if job is None or job["model"] != model or self.files_gone:
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
            resp: dict[str, Any] = {"@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"}
            if "filtered" in job:
                resp.update({"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": job["filtered"]})
            else:
                resp.update({"raiMediaFilteredCount": 0, "videos": [
                    {"bytesBase64Encoded": base64.b64encode(self.result(job["body"]["parameters"].get("generateAudio")
                                                                       is True)).decode(), "mimeType": "video/mp4"}]})
            out["response"] = resp
        return Reply(200, out)
