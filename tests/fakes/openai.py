"""A fake OpenAI Videos API (``/v1/videos``) on 127.0.0.1, as the SDK and LiteLLM see it.

It checks what the real service checks: the bearer key (401 in OpenAI's error
envelope, with the key masked the way OpenAI masks it), unknown form fields,
``model``, ``seconds`` (strings "4"/"8"/"12"), ``size`` per model, and that an
``input_reference`` image has exactly the requested size.  Each job moves one
step per retrieve: queued -> in_progress (progress) ... -> completed | failed,
and the retrieve answer carries ``openai-poll-after-ms`` when told to.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import struct
import time
import zlib
from typing import Any, Callable, Optional

from fakes.server import FakeService, Recorded, Reply, bearer

SIZES = {
    "sora-2": {"1280x720", "720x1280"},
    "sora-2-pro": {"1280x720", "720x1280", "1792x1024", "1024x1792"},
}
SIZES["sora-2-2025-10-06"] = SIZES["sora-2-2025-12-08"] = SIZES["sora-2"]
SIZES["sora-2-pro-2025-10-06"] = SIZES["sora-2-pro"]
SECONDS = {"4", "8", "12"}
FIELDS = {"prompt", "model", "seconds", "size", "input_reference"}


def oai_error(status: int, message: str, *, type_: str = "invalid_request_error", param: Optional[str] = None,
              code: Optional[str] = None, headers: Optional[dict[str, str]] = None) -> Reply:
    return Reply(status, {"error": {"message": message, "type": type_, "param": param, "code": code}},
                 headers or {})


def image_size(data: bytes) -> Optional[tuple[int, int]]:
    """Width and height of a PNG (IHDR) or JPEG (SOF) file."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, seg = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return w, h
            i += 2 + seg
    return None


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, packed RGB) of an 8-bit RGB or RGBA PNG, unfiltered the way the PNG spec says.

    The fake decodes what it is sent (as the service does): a file that is not a whole, readable
    picture is refused, and a test can look at the pixels a client really sent.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    i, idat, ihdr = 8, b"", b""
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + length]
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat += body
        i += 12 + length
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"PNG kind not decoded by the fake (depth {depth}, colour type {colour})")
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, rows = bytearray(stride), []
    for y in range(h):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride if kind else 0):   # filter 0 (ffmpeg's default): the row as it is
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line) if bpp == 3 else bytes(v for j in range(0, stride, 4) for v in line[j:j + 3]))
        prev = line
    return w, h, b"".join(rows)


def mean_colour(rgb: bytes) -> tuple[float, float, float]:
    n = len(rgb) // 3
    return sum(rgb[0::3]) / n, sum(rgb[1::3]) / n, sum(rgb[2::3]) / n


def parse_multipart(rec: Recorded) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """Form fields and file parts (name -> (filename, content type, bytes)) of a multipart body."""
    ctype = rec.headers.get("content-type", "")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + rec.body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = (part.get_filename(), part.get_content_type(), payload)
        else:
            fields[name] = payload.decode("utf-8")
    return fields, files


