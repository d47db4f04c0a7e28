"""A fake ComfyUI server: the routes, shapes and checks of ComfyUI's ``server.py`` / ``execution.py``.

* ``POST /prompt`` validates the API-format graph the way ComfyUI does: an
  unknown ``class_type`` -> 400 ``invalid_prompt``; no output node -> 400
  ``prompt_no_outputs``; per output node, a depth-first check of the nodes it
  depends on (missing required input, value not convertible to INT/FLOAT,
  out of min/max, value not in a list, LoadImage of a file not in the input
  folder) -> 400 ``prompt_outputs_failed_validation`` with ``node_errors``.
* A job then moves one step per ``GET /history/{id}``: pending (in
  ``/queue``'s ``queue_pending``) -> running (``queue_running``) -> done (in
  ``/history`` with outputs and ``status``), or error with an
  ``execution_error`` message when told to fail.
* ``POST /upload/image`` (multipart) stores into the input folder;
  ``GET /view`` serves the input/output/temp folders with ComfyUI's refusals
  (``..`` or absolute name -> 400, subfolder escaping -> 403, missing -> 404).
* Every route is also served under ``/api``, like the real server.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import mimetypes
import posixpath
import time
import uuid
from typing import Any, Callable, Optional

from fakes.server import FakeService, Recorded, Reply

MAX_RES = 16384
BOOL = ["BOOLEAN"]


def _i(default: int = 0, mn: int = 0, mx: int = 0xFFFFFFFFFFFFFFFF) -> tuple[str, dict[str, Any]]:
    return ("INT", {"default": default, "min": mn, "max": mx})


def _f(default: float = 0.0, mn: float = -1e9, mx: float = 1e9) -> tuple[str, dict[str, Any]]:
    return ("FLOAT", {"default": default, "min": mn, "max": mx})


S = ("STRING", {})
SAMPLERS = ["euler", "euler_ancestral", "dpmpp_2m", "uni_pc", "res_multistep"]
SCHEDULERS = ["simple", "normal", "karras", "sgm_uniform", "beta"]

#: class_type -> {"required": {name: spec}, "optional": {...}, "output": bool}; a spec is
#: ("INT"|"FLOAT"|"STRING", opts), a list of allowed values, or a link type name like "MODEL"
NODE_TYPES: dict[str, dict[str, Any]] = {
    "UNETLoader": {"required": {
        "unet_name": ["wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors",
                      "wan2.2_i2v_low_noise_14B_fp8_scaled.safetensors",
                      "wan2.2_ti2v_5B_fp16.safetensors"],
        "weight_dtype": ["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]}},
    "CLIPLoader": {"required": {
        "clip_name": ["umt5_xxl_fp8_e4m3fn_scaled.safetensors", "t5xxl_fp16.safetensors"],
        "type": ["stable_diffusion", "sd3", "ltxv", "wan", "hunyuan_video"]},
        "optional": {"device": ["default", "cpu"]}},
    "VAELoader": {"required": {"vae_name": ["wan_2.1_vae.safetensors", "wan2.2_vae.safetensors"]}},
    "CLIPTextEncode": {"required": {"text": S, "clip": "CLIP"}},
    "LoadImage": {"required": {"image": "IMAGE_FILE"}},
    "WanFirstLastFrameToVideo": {"required": {
        "positive": "CONDITIONING", "negative": "CONDITIONING", "vae": "VAE",
        "width": _i(832, 16, MAX_RES), "height": _i(480, 16, MAX_RES), "length": _i(81, 1, MAX_RES),
        "batch_size": _i(1, 1, 4096)},
        "optional": {"start_image": "IMAGE", "end_image": "IMAGE", "clip_vision_start_image": "CLIP_VISION_OUTPUT",
                     "clip_vision_end_image": "CLIP_VISION_OUTPUT"}},
    "WanImageToVideo": {"required": {
        "positive": "CONDITIONING", "negative": "CONDITIONING", "vae": "VAE",
        "width": _i(832, 16, MAX_RES), "height": _i(480, 16, MAX_RES), "length": _i(81, 1, MAX_RES),
        "batch_size": _i(1, 1, 4096)}, "optional": {"start_image": "IMAGE"}},
    "ModelSamplingSD3": {"required": {"model": "MODEL", "shift": _f(3.0, 0.0, 100.0)}},
    "KSampler": {"required": {
        "model": "MODEL", "seed": _i(), "steps": _i(20, 1, 10000), "cfg": _f(8.0, 0.0, 100.0),
        "sampler_name": SAMPLERS, "scheduler": SCHEDULERS, "positive": "CONDITIONING",
        "negative": "CONDITIONING", "latent_image": "LATENT", "denoise": _f(1.0, 0.0, 1.0)}},
    "KSamplerAdvanced": {"required": {
        "model": "MODEL", "add_noise": ["enable", "disable"], "noise_seed": _i(), "steps": _i(20, 1, 10000),
        "cfg": _f(8.0, 0.0, 100.0), "sampler_name": SAMPLERS, "scheduler": SCHEDULERS,
        "positive": "CONDITIONING", "negative": "CONDITIONING", "latent_image": "LATENT",
        "start_at_step": _i(0, 0, 10000), "end_at_step": _i(10000, 0, 10000),
        "return_with_leftover_noise": ["disable", "enable"]}},
    "VAEDecode": {"required": {"samples": "LATENT", "vae": "VAE"}},
    "CreateVideo": {"required": {"images": "IMAGE", "fps": _f(30.0, 1.0, 120.0)}, "optional": {"audio": "AUDIO"}},
    "SaveVideo": {"output": True, "required": {"video": "VIDEO", "filename_prefix": S,
                                               "format": ["auto", "mp4"], "codec": ["auto", "h264"]}},
    "SaveWEBM": {"output": True, "required": {"images": "IMAGE", "filename_prefix": S, "codec": ["vp9", "av1"],
                                              "fps": _f(24.0, 0.01, 1000.0), "crf": _f(32.0, 0, 63.0)}},
    "VHS_VideoCombine": {"output": True, "required": {
        "images": "IMAGE", "frame_rate": _f(8.0, 1.0, 1000.0), "loop_count": _i(0, 0, 100),
        "filename_prefix": S, "format": ["image/gif", "image/webp", "video/h264-mp4", "video/webm"],
        "pingpong": BOOL, "save_output": BOOL}},
    "SaveImage": {"output": True, "required": {"images": "IMAGE", "filename_prefix": S}},
}

#: how a finished job lists its file, per output style
OUTPUT_STYLES = ("savevideo", "vhs", "videos", "gif", "png")


class FakeComfyUI(FakeService):
    """ComfyUI's HTTP API on 127.0.0.1; see the module docstring for what it checks."""

    def __init__(self, video: bytes = b"") -> None:
        self.files: dict[tuple[str, str, str], bytes] = {("input", "", "example.png"): b"\x89PNG example"}
        self.number = 0
        self.history_order: list[str] = []
        #: default step sequence of a new job (advanced on each GET /history/{id})
        self.steps = ["pending", "pending", "running", "done"]
        self.output_style = "savevideo"
        self.on_history_poll: Optional[Callable[[str], None]] = None
        self._next_fail: Optional[dict[str, Any]] = None
        self._next_interrupt = False
        self._next_steps: Optional[list[str]] = None
        self._accept_then_reset = 0
        super().__init__(video)

    def setup_routes(self) -> None:
        for prefix in ("", "/api"):
            self.route("POST", prefix + "/prompt", self._post_prompt)
            self.route("GET", prefix + "/prompt", lambda rec, p: Reply(200, {"exec_info": {
                "queue_remaining": sum(1 for j in self.jobs.values() if self._state(j) != "done")}}))
            self.route("GET", prefix + "/queue", self._get_queue)
            self.route("GET", prefix + "/history", self._get_history_list)
            self.route("GET", prefix + "/history/{prompt_id}", self._get_history)
            self.route("POST", prefix + "/upload/image", self._upload)
            self.route("GET", prefix + "/view", self._view)

    # -- scripting -------------------------------------------------------------------------

    def fail_next_job(self, message: str = "Allocation on device", *, exception_type: str = "torch.OutOfMemoryError",
                      node_id: str = "57", node_type: str = "KSamplerAdvanced") -> None:
        """The next job runs and ends with ``status_str: error`` and this ``execution_error``."""
        self._next_fail = {"exception_message": message, "exception_type": exception_type,
                           "node_id": node_id, "node_type": node_type}

    def interrupt_next_job(self) -> None:
        self._next_interrupt = True

    def next_job_steps(self, steps: list[str]) -> None:
        self._next_steps = list(steps)

    def accept_then_reset_next_prompt(self) -> None:
        """Queue the next prompt, then close the socket without answering (the job exists)."""
        self._accept_then_reset += 1

    def forget_jobs(self) -> None:
        """A restarted server: queue and history are gone."""
        self.jobs.clear()
        self.history_order.clear()

    def add_foreign_job(self, client_id: str = "someone-else", steps: Optional[list[str]] = None) -> str:
        """Another user's prompt in the queue (recover must not take it)."""
        pid = str(uuid.uuid4())
        self._enqueue(pid, {"1": {"class_type": "SaveImage", "inputs": {}}}, {"client_id": client_id},
                      ["1"], steps or ["pending"] * 50)
        return pid

    def expire_downloads(self, expired: bool = True) -> None:
        """ComfyUI files do not expire; deleted ones are 404 (the output folder was cleaned)."""
        self.downloads_expired = expired

    # -- jobs ------------------------------------------------------------------------------

    def _state(self, job: dict[str, Any]) -> str:
        return job["steps"][min(job["step"], len(job["steps"]) - 1)]

    def _enqueue(self, pid: str, prompt: dict[str, Any], extra: dict[str, Any], outputs: list[str],
                 steps: list[str]) -> dict[str, Any]:
        job = {"id": pid, "number": self.number, "prompt": prompt, "extra_data": extra, "outputs": outputs,
               "steps": steps, "step": 0, "fail": None, "interrupt": False, "style": self.output_style,
               "created": time.time()}
        self.number += 1
        with self._lock:
            self.jobs[pid] = job
        return job

    def _item(self, job: dict[str, Any]) -> list[Any]:
        return [job["number"], job["id"], job["prompt"], job["extra_data"], job["outputs"]]

    def _post_prompt(self, rec: Recorded, p: dict[str, str]) -> Reply:
        try:
            data = json.loads(rec.body or b"{}")
        except ValueError:
            return Reply(500, "500 Internal Server Error\n\nServer got itself in trouble")
        prompt = data.get("prompt") if isinstance(data, dict) else None
        if prompt is None:
            return Reply(400, {"error": {"type": "no_prompt", "message": "No prompt provided",
                                         "details": "No prompt provided", "extra_info": {}}, "node_errors": {}})
        ok, error, good, node_errors = validate_prompt(prompt, self._input_exists)
        if not ok:
            return Reply(400, {"error": error, "node_errors": node_errors})
        extra = dict(data.get("extra_data") or {})
        if "client_id" in data:
            extra["client_id"] = data["client_id"]
        pid = str(uuid.uuid4())
        steps = self._next_steps or list(self.steps)
        self._next_steps = None
        job = self._enqueue(pid, prompt, extra, good, steps)
        job["fail"], self._next_fail = self._next_fail, None
        job["interrupt"], self._next_interrupt = self._next_interrupt, False
        if self._accept_then_reset:
            self._accept_then_reset -= 1
            return Reply(drop=True)
        return Reply(200, {"prompt_id": pid, "number": job["number"], "node_errors": node_errors})

    def _get_queue(self, rec: Recorded, p: dict[str, str]) -> Reply:
        running = [self._item(j) for j in self.jobs.values() if self._state(j) == "running"]
        pending = [self._item(j) for j in self.jobs.values() if self._state(j) == "pending"]
        return Reply(200, {"queue_running": running, "queue_pending": pending})

    def _entry(self, job: dict[str, Any]) -> dict[str, Any]:
        pid, ms = job["id"], int(job["created"] * 1000)
        messages: list[Any] = [["execution_start", {"prompt_id": pid, "timestamp": ms}],
                               ["execution_cached", {"nodes": [], "prompt_id": pid, "timestamp": ms}]]
        if job["fail"]:
            messages.append(["execution_error", {
                "prompt_id": pid, "executed": ["37", "38"], "traceback": ["  File \"execution.py\", line 1\n"],
                "current_inputs": {}, "current_outputs": {}, "timestamp": ms, **job["fail"]}])
            status = {"status_str": "error", "completed": False, "messages": messages}
            outputs: dict[str, Any] = {}
        elif job["interrupt"]:
            messages.append(["execution_interrupted", {"prompt_id": pid, "node_id": "57",
                                                       "node_type": "KSamplerAdvanced", "executed": [],
                                                       "timestamp": ms}])
            status = {"status_str": "error", "completed": False, "messages": messages}
            outputs = {}
        else:
            messages.append(["execution_success", {"prompt_id": pid, "timestamp": ms}])
            status = {"status_str": "success", "completed": True, "messages": messages}
            outputs = {node: self._output_for(job, node) for node in job["outputs"]}
        meta = {n: {"node_id": n, "display_node": n, "parent_node": None, "real_node_id": n}
                for n in job["outputs"]}
        return {"prompt": self._item(job), "outputs": outputs, "status": status, "meta": meta}

    def _output_for(self, job: dict[str, Any], node: str) -> dict[str, Any]:
        n = job["number"] + 1
        style = job["style"]
        if style == "vhs":
            f = {"filename": f"AnimateDiff_{n:05d}.mp4", "subfolder": "", "type": "output",
                 "format": "video/h264-mp4", "frame_rate": 24.0, "workflow": f"AnimateDiff_{n:05d}.png",
                 "fullpath": f"/ComfyUI/output/AnimateDiff_{n:05d}.mp4"}
            out = {"gifs": [f]}
        elif style == "videos":
            f = {"filename": f"ComfyUI_{n:05d}_.webm", "subfolder": "", "type": "output"}
            out = {"videos": [f]}
        elif style == "gif":
            f = {"filename": f"ComfyUI_{n:05d}_.gif", "subfolder": "", "type": "output"}
            out = {"images": [f], "animated": [True]}
        elif style == "png":
            f = {"filename": f"ComfyUI_{n:05d}_.png", "subfolder": "", "type": "output"}
            out = {"images": [f]}
        else:
            f = {"filename": f"ComfyUI_{n:05d}_.mp4", "subfolder": "video", "type": "output"}
            out = {"images": [f], "animated": [True]}
        self.files.setdefault((f["type"], f["subfolder"], f["filename"]), self.video)
        return out

    def _get_history(self, rec: Recorded, p: dict[str, str]) -> Reply:
        pid = p["prompt_id"]
        if self.on_history_poll is not None:
            self.on_history_poll(pid)
        job = self.jobs.get(pid)
        if job is None:
            return Reply(200, {})
        with self._lock:
            job["step"] += 1
        if self._state(job) != "done":
            return Reply(200, {})
        if pid not in self.history_order:
            self.history_order.append(pid)
        return Reply(200, {pid: self._entry(job)})

    def _get_history_list(self, rec: Recorded, p: dict[str, str]) -> Reply:
        for pid, job in self.jobs.items():
            if self._state(job) == "done" and pid not in self.history_order:
                self.history_order.append(pid)
        order = list(self.history_order)
        max_items = rec.query.get("max_items", [None])[0]
        if max_items is not None:
            order = order[-int(max_items):]
        return Reply(200, {pid: self._entry(self.jobs[pid]) for pid in order if pid in self.jobs})

    # -- files -----------------------------------------------------------------------------

    def _input_exists(self, name: str) -> bool:
        sub, _, base = name.rpartition("/")
        return ("input", sub, base) in self.files

    def _upload(self, rec: Recorded, p: dict[str, str]) -> Reply:
        fields, files = parse_multipart(rec.headers.get("content-type", ""), rec.body)
        if "image" not in files:
            return Reply(400, b"")
        filename, content = files["image"]
        if not filename:
            return Reply(400, b"")
        kind = fields.get("type") or "input"
        if kind not in ("input", "temp", "output"):
            return Reply(500, "500 Internal Server Error")      # the real server fails on the unknown dir
        subfolder = fields.get("subfolder", "")
        full = posixpath.normpath(posixpath.join("/dir", subfolder, filename))
        if not full.startswith("/dir/"):
            return Reply(400, b"")
        overwrite = fields.get("overwrite") in ("true", "1")
        stem, ext = posixpath.splitext(filename)
        name, i = filename, 1
        if not overwrite:
            while (kind, subfolder, name) in self.files and self.files[(kind, subfolder, name)] != content:
                name = f"{stem} ({i}){ext}"
                i += 1
        self.files[(kind, subfolder, name)] = content
        return Reply(200, {"name": name, "subfolder": subfolder, "type": kind})

    def _view(self, rec: Recorded, p: dict[str, str]) -> Reply:
        q = {k: v[0] for k, v in rec.query.items()}
        if "filename" not in q:
            return Reply(404, "404: Not Found")
        filename = q["filename"]
        if not filename or filename[0] == "/" or ".." in filename:
            return Reply(400, "400: Bad Request")
        kind = q.get("type", "output")
        if kind not in ("input", "output", "temp"):
            return Reply(400, "400: Bad Request")
        subfolder = q.get("subfolder", "")
        if subfolder:
            full = posixpath.normpath(posixpath.join("/dir", subfolder))
            if not (full == "/dir" or full.startswith("/dir/")):
                return Reply(403, "403: Forbidden")
            subfolder = full[len("/dir/"):] if full != "/dir" else ""
        data = self.files.get((kind, subfolder, posixpath.basename(filename)))
        if data is None or (self.downloads_expired and kind == "output"):
            return Reply(404, "404: Not Found")
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        with self._lock:
            truncate = self._truncate_downloads > 0 and kind == "output"
            if truncate:
                self._truncate_downloads -= 1
        return Reply(200, data, {"Content-Type": ctype,
                                 "Content-Disposition": f"filename=\"{posixpath.basename(filename)}\""},
                     truncate=truncate)


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Form fields and files of a multipart/form-data body."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if not msg.is_multipart():
        return fields, files
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[str(name)] = (filename, payload)
        else:
            fields[str(name)] = payload.decode()
    return fields, files


