"""The three steps of a farm job, each run by ``shotfill farm step submit|media|place``.

They share nothing but the state folder: the journal (every paid job, before
its submit goes out), the cache, and one outcome file per placeholder
(``farm/<key hash>.json``) that the Media task writes and the Place task reads.
So any task can run again, on any machine that mounts the share:

- Submit again: a job in the journal is not submitted again;
- Media again: it resumes the journaled job (or finds the clip in the cache);
- Place again: it writes the same timelines from the same outcome files.

A hole a neighbour's own media fills (``source=handles``, ``--prefer-handles``)
is no job, as in ``fill``: Submit sends nothing for it, its Media task (if one
is run) does nothing, and Place places the neighbour's file, computed again
from the timeline rather than read from an outcome file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any, Optional

from shotfill.errors import Interrupted, ShotFillError, StateError, UsageError
from shotfill.events import EventSink
from shotfill.jobs import from_media, segments
from shotfill.jobs.executor import Executor
from shotfill.jobs.journal import check_journal
from shotfill.jobs.runner import Runner
from shotfill.model import GeneratedMedia, GenerationRequest, Handles, JobSpec, Outcome, Segment
from shotfill.pipeline import (BatchItem, FillResult, FillSettings, Prepared, batch_specs, batch_state_dir,
                               prepare_batch, unwritten, write_batch)
from shotfill.system.bounded import read_bytes
from shotfill.system.files import make_dirs, write_text

#: journal states that mean the job is the service's now: nothing to submit
_AT_SERVICE = ("submitted", "downloaded", "submitting", "uncertain")
OUTCOMES = "farm"


def outcome_path(state_dir: Path, key: str) -> Path:
    return state_dir / OUTCOMES / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")


def _fingerprint(spec: JobSpec) -> str:
    """What decides a placeholder's media: an outcome file of another edit of the hole is not placed."""
    text = spec.placeholder.model_dump_json() + "\0" + spec.info.model_dump_json() + "\0" + str(spec.media_dir)
    return hashlib.sha256(text.encode()).hexdigest()


def save_outcome(state_dir: Path, out: Outcome) -> Path:
    data = {"key": out.spec.key, "fingerprint": _fingerprint(out.spec), "status": out.status,
            "media": None if out.media is None else str(out.media), "error": out.error,
            "request": None if out.request is None else out.request.model_dump(mode="json"),
            "provenance": out.provenance, "estimated_cost": out.estimated_cost, "timings": out.timings,
            "before_frame": out.before_frame, "after_frame": out.after_frame, "warnings": out.warnings,
            "worker": out.worker, "segments": [g.model_dump(mode="json") for g in out.segments],
            "handles": None if out.handles is None else out.handles.model_dump()}
    return write_text(outcome_path(state_dir, out.spec.key), json.dumps(data, indent=1) + "\n")


def load_outcome(state_dir: Path, spec: JobSpec) -> Optional[Outcome]:
    """The outcome a Submit or Media task left for ``spec``; None when there is none (or it is another hole's)."""
    path = outcome_path(state_dir, spec.key)
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(read_bytes(path, limit=4 << 20, what="outcome file"))
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: the outcome of placeholder {spec.key} cannot be read ({exc})",
                         hint="run its Media task again") from None
    if data.get("key") != spec.key or data.get("fingerprint") != _fingerprint(spec):
        return None
    req = data.get("request")
    return Outcome(spec, data["status"], media=Path(data["media"]) if data.get("media") else None,
                   error=data.get("error"), request=GenerationRequest.model_validate(req) if req else None,
                   provenance=data.get("provenance"), estimated_cost=data.get("estimated_cost"),
                   timings=dict(data.get("timings") or {}), before_frame=data.get("before_frame"),
                   after_frame=data.get("after_frame"), warnings=list(data.get("warnings") or []),
                   worker=data.get("worker"),
                   segments=[Segment.model_validate(g) for g in data.get("segments") or []],
                   handles=Handles.model_validate(data["handles"]) if data.get("handles") else None)


class _SubmitRunner(Runner):
    """Plans and budgets the batch like ``fill``, then only submits: each job is left to the service.

    A submit is done once the journal holds the job's id; the wait that
    ``Provider.start`` goes on to is then cancelled (the Media task resumes it).
    Offline renders and clips already in the cache or journal submit nothing.
    """

    async def _media(self, executor: Executor, out: Outcome, threads: int) -> Outcome:
        if out.status != "queued" or out.request is None:
            return out
        try:
            # A hole in segments: only the first can go now, the others start on frames its Media task makes.
            await self._generated(executor, out.spec, segments.first_request(out) if out.segments else out.request)
        except UsageError:
            raise
        except (ShotFillError, OSError) as exc:
            self._failed(out, exc)
        return out

    async def _make(self, executor: Executor, spec: JobSpec, req: GenerationRequest) -> GeneratedMedia:
        left = GeneratedMedia(request_hash=req.request_hash, path="", provider=req.provider)
        rec = self.journal.get(req.request_hash)
        if (req.provider == "local" or self.cache.get(req.request_hash) is not None
                or (rec is not None and rec.provider == req.provider and rec.state in _AT_SERVICE)):
            return left
        provider = self.provider(req.provider)
        workdir = self.state_dir / "generated"
        job = asyncio.ensure_future(executor.io(req.provider, lambda: provider.start(req, workdir)))
        while not job.done():
            rec = self.journal.get(req.request_hash)
            if rec is not None and rec.state in ("submitted", "downloaded") and rec.job_id:
                job.cancel()
                break
            await asyncio.sleep(0.05)
        try:
            await job
        except asyncio.CancelledError:
            if not job.cancelled():
                raise
        return left