class FakeOpenAI(FakeService):
    """``/v1/videos`` create / retrieve / list / content / delete."""

    def __init__(self, video: bytes = b"", key: str = "test-secret-key") -> None:
        self.key = key
        #: statuses a job shows, one per retrieve; the last one stays
        self.steps: list[tuple[str, int]] = [("queued", 0), ("in_progress", 40), ("in_progress", 80),
                                             ("completed", 100)]
        self.poll_after_ms: Optional[int] = None
        self._fail_next: Optional[dict[str, str]] = None
        self._lose_next_create_reply = False
        self._ids = itertools.count(1)
        #: called with (job id) inside each retrieve, before it answers (tests check the journal there)
        self.on_poll: Optional[Callable[[str], None]] = None
        self.seen_polls: list[Any] = []
        #: the seconds the gateway's model takes (a test declares a model with other durations)
        self.seconds = set(SECONDS)
        #: the video served for the n-th job created (1-based); None: ``video`` for every job
        self.video_for: Optional[Callable[[int], bytes]] = None
        self._fail_after = 0
        self._created = 0
        super().__init__(video)

    # -- scripting ---------------------------------------------------------------------

    def fail_next_job(self, message: str = "Your request was blocked by our moderation system.",
                      code: str = "moderation_blocked", *, after: int = 0) -> None:
        """The next job created (after ``after`` more) ends ``failed`` with this ``error``."""
        self._fail_next = {"code": code, "message": message}
        self._fail_after = after

    def lose_next_create_reply(self) -> None:
        """Create the next job, then drop the connection before answering (an uncertain submit)."""
        self._lose_next_create_reply = True

    # -- routes ------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", "/v1/videos", self._create)
        self.route("GET", "/v1/videos", self._list)
        self.route("GET", "/v1/videos/{id}", self._retrieve)
        self.route("DELETE", "/v1/videos/{id}", self._delete)
        self.route("GET", "/v1/videos/{id}/content", self._content)

    def _auth(self, rec: Recorded) -> Optional[Reply]:
        got = bearer(rec)
        if got is None:
            return oai_error(401, "You didn't provide an API key. You need to provide your API key in an "
                                  "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                             code=None)
        if got != self.key:
            masked = got[:3] + "*" * max(0, len(got) - 7) + got[-4:] if len(got) > 8 else "****"
            return oai_error(401, f"Incorrect API key provided: {masked}. You can find your API key at "
                                  "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        return None

    def _create(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        ctype = rec.headers.get("content-type", "")
        files: dict[str, tuple[str, str, bytes]] = {}
        if ctype.startswith("multipart/form-data"):
            fields, files = parse_multipart(rec)
        elif ctype.startswith("application/json"):
            try:
                raw = rec.json
            except ValueError:
                return oai_error(400, "We could not parse the JSON body of your request.")
            fields = {k: v for k, v in raw.items()} if isinstance(raw, dict) else {}
        else:
            return oai_error(400, f"Unsupported content type: '{ctype}'.")
        for k in list(fields) + list(files):
            if k not in FIELDS:
                return oai_error(400, f"Unknown parameter: '{k}'.", param=k, code="unknown_parameter")
        if not fields.get("prompt"):
            return oai_error(400, "Missing required parameter: 'prompt'.", param="prompt",
                             code="missing_required_parameter")
        model = fields.get("model", "sora-2")
        if model not in SIZES:
            return oai_error(400, f"Invalid value: '{model}'. Supported values are: 'sora-2' and 'sora-2-pro'.",
                             param="model", code="invalid_value")
        seconds = fields.get("seconds", "4")
        if not isinstance(seconds, str) or seconds not in self.seconds:
            quoted = [f"'{s}'" for s in sorted(self.seconds, key=float)]
            allowed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + ", and " + quoted[-1]
            return oai_error(400, f"Invalid value: '{seconds}'. Supported values are: {allowed}.",
                             param="seconds", code="invalid_value")
        size = fields.get("size", "720x1280")
        if size not in SIZES[model]:
            return oai_error(400, f"Invalid value: '{size}'. Supported values for {model} are: "
                                  + ", ".join(f"'{s}'" for s in sorted(SIZES[model])) + ".",
                             param="size", code="invalid_value")
        reference: Optional[tuple[int, int, bytes]] = None   # (w, h, RGB) as decoded
        if "input_reference" in files:
            _, _, data = files["input_reference"]
            dims = image_size(data)
            want = tuple(int(x) for x in size.split("x"))
            if dims is None:
                return oai_error(400, "Invalid file format for input_reference. Supported formats are "
                                      "image/jpeg, image/png and image/webp.", param="input_reference")
            if dims != want:
                return oai_error(400, f"Inpaint image must match the requested width and height "
                                      f"(got {dims[0]}x{dims[1]}, expected {size}).", param="input_reference")
            if data[:8] == b"\x89PNG\r\n\x1a\n":
                try:
                    pixels = decode_png(data)
                except (ValueError, zlib.error, struct.error) as exc:
                    return oai_error(400, f"Invalid image for input_reference: {exc}.", param="input_reference")
                reference = pixels
        vid = f"video_{next(self._ids):04d}{'ab' * 8}"
        job = {"id": vid, "object": "video", "model": model, "status": "queued", "progress": 0,
               "created_at": int(time.time()), "completed_at": None, "expires_at": None,
               "prompt": fields["prompt"], "seconds": seconds, "size": size, "remixed_from_video_id": None,
               "error": None}
        with self._lock:
            self._created += 1
            fail = self._fail_next if self._fail_after == 0 else None
            if self._fail_next is not None and self._fail_after > 0:
                self._fail_after -= 1
            self.jobs[vid] = {"video": job, "step": 0, "fail": fail, "fields": fields, "files": files,
                              "number": self._created, "reference": reference}
            if fail is not None:
                self._fail_next = None
            lose, self._lose_next_create_reply = self._lose_next_create_reply, False
        return Reply(200, dict(job), drop=lose)          # lost: the job exists, its answer never arrives

    def _advance(self, vid: str) -> dict[str, Any]:
        with self._lock:
            job = self.jobs[vid]
            video = job["video"]
            if video["status"] in ("completed", "failed"):
                return dict(video)
            step = min(job["step"], len(self.steps) - 1)
            job["step"] += 1
            status, progress = self.steps[step]
            if status == "completed" and job["fail"]:
                video.update(status="failed", progress=progress, error=dict(job["fail"]))
            elif status == "completed":
                now = int(time.time())
                video.update(status="completed", progress=100, completed_at=now, expires_at=now + 3600)
            else:
                video.update(status=status, progress=progress)
            return dict(video)

    def _retrieve(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        if p["id"] not in self.jobs:
            return oai_error(404, f"Video with id '{p['id']}' not found.", param="video_id", code="not_found")
        if self.on_poll is not None:
            self.seen_polls.append(self.on_poll(p["id"]))
        video = self._advance(p["id"])
        headers = {}
        if self.poll_after_ms is not None and video["status"] in ("queued", "in_progress"):
            headers["openai-poll-after-ms"] = str(self.poll_after_ms)
        return Reply(200, video, headers)

    def _list(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        order = rec.query.get("order", ["desc"])[0]
        limit = int(rec.query.get("limit", ["20"])[0])
        with self._lock:
            videos = [dict(j["video"]) for j in self.jobs.values()]
        videos.sort(key=lambda v: (v["created_at"], v["id"]), reverse=order == "desc")
        after = rec.query.get("after", [None])[0]
        if after:
            ids = [v["id"] for v in videos]
            videos = videos[ids.index(after) + 1:] if after in ids else []
        page = videos[:limit]
        return Reply(200, {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                           "last_id": page[-1]["id"] if page else None, "has_more": len(videos) > limit})

    def _delete(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        with self._lock:
            gone = self.jobs.pop(p["id"], None)
        if gone is None:
            return oai_error(404, f"Video with id '{p['id']}' not found.", param="video_id", code="not_found")
        return Reply(200, {"id": p["id"], "object": "video.deleted", "deleted": True})

    def _content(self, rec: Recorded, p: dict[str, str]) -> Reply:
        denied = self._auth(rec)
        if denied:
            return denied
        job = self.jobs.get(p["id"])
        if job is None:
            return oai_error(404, f"Video with id '{p['id']}' not found.", param="video_id", code="not_found")
        if job["video"]["status"] != "completed":
            return oai_error(409, "Video is not ready yet, use GET /v1/videos/{video_id} to check status.",
                             code="video_not_ready")
        if rec.query.get("variant", ["video"])[0] != "video":
            return oai_error(400, "Only the video variant is served by this fake.", param="variant")
        if self.downloads_expired:
            return oai_error(404, "The video content has expired.", code="video_expired")
        # /v1/videos has no audio switch: Sora 2 makes its synced sound with every clip.
        reply = self.video_reply(sound=True)
        if self.video_for is not None and reply.status == 200:
            reply.body = self.video_for(job["number"])
        reply.headers["Content-Type"] = "video/mp4"
        return reply


#: the gateway model the tests declare (ShotFill ships no OpenAI-style model since OpenAI shut Sora's API down)
GATEWAY_MODEL = ('[providers.openai.models."sora-2"]\ndurations = [4, 8, 12]\nsizes = ["1280x720", "720x1280"]\n'
                 "first_frame = true\n")