# -- validation, after ComfyUI's execution.validate_prompt / validate_inputs ----------------

def _reason(kind: str, message: str, details: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def validate_prompt(prompt: Any, input_exists: Callable[[str], bool]) -> tuple[bool, Any, list[str], Any]:
    """(ok, error, good outputs, node_errors) with ComfyUI's shapes."""
    if not isinstance(prompt, dict):
        return False, _reason("invalid_prompt", "Cannot execute because the prompt is not an object.", ""), [], {}
    outputs = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            return (False, _reason("invalid_prompt", "Cannot execute because a node is missing the class_type "
                                   "property.", f"Node ID '#{node_id}'"), [], {})
        spec = NODE_TYPES.get(node["class_type"])
        if spec is None:
            return (False, _reason("invalid_prompt", f"Cannot execute because node {node['class_type']} does "
                                   "not exist.", f"Node ID '#{node_id}'"), [], {})
        if spec.get("output"):
            outputs.append(node_id)
    if not outputs:
        return False, _reason("prompt_no_outputs", "Prompt has no outputs", ""), [], {}
    validated: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
    good, failed, node_errors = [], [], {}
    for o in outputs:
        if _validate_node(prompt, o, validated, input_exists):
            good.append(o)
            continue
        failed.append(o)
        for node_id, (valid, reasons) in validated.items():
            if not valid and reasons:
                ne = node_errors.setdefault(node_id, {"errors": reasons, "dependent_outputs": [],
                                                      "class_type": prompt[node_id]["class_type"]})
                ne["dependent_outputs"].append(o)
    if not good:
        details = "\n".join(f"{r['message']}: {r['details']}" for ne in node_errors.values() for r in ne["errors"])
        return (False, _reason("prompt_outputs_failed_validation", "Prompt outputs failed validation", details),
                [], node_errors)
    return True, None, good, node_errors


def _validate_node(prompt: dict[str, Any], node_id: str, validated: dict[str, Any],
                   input_exists: Callable[[str], bool]) -> bool:
    if node_id in validated:
        return validated[node_id][0]
    node = prompt[node_id]
    spec = NODE_TYPES[node["class_type"]]
    inputs = node.get("inputs") or {}
    errors: list[dict[str, Any]] = []
    valid = True
    required = spec.get("required", {})
    for name, kind in {**required, **spec.get("optional", {})}.items():
        if name not in inputs:
            if name in required:
                errors.append(_reason("required_input_missing", "Required input is missing", name, input_name=name))
            continue
        val = inputs[name]
        if isinstance(val, list) and len(val) == 2 and isinstance(val[0], str):
            if val[0] not in prompt:
                errors.append(_reason("exception_during_inner_validation", "Exception when validating inner node",
                                      f"'{val[0]}'", input_name=name))
                continue
            if not _validate_node(prompt, val[0], validated, input_exists):
                valid = False
            continue
        if isinstance(kind, tuple):
            typ, opts = kind
            try:
                if typ == "INT":
                    val = int(val)
                elif typ == "FLOAT":
                    val = float(val)
                else:
                    val = str(val)
            except (TypeError, ValueError) as ex:
                errors.append(_reason("invalid_input_type", f"Failed to convert an input value to a {typ} value",
                                      f"{name}, {val}, {ex}", input_name=name, received_value=val))
                continue
            if "min" in opts and val < opts["min"]:
                errors.append(_reason("value_smaller_than_min", f"Value {val} smaller than min of {opts['min']}",
                                      name, input_name=name, received_value=val))
            elif "max" in opts and val > opts["max"]:
                errors.append(_reason("value_bigger_than_max", f"Value {val} bigger than max of {opts['max']}",
                                      name, input_name=name, received_value=val))
        elif isinstance(kind, list) and kind != BOOL:
            if val not in kind:
                errors.append(_reason("value_not_in_list", "Value not in list", f"{name}: '{val}' not in {kind}",
                                      input_name=name, received_value=val))
        elif kind == "IMAGE_FILE":
            if not isinstance(val, str) or not input_exists(val):
                errors.append(_reason("custom_validation_failed", "Custom validation failed for node",
                                      f"{name} - Invalid image file: {val}", input_name=name, received_value=val))
    ok = valid and not errors
    validated[node_id] = (ok, errors)
    return ok