def _run(runner: Runner, specs: list[JobSpec], state_dir: Path) -> list[Outcome]:
    try:
        return asyncio.run(runner.run(specs))
    except KeyboardInterrupt:
        raise Interrupted("interrupted: nothing half-written; jobs already submitted are in the journal",
                          hint=f"run the task again to resume (state in {state_dir})") from None


def _state(items: list[BatchItem], settings: FillSettings, specs: list[JobSpec]) -> Path:
    state_dir = batch_state_dir(items, settings)
    check_journal(state_dir / "journal.sqlite")
    make_dirs(state_dir)
    for spec in specs:
        make_dirs(spec.media_dir)
    make_dirs(state_dir / OUTCOMES)
    return state_dir


def submit(prepared: list[Prepared], settings: FillSettings, on_event: EventSink) -> list[Outcome]:
    """Step 1: plan, budget, submit every provider job; record skipped and failed placeholders for Place."""
    items = [item for item, _, _ in prepared]
    specs = batch_specs(prepared, settings)
    state_dir = _state(items, settings, specs)
    for spec in specs:   # a new run of the job: no outcome of an earlier one is placed
        outcome_path(state_dir, spec.key).unlink(missing_ok=True)
    to_run, done = from_media.split(specs, settings.prefer_handles)   # no job for what the neighbours' media fills
    runner = _SubmitRunner(settings.run_settings(), state_dir, on_event)
    outcomes = _run(runner, to_run, state_dir)
    if runner.write_errors:
        raise unwritten(runner.write_errors, items, state_dir)
    for out in outcomes:
        if out.status in ("skipped", "failed"):
            save_outcome(state_dir, out)
    return from_media.ordered(specs, outcomes + done)


def media_keys(prepared: list[Prepared], settings: FillSettings) -> list[str]:
    """The placeholders that need a Media task: all but those a neighbour's own media fills."""
    to_run, _ = from_media.split(batch_specs(prepared, settings), settings.prefer_handles)
    return [s.key for s in to_run]


def media(prepared: list[Prepared], settings: FillSettings, key: str, on_event: EventSink) -> Outcome:
    """Step 2, one task: wait for the placeholder's job, download, conform; write its outcome file."""
    items = [item for item, _, _ in prepared]
    specs = batch_specs(prepared, settings)
    mine = [s for s in specs if s.key == key]
    if not mine:
        raise UsageError(f"no placeholder {key} in {', '.join(str(i.timeline) for i in items)}",
                         hint="the timelines changed since the bundle was exported: export it again")
    _, done = from_media.split(mine, settings.prefer_handles)
    if done:
        return done[0]   # the neighbour's own file: nothing to wait for or conform (Place places it)
    state_dir = _state(items, settings, mine)
    earlier = load_outcome(state_dir, mine[0])
    if earlier is not None and earlier.status in ("skipped", "failed"):
        return earlier   # Submit decided (over budget) or failed it: the same as `fill` would report
    runner = Runner(settings.run_settings(), state_dir, on_event)
    out = _run(runner, mine, state_dir)[0]
    if runner.write_errors:
        raise unwritten(runner.write_errors, items, state_dir)
    save_outcome(state_dir, out)
    return out


def place(prepared: list[Prepared], settings: FillSettings) -> list[FillResult]:
    """Step 3: every placeholder's outcome, placed; the timelines and the report written as ``fill`` writes them."""
    items = [item for item, _, _ in prepared]
    specs = batch_specs(prepared, settings)
    state_dir = batch_state_dir(items, settings)
    to_run, outcomes = from_media.split(specs, settings.prefer_handles)
    for spec in to_run:
        out = load_outcome(state_dir, spec)
        if out is None:
            out = Outcome(spec, "failed", error="its Media task has not run (or ran for another edit of this hole)")
        elif out.ok and (out.media is None or not out.media.is_file()):
            out.status, out.error = "failed", f"its conformed clip {out.media} is missing"
        outcomes.append(out)
    return write_batch(prepared, from_media.ordered(specs, outcomes), settings)


__all__ = ["load_outcome", "media", "media_keys", "place", "prepare_batch", "save_outcome", "submit"]
