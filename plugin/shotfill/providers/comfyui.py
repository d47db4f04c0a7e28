"""ComfyUI: a self-hosted server running local open models (Wan, LTX-Video, ...).

ComfyUI has no video API of its own: the user exports their workflow in API
format and says, in ``[providers.comfyui.inputs]``, which node input takes the
prompt, seed, frame count and so on (``"<node id>.inputs.<name>"``).  This
client templates those inputs and runs the graph::

    POST /upload/image   neighbour frames into the server's input folder
                         (their names then go into the LoadImage nodes)
    POST /prompt         {"prompt": <workflow>, "client_id": <uuid>}
    GET  /history/{id}   {} until done, then outputs + status
    GET  /queue          while not done: queued (and how many ahead) or running
    GET  /view?...       the saved video, from the same server

Choices, and why:

* **Frames, not seconds.**  Local models take a frame count, so the workflow
  gets exactly the placeholder's frames and the timeline rate (a float); the
  plan is never refused for length and never rounded to a duration list.
* **Size.**  The timeline size, scaled down to ``extra.max_side`` if set, and
  rounded to multiples of ``extra.size_multiple`` (16); ``extra.width`` and
  ``extra.height`` replace it outright.  Other ``extra`` keys are
  ``"<node>.inputs.<name>"`` paths set as given (steps, cfg, ...).
* **Progress** comes from ``/queue`` only (queued / running, jobs ahead): the
  percentage lives on the websocket, which this client does not open.
* **Recovery.**  Each submit carries a ``client_id`` derived from the request
  hash; ComfyUI keeps it in the queue and history entries, so a submit whose
  answer was lost (or a run killed while it was in flight) is found there, by
  this run or a later one, and never sent twice.
* **Validation errors** (HTTP 400 with ``node_errors``) are reported node by
  node, from the 400 body the shared client keeps on the error (``exc.body``).
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

from shotfill.system.bounded import MAX_TIMELINE_BYTES, read_bytes
from shotfill.config import ComfyInputs
from shotfill.errors import ConfigError, DownloadError, MediaError, Rejected, ServiceError
from shotfill.model import GenerationRequest
from shotfill.providers.spec import audio_refusal
from shotfill.providers.base import JobHandle, JobStatus, ModelSpec, RemoteProvider, ServicePlan
from shotfill.providers._http import M, parse_answer

#: output keys ComfyUI nodes put files under: core SaveVideo/SaveWEBM use
#: "images" (+ "animated"), VideoHelperSuite "gifs", some custom nodes "videos"
OUTPUT_KEYS = ("videos", "gifs", "images")
VIDEO_EXTS = (".mp4", ".webm", ".mov", ".mkv")
GIF_EXTS = (".gif",)
#: content types a GIF output is served with, besides the video ones
GIF_TYPES = ("image/gif",)
#: polls in a row that find the prompt neither queued, running nor in history
#: before it is given up (the server restarted, or the queue was cleared)
MISSING_POLLS = 3
#: history entries read when looking for a submit whose answer was lost
RECOVER_HISTORY_ITEMS = 256
#: ``extra`` keys with a meaning of their own (all others are workflow paths)
SIZE_KEYS = ("width", "height", "max_side", "size_multiple")


class _Loose(BaseModel):
    """ComfyUI answers carry more than we read; keep it (extra="allow")."""

    model_config = ConfigDict(extra="allow")


class PromptAccepted(_Loose):
    """``POST /prompt`` 200: the queued prompt's id and queue number."""

    prompt_id: str
    number: Optional[float] = None
    node_errors: Any = None


class Uploaded(_Loose):
    """``POST /upload/image``: the name the server stored the file under (may differ from ours)."""

    name: str
    subfolder: str = ""
    type: str = "input"


class OutputFile(_Loose):
    """One file in a history entry's ``outputs[node][key]`` list."""

    filename: str
    subfolder: str = ""
    type: str = "output"
    format: Optional[str] = None


class HistoryStatus(_Loose):
    """``status`` of a finished prompt: ``status_str`` success/error and the execution messages."""

    status_str: Optional[str] = None
    completed: Optional[bool] = None
    messages: list[Any] = []


class HistoryEntry(_Loose):
    """``GET /history/{id}`` -> ``{id: entry}`` once the prompt has finished (``{}`` before)."""

    prompt: list[Any] = []
    outputs: dict[str, Any] = {}
    status: Optional[HistoryStatus] = None


