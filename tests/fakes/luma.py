"""A fake Luma Dream Machine API and a fake public CDN for its outputs, both on 127.0.0.1.

:class:`FakeLuma` serves ``/dream-machine/v1/generations[/video]`` (create, get,
list, delete), checks the bearer key and the body (FastAPI-style ``{"detail": ...}``
errors: 422 with a list for schema violations -- unknown field, model, aspect
ratio --, 400 with a string for values the schema leaves open -- duration,
resolution, non-public keyframe URLs), and moves each generation one step per
get: queued -> dreaming -> completed | failed.  Finished videos live on a second
server, :class:`FakeCDN`, so a test can see that the key never goes there.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from fakes.server import FakeService, Recorded, Reply, bearer

PREFIX = "/dream-machine/v1"
MODELS = ("ray-1-6", "ray-2", "ray-flash-2")
ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
DURATIONS = ("5s", "9s")
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
FIELDS = {"model", "prompt", "aspect_ratio", "duration", "resolution", "loop", "keyframes", "callback_url",
          "concepts", "generation_type"}


def detail(status: int, text: str) -> Reply:
    return Reply(status, {"detail": text})


def invalid(loc: str, msg: str, kind: str, value: Any) -> Reply:
    return Reply(422, {"detail": [{"type": kind, "loc": ["body", loc], "msg": msg, "input": value}]})


class FakeCDN(FakeService):
    """Public, unauthenticated video hosting with per-link tokens that can be expired."""

    def __init__(self, video: bytes = b"") -> None:
        self.expired_tokens: set[str] = set()
        self.issued: list[str] = []
        super().__init__(video)

    def setup_routes(self) -> None:
        self.route("GET", "/v1/{name}", self._file)

    def link(self, gen_id: str) -> str:
        token = uuid.uuid4().hex[:12]
        self.issued.append(token)
        return f"{self.url}/v1/{gen_id}.mp4?token={token}"

    def expire_links(self) -> None:
        """Every link handed out so far stops working (new ones still work)."""
        self.expired_tokens.update(self.issued)

    def _file(self, rec: Recorded, p: dict[str, str]) -> Reply:
        token = rec.query.get("token", [""])[0]
        if token not in self.issued or token in self.expired_tokens:
            return Reply(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                         {"Content-Type": "application/xml"})
        return self.video_reply()


class FakeLuma(FakeService):
    def __init__(self, cdn: FakeCDN, key: str = "test-secret-key") -> None:
        self.cdn = cdn
        self.key = key
        #: states a generation shows, one per get; the last one stays
        self.steps = ["queued", "dreaming", "dreaming", "completed"]
        #: a new signed link on every get (else one link per generation)
        self.fresh_links = False
        self._fail_next: Optional[str] = None
        self._lose_next_create_reply = False
        self._seq = itertools.count(1)
        self.on_poll: Optional[Callable[[str], Any]] = None
        self.seen_polls: list[Any] = []
        super().__init__(b"")

    # -- scripting ---------------------------------------------------------------------

    def fail_next_job(self, reason: str = "400: prompt not allowed because advanced moderation failed") -> None:
        self._fail_next = reason

    def lose_next_create_reply(self) -> None:
        """Create the next generation, then drop the connection before answering."""
        self._lose_next_create_reply = True

    # -- routes ------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", PREFIX + "/generations/video", lambda rec, p: self._create(rec, legacy=False))
        self.route("POST", PREFIX + "/generations", lambda rec, p: self._create(rec, legacy=True))
        self.route("GET", PREFIX + "/generations", self._list)
        self.route("GET", PREFIX + "/generations/{id}", self._get)
        self.route("DELETE", PREFIX + "/generations/{id}", self._delete)

    def _auth(self, rec: Recorded) -> Optional[Reply]:
        got = bearer(rec)
        if got is None:
            return detail(401, "Not authenticated")
        if got != self.key:
            return detail(401, "Invalid API key")
        return None

    def _create(self, rec: Recorded, legacy: bool) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        try:
            body = rec.json
        except ValueError:
            return invalid("", "JSON decode error", "json_invalid", None)
        if not isinstance(body, dict):
            return invalid("", "Input should be a valid dictionary", "dict_type", body)
        for k in body:
            if k not in FIELDS:
                return invalid(k, "Extra inputs are not permitted", "extra_forbidden", body[k])
        if "model" not in body:
            return invalid("model", "Field required", "missing", None)
        if body["model"] not in MODELS:
            return invalid("model", "Input should be 'ray-1-6', 'ray-2' or 'ray-flash-2'", "literal_error",
                           body["model"])
        if "aspect_ratio" in body and body["aspect_ratio"] not in ASPECTS:
            return invalid("aspect_ratio", "Input should be " + ", ".join(f"'{a}'" for a in ASPECTS),
                           "literal_error", body["aspect_ratio"])
        if legacy and body.get("generation_type", "video") != "video":
            return invalid("generation_type", "Input should be 'video'", "literal_error", body["generation_type"])
        if "duration" in body and (body["model"] == "ray-1-6" or body["duration"] not in DURATIONS):
            return detail(400, f"Invalid duration {body['duration']!r} for {body['model']}: "
                               "use one of 5s, 9s")
        if "resolution" in body and (body["model"] == "ray-1-6" or body["resolution"] not in RESOLUTIONS):
            return detail(400, f"Invalid resolution {body['resolution']!r} for {body['model']}")
        for name, ref in (body.get("keyframes") or {}).items():
            if name not in ("frame0", "frame1") or not isinstance(ref, dict):
                return invalid(f"keyframes.{name}", "Extra inputs are not permitted", "extra_forbidden", ref)
            if ref.get("type") == "image" and not str(ref.get("url", "")).startswith("https://"):
                return detail(400, f"keyframes.{name}.url must be a publicly accessible https URL")
        gen_id = str(uuid.UUID(int=next(self._seq)))
        created = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        request = {k: v for k, v in body.items() if k != "generation_type"}
        gen = {"id": gen_id, "generation_type": "video", "state": "queued", "failure_reason": None,
               "created_at": created, "model": body["model"],
               "assets": {"video": None, "image": None, "progress_video": None}, "request": request}
        with self._lock:
            self.jobs[gen_id] = {"gen": gen, "step": 0, "fail": self._fail_next, "link": None}
            self._fail_next = None
            lose, self._lose_next_create_reply = self._lose_next_create_reply, False
        return Reply(201, dict(gen), drop=lose)          # lost: the generation exists, its answer never arrives

    def _advance(self, gen_id: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs[gen_id]
            gen = job["gen"]
            if gen["state"] not in ("completed", "failed"):
                state = self.steps[min(job["step"], len(self.steps) - 1)]
                job["step"] += 1
                if state == "completed" and job["fail"]:
                    gen.update(state="failed", failure_reason=job["fail"])
                else:
                    gen["state"] = state
            if gen["state"] == "completed" and (job["link"] is None or self.fresh_links):
                job["link"] = self.cdn.link(gen_id)
                gen["assets"] = {"video": job["link"], "image": job["link"].replace(".mp4", ".jpg"),
                                 "progress_video": None}
            return {**gen, "assets": dict(gen["assets"])}

    def _get(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        if p["id"] not in self.jobs:
            return detail(404, "Generation not found")
        if self.on_poll is not None:
            self.seen_polls.append(self.on_poll(p["id"]))
        return Reply(200, self._advance(p["id"]))

    def _list(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        limit = int(rec.query.get("limit", ["10"])[0])
        offset = int(rec.query.get("offset", ["0"])[0])
        with self._lock:
            gens = [dict(j["gen"]) for j in self.jobs.values()]
        gens.reverse()                                  # newest first
        page = gens[offset:offset + limit]
        return Reply(200, {"generations": page, "count": len(page), "has_more": offset + limit < len(gens),
                           "limit": limit, "offset": offset})

    def _delete(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        with self._lock:
            gone = self.jobs.pop(p["id"], None)
        return Reply(204) if gone else detail(404, "Generation not found")