class QueueState(_Loose):
    """``GET /queue``: items are ``[number, prompt_id, prompt, extra_data, outputs]``."""

    queue_running: list[list[Any]] = []
    queue_pending: list[list[Any]] = []


def _parse(model: type[M], data: Any, what: str) -> M:
    return parse_answer("comfyui", model, data, what, hint="check that base_url points at a ComfyUI server")


def _item(item: list[Any]) -> tuple[Optional[float], Optional[str], dict[str, Any]]:
    """(number, prompt_id, extra_data) of a queue item or a history entry's ``prompt``."""
    number = item[0] if len(item) > 0 and isinstance(item[0], (int, float)) else None
    pid = item[1] if len(item) > 1 and isinstance(item[1], str) else None
    extra = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
    return number, pid, extra


def split_path(path: str) -> tuple[str, str]:
    """``"6.inputs.text"`` -> ``("6", "text")``; node ids may hold dots or colons (subgraphs)."""
    node, _, name = path.partition(".inputs.")
    return node, name


def pick_output(outputs: dict[str, Any]) -> Optional[OutputFile]:
    """The video among a finished prompt's outputs.

    Ranked: a video file (mp4/webm/mov/mkv) before a GIF, a saved ``output``
    before a ``temp`` preview, and in node order otherwise.  Still images are
    never picked.
    """
    best: Optional[tuple[tuple[int, int, int], OutputFile]] = None
    order = 0
    for node_out in outputs.values():
        if not isinstance(node_out, dict):
            continue
        for key in OUTPUT_KEYS:
            for raw in node_out.get(key) or []:
                if not isinstance(raw, dict):
                    continue
                try:
                    f = OutputFile.model_validate(raw)
                except ValidationError:
                    continue
                ext = os.path.splitext(f.filename)[1].lower()
                if ext in VIDEO_EXTS:
                    kind = 0
                elif ext in GIF_EXTS:
                    kind = 1
                else:
                    continue
                rank = (kind, 0 if f.type == "output" else 1, order)
                order += 1
                if best is None or rank < best[0]:
                    best = (rank, f)
    return best[1] if best else None


def view_url(f: OutputFile) -> str:
    return "/view?" + urlencode({"filename": f.filename, "subfolder": f.subfolder, "type": f.type})


def _failure(status: HistoryStatus) -> str:
    """The reason a prompt ended in error, in ComfyUI's own words."""
    for msg in status.messages:
        if not (isinstance(msg, (list, tuple)) and len(msg) == 2 and isinstance(msg[1], dict)):
            continue
        kind, data = msg
        where = ""
        if data.get("node_id") is not None:
            where = f" in node {data.get('node_id')}" + (f" ({data['node_type']})" if data.get("node_type") else "")
        if kind == "execution_error":
            exc_type = f" [{data['exception_type']}]" if data.get("exception_type") else ""
            return f"{str(data.get('exception_message') or 'execution error').strip()}{exc_type}{where}"
        if kind == "execution_interrupted":
            return f"interrupted{where} (someone pressed Cancel or POST /interrupt)"
    return f"status '{status.status_str}' with no error message"


def describe_refusal(body: Any) -> Optional[str]:
    """A ``/prompt`` 400 body as one line: the summary, then each node's errors."""
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        head = str(err.get("message") or err.get("type") or "refused")
        if err.get("type") == "invalid_prompt" and err.get("details"):
            head += f" ({err['details']})"
    else:
        head = str(err or "refused")
    parts = []
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, ne in node_errors.items():
            if not isinstance(ne, dict):
                continue
            reasons = []
            for e in ne.get("errors") or []:
                if isinstance(e, dict):
                    text = str(e.get("message") or e.get("type") or "")
                    if e.get("details"):
                        text += f": {e['details']}"
                    reasons.append(text)
            label = f"node {node_id}" + (f" ({ne['class_type']})" if ne.get("class_type") else "")
            parts.append(f"{label}: {'; '.join(reasons) or 'invalid'}")
    if (not parts and isinstance(err, dict) and err.get("details") and err.get("type") != "invalid_prompt"
            and err["details"] != err.get("message")):
        parts.append(str(err["details"]))
    return head + (" -- " + " | ".join(parts) if parts else "")


class ComfyUIProvider(RemoteProvider):
    """Runs the user's API-format workflow on their ComfyUI server."""

    name = "comfyui"
    default_base_url = "http://127.0.0.1:8188"
    #: a label only: what the workflow can do is the workflow's business
    models = (ModelSpec(name="workflow", durations=(), sizes=((16, 16),), first_frame=True, last_frame=True,
                        last_needs_first=False, seed=True, negative=True, price_per_second=0.0),)

    def __init__(self, ctx: Any = None) -> None:
        super().__init__(ctx)
        self._workflow: Optional[dict[str, Any]] = None
        #: request hash -> client_id of its latest submit (for recover)
        self._client_ids: dict[str, str] = {}
        #: prompt id -> polls in a row that found it nowhere
        self._missing: dict[str, int] = {}

    # -- config: the workflow and where its inputs are -------------------------------------

    def default_model(self) -> Optional[str]:
        return self.settings.model or self.models[0].name

    def custom_spec(self, name: str) -> ModelSpec:
        """Any model name is a label for the workflow (shown in plans and the journal)."""
        return self.models[0].model_copy(update={"name": name})

    @property
    def inputs(self) -> ComfyInputs:
        if self.settings.inputs is None:
            raise ConfigError("[providers.comfyui] has no `inputs` table",
                              hint="map at least the prompt, e.g. [providers.comfyui.inputs] prompt = \"6.inputs.text\" "
                                   "(see docs/providers/comfyui.md)")
        return self.settings.inputs

    def workflow(self) -> dict[str, Any]:
        """The workflow file, loaded once and checked against ``inputs`` and ``extra`` (ConfigError)."""
        if self._workflow is None:
            self._workflow = self._load_workflow()
        return self._workflow

    def _load_workflow(self) -> dict[str, Any]:
        path = self.settings.workflow
        if path is None:
            raise ConfigError("[providers.comfyui] has no `workflow`",
                              hint="export your workflow from ComfyUI with \"Save (API Format)\" "
                                   "(Workflow > Export (API) in newer builds) and set workflow = \"that.json\"")
        shown = f"[providers.comfyui] workflow = {str(path)!r}"
        try:
            raw = read_bytes(path, limit=MAX_TIMELINE_BYTES, what="workflow", error=ConfigError, shown=shown)
        except ConfigError as exc:
            raise ConfigError(f"{shown}: cannot be read ({exc.message.removeprefix(shown + ': ')})",
                              hint="check the path; a relative path is relative to the shotfill.toml naming it") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except OSError as exc:
            raise ConfigError(f"[providers.comfyui] workflow = {str(path)!r}: cannot be read ({exc.strerror})",
                              hint="check the path; a relative path is relative to the shotfill.toml naming it") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"[providers.comfyui] workflow = {str(path)!r}: not JSON ({exc})") from None
        api_hint = ("in ComfyUI use \"Save (API Format)\" (enable Dev mode options in the settings of older "
                    "builds; Workflow > Export (API) in newer ones) and point `workflow` at that file")
        if isinstance(data, dict) and "nodes" in data and "links" in data:
            raise ConfigError(f"[providers.comfyui] workflow = {str(path)!r} is a UI-format workflow "
                              "(it has \"nodes\" and \"links\"), not the API format the server runs",
                              hint=api_hint)
        if not isinstance(data, dict) or not data:
            raise ConfigError(f"[providers.comfyui] workflow = {str(path)!r}: not an API-format workflow "
                              "(expected an object of nodes)", hint=api_hint)
        for node_id, node in data.items():
            if not (isinstance(node, dict) and isinstance(node.get("class_type"), str)
                    and isinstance(node.get("inputs"), dict)):
                raise ConfigError(f"[providers.comfyui] workflow = {str(path)!r}: node {node_id!r} has no "
                                  "class_type/inputs, so this is not an API-format workflow", hint=api_hint)
        where = Path(path).name
        for key, value in self.inputs.model_dump().items():
            if value is not None:
                self._check_path(data, where, f"inputs.{key}", value)
        self._size_extra()
        for key in self._extra_paths():
            self._check_path(data, where, f"extra.{key!r}", key)
        return data

    def _check_path(self, wf: dict[str, Any], where: str, key: str, path: str) -> None:
        node_id, name = split_path(path)
        node = wf.get(node_id)
        if node is None:
            raise ConfigError(f"[providers.comfyui] {key} = {path!r}: the workflow {where} has no node {node_id!r}",
                              hint=f"its nodes are: {_node_list(wf)}")
        ins = node["inputs"]
        if name not in ins:
            raise ConfigError(f"[providers.comfyui] {key} = {path!r}: node {node_id!r} ({node['class_type']}) in "
                              f"{where} has no input {name!r}",
                              hint=f"its inputs are: {', '.join(sorted(ins)) or '(none)'}")
        if _is_link(ins[name]):
            raise ConfigError(f"[providers.comfyui] {key} = {path!r}: input {name!r} of node {node_id!r} "
                              f"({node['class_type']}) is a link from node {ins[name][0]!r}, not a value",
                              hint=f"point at the input of node {ins[name][0]!r} that holds the value")

    def _extra_paths(self) -> dict[str, Any]:
        out = {}
        for key, value in (self.settings.extra or {}).items():
            if key in SIZE_KEYS:
                continue
            if ".inputs." not in key:
                raise ConfigError(f"[providers.comfyui.extra] {key!r}: unknown key",
                                  hint="use " + ", ".join(SIZE_KEYS) + " or a workflow input path like "
                                       "\"57.inputs.steps\"")
            out[key] = value
        return out

    def _size_extra(self) -> dict[str, int]:
        out = {}
        for key in SIZE_KEYS:
            value = (self.settings.extra or {}).get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"[providers.comfyui.extra] {key} = {value!r}: must be a positive whole number")
            out[key] = value
        if ("width" in out) != ("height" in out):
            raise ConfigError("[providers.comfyui.extra] set both width and height, or neither")
        return out

    # -- plan and body ---------------------------------------------------------------------

    def size_for(self, req: GenerationRequest) -> tuple[int, int]:
        """extra width/height as given; else the timeline size, fitted in max_side, in multiples of 16."""
        cfg = self._size_extra()
        if "width" in cfg:
            return cfg["width"], cfg["height"]
        m = cfg.get("size_multiple", 16)
        w, h = float(req.width), float(req.height)
        if "max_side" in cfg and max(w, h) > cfg["max_side"]:
            scale = cfg["max_side"] / max(w, h)
            w, h = w * scale, h * scale
        return max(m, int(round(w / m)) * m), max(m, int(round(h / m)) * m)

    def plan(self, req: GenerationRequest) -> ServicePlan:
        """Never refused for length: the workflow gets exactly ``req.frames`` frames."""
        wf = self.workflow()
        ins = self.inputs
        seconds = float(req.frames / req.rate)
        notes: list[str] = []
        size = self.size_for(req)
        if ins.width and ins.height:
            if size != (req.width, req.height):
                notes.append(f"renders {size[0]}x{size[1]} for the {req.width}x{req.height} timeline; "
                             "conform scales it")
        else:
            notes.append("the workflow keeps its own size (map inputs.width/height to change it); conform scales it")
        if not ins.frames:
            notes.append("the workflow keeps its own length (map inputs.frames); conform trims or holds frames")
        use_first = bool(req.first_frame and ins.first_frame)
        use_last = bool(req.last_frame and ins.last_frame)
        for have, mapped, which, key in ((req.first_frame, ins.first_frame, "before", "first_frame"),
                                         (req.last_frame, ins.last_frame, "after", "last_frame")):
            if have and not mapped:
                notes.append(f"the shot {which} is not used: inputs.{key} is not mapped")
            if mapped and not have:
                node_id, name = split_path(mapped)
                notes.append(f"no shot {which}: node {node_id} keeps the workflow's image "
                             f"{wf[node_id]['inputs'][name]!r}")
        if req.negative and not ins.negative:
            notes.append("negative prompt not sent: inputs.negative is not mapped")
        if req.references:
            notes.append("reference images not sent: comfyui workflows take none yet")
        price = self.settings.price_per_second or 0.0
        return ServicePlan(
            provider=self.name, model=self.settings.model or Path(str(self.settings.workflow)).stem,
            seconds=seconds, size=size, size_label=f"{size[0]}x{size[1]}",
            # The workflow is told the hole's own frame count (and rate, where mapped).
            frames=req.frames if ins.frames else None, fps=req.rate if ins.frames and ins.fps else None,
            use_first=use_first, use_last=use_last,
            seed=req.seed if ins.seed else None,
            negative=req.negative if (ins.negative and req.negative) else None,
            estimated_cost=round(price * seconds, 4), notes=notes,
            # A workflow's sound is not mapped (no audio input or output is known), so it cannot be asked for.
            refused=audio_refusal(self.name, "workflow", ()) if req.audio else None,
        )

    def upload_name(self, req: GenerationRequest, which: str) -> str:
        return f"shotfill_{(req.request_hash or req.placeholder_id)[:16]}_{which}.png"

    def build_body(self, req: GenerationRequest, plan: ServicePlan) -> dict[str, Any]:
        """The ``/prompt`` body: the workflow with our values in the mapped inputs.

        Neighbour frames get the names they will be uploaded under; ``submit``
        swaps in the names the server actually answers with.
        """
        wf = copy.deepcopy(self.workflow())
        ins = self.inputs

        def put(path: Optional[str], value: Any) -> None:
            if path:
                node_id, name = split_path(path)
                wf[node_id]["inputs"][name] = value

        for path, value in self._extra_paths().items():
            put(path, value)
        put(ins.prompt, req.prompt)
        if plan.negative is not None:
            put(ins.negative, plan.negative)
        put(ins.seed, req.seed)
        put(ins.frames, req.frames)
        put(ins.fps, float(req.rate))
        put(ins.width, plan.size[0])
        put(ins.height, plan.size[1])
        if plan.use_first:
            put(ins.first_frame, self.upload_name(req, "first"))
        if plan.use_last:
            put(ins.last_frame, self.upload_name(req, "last"))
        return {"prompt": wf, "client_id": _client_id(req)}

    # -- the service -----------------------------------------------------------------------

    async def upload(self, http: Any, src: str, name: str) -> str:
        """Put a PNG in the server's input folder; returns the value for a LoadImage ``image`` input.

        ``overwrite`` makes a repeat harmless, so this POST is retried like a GET.
        """
        try:
            data = Path(src).read_bytes()
        except OSError as exc:
            raise MediaError(f"comfyui: cannot read the neighbour frame {src} ({exc.strerror})") from None
        resp = await http.request("POST", "/upload/image", files={"image": (name, data, "image/png")},
                                  data={"type": "input", "overwrite": "true"}, idempotent=True,
                                  what="POST /upload/image")
        try:
            body = resp.json()
        except ValueError:
            raise ServiceError("comfyui: POST /upload/image answered with something that is not JSON") from None
        up = _parse(Uploaded, body, "POST /upload/image")
        return f"{up.subfolder}/{up.name}" if up.subfolder else up.name

    async def submit(self, http: Any, req: GenerationRequest, plan: ServicePlan, body: Any) -> JobHandle:
        body = copy.deepcopy(body)
        ins = self.inputs
        for use, src, path, which in ((plan.use_first, req.first_frame, ins.first_frame, "first"),
                                      (plan.use_last, req.last_frame, ins.last_frame, "last")):
            if use and src and path:
                node_id, name = split_path(path)
                body["prompt"][node_id]["inputs"][name] = await self.upload(http, src, self.upload_name(req, which))
        self._client_ids[req.request_hash] = body["client_id"]
        try:
            answer = await http.post_json("/prompt", body)
        except Rejected as exc:
            # The message keeps only the summary ("Prompt outputs failed validation");
            # the node-by-node reasons that say what to fix are in the 400 body.
            text = describe_refusal(exc.body) if exc.status == 400 else None
            if not text:
                raise
            raise Rejected(f"comfyui: ComfyUI refused the workflow (HTTP 400): {text}",
                           hint="open the workflow in ComfyUI and queue it there once to see the problem, "
                                "or fix [providers.comfyui.inputs]") from exc
        acc = _parse(PromptAccepted, answer, "POST /prompt")
        return JobHandle(job_id=acc.prompt_id, data={"client_id": body["client_id"], "number": acc.number})

    async def poll(self, http: Any, handle: JobHandle) -> JobStatus:
        pid = handle.job_id
        status = await self._from_history(http, pid)
        if status is not None:
            return status
        queue = _parse(QueueState, await http.get_json("/queue"), "GET /queue")
        for item in queue.queue_running:
            if _item(item)[1] == pid:
                self._missing.pop(pid, None)
                return JobStatus(state="running", data={"ahead": 0})
        mine = next((item for item in queue.queue_pending if _item(item)[1] == pid), None)
        if mine is not None:
            self._missing.pop(pid, None)
            number = _item(mine)[0]
            ahead = len(queue.queue_running) + sum(
                1 for it in queue.queue_pending
                if _item(it)[1] != pid and number is not None and (_item(it)[0] or 0) < number)
            return JobStatus(state="queued", data={"ahead": ahead})
        # Not in history a moment ago and not queued now: it may have just
        # finished, so look once more before counting it as missing.
        status = await self._from_history(http, pid)
        if status is not None:
            return status
        misses = self._missing.get(pid, 0) + 1
        self._missing[pid] = misses
        if misses >= MISSING_POLLS:
            return JobStatus(state="failed", error=f"ComfyUI has prompt {pid} neither queued, running nor in its "
                                                   "history (was the server restarted or the queue cleared?)")
        return JobStatus(state="queued")

    async def _from_history(self, http: Any, pid: str) -> Optional[JobStatus]:
        hist = await http.get_json(f"/history/{pid}")
        raw = hist.get(pid) if isinstance(hist, dict) else None
        if raw is None:
            return None
        self._missing.pop(pid, None)
        entry = _parse(HistoryEntry, raw, f"GET /history/{pid}")
        st = entry.status
        if st is not None and st.status_str == "error":
            return JobStatus(state="failed", error=_failure(st))
        if st is not None and st.status_str not in (None, "success"):
            return JobStatus(state="running")        # unknown: not terminal (the deadline still holds)
        if st is not None and st.completed is False and not entry.outputs:
            return JobStatus(state="running")
        out = pick_output(entry.outputs)
        if out is None:
            saved = sorted({str(f.get("filename")) for o in entry.outputs.values() if isinstance(o, dict)
                            for k in OUTPUT_KEYS for f in (o.get(k) or []) if isinstance(f, dict)})
            return JobStatus(state="failed", error="the workflow finished but saved no video ("
                             + (f"files: {', '.join(saved[:5])}" if saved else "no files") + "); end it with "
                             "SaveVideo, SaveWEBM or VHS_VideoCombine")
        return JobStatus(state="succeeded", progress=1.0, output_url=view_url(out),
                         data={"filename": out.filename, "subfolder": out.subfolder, "type": out.type})

    async def recover(self, http: Any, req: GenerationRequest, plan: ServicePlan, since: float) -> Optional[JobHandle]:
        """Find our prompt by its client_id: queued or running in ``/queue``, else finished in ``/history``."""
        # A later run knows no submitted id, but the id follows from the request.
        cid = self._client_ids.get(req.request_hash) or _client_id(req)
        queue = _parse(QueueState, await http.get_json("/queue"), "GET /queue")
        for item in [*queue.queue_running, *queue.queue_pending]:
            number, pid, extra = _item(item)
            if pid and extra.get("client_id") == cid:
                return JobHandle(job_id=pid, data={"client_id": cid, "number": number, "recovered": True})
        hist = await http.get_json("/history", params={"max_items": RECOVER_HISTORY_ITEMS})
        for pid, raw in (hist.items() if isinstance(hist, dict) else []):
            prompt = raw.get("prompt") if isinstance(raw, dict) else None
            if isinstance(prompt, list):
                number, _, extra = _item(prompt)
                if extra.get("client_id") == cid:
                    return JobHandle(job_id=pid, data={"client_id": cid, "number": number, "recovered": True})
        return None

    async def download(self, http: Any, handle: JobHandle, status: JobStatus, dest: Path) -> Path:
        """``GET /view`` on the same server; the file keeps its real extension (.mp4, .webm, .gif).

        ComfyUI serves a GIF as ``image/gif``, which the shared download then takes too.
        """
        assert status.output_url
        ext = os.path.splitext(str(status.data.get("filename") or ""))[1].lower()
        if ext in VIDEO_EXTS or ext in GIF_EXTS:
            dest = dest.with_suffix(ext)
        gif = ext in GIF_EXTS
        try:
            return await http.download(status.output_url, dest, max_bytes=self.settings.max_download_mb << 20,
                                       accept_types=GIF_TYPES if gif else None)
        except DownloadError as exc:
            if not (gif and exc.expired):
                raise
            raise DownloadError(f"comfyui: the result is gone from the server (HTTP {exc.status})",
                                hint="it was deleted from ComfyUI's output folder; run again",
                                expired=True, status=exc.status) from None


def _is_link(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], int))


def _node_list(wf: dict[str, Any]) -> str:
    items = [f"{k} ({v.get('class_type')})" for k, v in wf.items() if isinstance(v, dict)]
    return ", ".join(items[:40]) + (" ..." if len(items) > 40 else "")


def _client_id(req: GenerationRequest) -> str:
    """The submit's ``client_id``: the same for the same request, so any later run can find its prompt."""
    return str(uuid.UUID(req.request_hash[:32], version=4)) if len(req.request_hash) >= 32 else str(uuid.uuid4())
