"""Run the placeholders of one or many timelines: plan, budget, generate, conform.

Every placeholder goes through the same steps, concurrently, in one event loop:

1. **plan**: the generation request (neighbour frames extracted) and the
   provider's plan (duration, size, estimated cost);
2. **budget**: with ``--max-cost``, placeholders are taken in timeline order and
   one whose estimate would take the run's spend past the limit is *skipped*
   (media already paid for, in the cache or the journal, costs nothing);
3. **media**, the first of these that holds:
   the cache has it (nothing is generated twice) ->
   the journal has a downloaded file -> the journal has a submitted job (resume
   polling it, never submit again) -> the journal says a submit may have gone
   out (find it through the service's listing, else refuse to resend) ->
   submit a new job;
4. **conform** into the output media folder, as soon as its file lands.

Scheduling is the executor's (:mod:`shotfill.jobs.executor`); this module never
starts a thread itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import errno
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from shotfill import __version__
from shotfill.jobs.cache import MediaCache
from shotfill.config import Settings
from shotfill.errors import MediaError, ShotFillError, UsageError, WriteError
from shotfill.files import os_failure, write_failed
from shotfill.jobs.executor import LocalExecutor
from shotfill.jobs.journal import Journal
from shotfill.media.conform import conform
from shotfill.media.probe import probe
from shotfill.model import (Codec, ConformTarget, Fit, GeneratedMedia, GenerationRequest, JobSpec, Outcome,
                            Placeholder, TimelineInfo)
from shotfill.plan import PlanSettings, plan_request
from shotfill.providers import get_provider
from shotfill.events import EventSink, Stage
from shotfill.providers.base import JobHandle, Provider, ProviderContext
from shotfill.timeline.names import media_stem

@dataclass
class RunSettings:
    config: Settings = field(default_factory=Settings)
    provider: Optional[str] = None
    model: Optional[str] = None
    codec: Codec = Codec.PRORES
    concurrency: int = 4
    max_cost: Optional[float] = None
    #: send again a submit that may already have reached the service
    resubmit: bool = False


def _timeline_dir(info: TimelineInfo) -> str:
    """A folder name per input timeline: its stem plus a short hash of its path (stems repeat in batches)."""
    digest = hashlib.sha256(str(Path(info.path).resolve()).encode()).hexdigest()[:8]
    return f"{Path(info.path).stem}-{digest}"


def provenance(req: GenerationRequest, gen: GeneratedMedia) -> dict[str, Any]:
    return {
        "provider": gen.provider, "model": gen.model, "job_id": gen.job_id,
        "prompt": req.prompt, "negative": req.negative, "seed": req.seed,
        "request_hash": req.request_hash, "shotfill_version": __version__,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _usable(path: Optional[str]) -> bool:
    if not path or not Path(path).is_file():
        return False
    try:
        probe(path)
        return True
    except MediaError:
        return False


class Runner:
    """One run: shared executor, journal, cache and provider sessions."""

    def __init__(self, settings: RunSettings, state_dir: Path, on_event: EventSink) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.emit = on_event
        self.journal = Journal(state_dir / "journal.sqlite")
        self.cache = MediaCache(state_dir / "cache")
        self.ctx = ProviderContext(settings=settings.config, journal=self.journal, on_event=on_event)
        self.providers: dict[str, Provider] = {}
        #: files that could not be written (a full or read-only disk): the caller writes no timeline then
        self.write_errors: list[WriteError] = []

    def provider(self, name: str) -> Provider:
        if name not in self.providers:
            self.providers[name] = get_provider(name, self.ctx)
        return self.providers[name]

    async def run(self, specs: list[JobSpec]) -> list[Outcome]:
        cores = os.cpu_count() or 2
        # Many clips: one ffmpeg thread each, one per core; few clips: more threads each.
        threads = max(1, cores // max(1, min(cores, len(specs))))
        limits = {name: ps.concurrency for name, ps in self.settings.config.providers.items()}
        limits.setdefault("local", max(1, cores // threads))
        executor = LocalExecutor(limits, total_limit=max(1, self.settings.concurrency),
                                 cpu_slots=max(1, cores // threads), threads_per_job=threads)
        self.ctx.cpu_threads = threads
        try:
            outcomes = list(await asyncio.gather(*(self._plan(executor, s) for s in specs)))
            self._budget(outcomes)
            async with _Sessions(self.providers.values()):
                return list(await asyncio.gather(*(self._media(executor, o, threads) for o in outcomes)))
        finally:
            executor.close()
            self.journal.close()

    # -- 1. plan ---------------------------------------------------------------------------

    async def _plan(self, executor: LocalExecutor, spec: JobSpec) -> Outcome:
        ph, info = spec.placeholder, spec.info
        out = Outcome(spec, "queued")
        t0 = time.monotonic()
        try:
            self.emit(spec.key, Stage.PLAN, ph.prompt)
            ps = PlanSettings(width=info.width or 0, height=info.height or 0,
                              provider=self.settings.provider or self.settings.config.default_provider,
                              model=self.settings.model)
            frames_dir = self.state_dir / "frames" / _timeline_dir(info)
            req = await executor.cpu(plan_request, ph, ps, frames_dir)
            out.request, out.before_frame, out.after_frame = req, req.first_frame, req.last_frame
            plan = self.provider(req.provider).plan(req)
            out.estimated_cost = plan.estimated_cost
        except UsageError:
            raise
        except (ShotFillError, OSError) as exc:
            self._failed(out, exc)
        out.timings["plan"] = time.monotonic() - t0
        return out

    # -- 2. budget -------------------------------------------------------------------------

    def _already_paid(self, req: GenerationRequest) -> bool:
        if self.cache.get(req.request_hash) is not None:
            return True
        rec = self.journal.get(req.request_hash)
        return rec is not None and rec.state in ("submitted", "downloaded")

    def _budget(self, outcomes: list[Outcome]) -> None:
        limit = self.settings.max_cost
        if limit is None:
            return
        spent = 0.0
        for o in outcomes:
            if o.status != "queued" or o.request is None:
                continue
            if self._already_paid(o.request):
                continue
            cost = o.estimated_cost
            if cost is None:
                o.status = "skipped"
                o.error = (f"no price known for {o.request.provider}; set price_per_second for it in "
                           "shotfill.toml to run it under --max-cost")
            elif spent + cost > limit + 1e-9:
                o.status = "skipped"
                o.error = (f"over budget: its estimated {cost:.2f} would take the run to {spent + cost:.2f}, "
                           f"past --max-cost {limit:.2f}")
            else:
                spent += cost
                continue
            self.emit(o.spec.key, Stage.SKIPPED, o.error or "")

    # -- 3 + 4. media and conform ----------------------------------------------------------

    async def _media(self, executor: LocalExecutor, out: Outcome, threads: int) -> Outcome:
        if out.status != "queued":
            return out
        spec, req = out.spec, out.request
        assert req is not None
        t0 = time.monotonic()
        try:
            gen = await self._generated(executor, spec, req)
            out.timings["generate"] = time.monotonic() - t0
            t1 = time.monotonic()
            ph, info = spec.placeholder, spec.info
            target = ConformTarget(width=info.width, height=info.height, rate=ph.rate, frames=ph.duration,
                                   timecode=ph.timecode, codec=self.settings.codec, fit=ph.options.fit or Fit.FILL)
            # Named by all that decides its bytes (fit is not in the request): look-alike holes of two
            # timelines sharing a media folder never write one file.
            tag = hashlib.sha256(f"{req.request_hash}\0{target.model_dump_json()}".encode()).hexdigest()[:8]
            dst = spec.media_dir / f"{media_stem(Path(info.path).stem)}_{ph.id}_{tag}{self.settings.codec.suffix}"
            self.emit(spec.key, Stage.CONFORM, dst.name)
            await executor.cpu(conform, Path(gen.path), dst, target, threads=threads)
            out.timings["conform"] = time.monotonic() - t1
            out.status, out.media, out.provenance = "filled", dst, provenance(req, gen)
            self.emit(spec.key, Stage.DONE, str(dst))
        except UsageError:
            raise
        except (ShotFillError, OSError) as exc:
            self._failed(out, exc)
        except Exception as exc:  # one hole's bug must not lose the others' paid work
            out.status, out.error = "failed", f"internal error: {exc!r}"
            self.emit(spec.key, Stage.FAILED, out.error)
        out.timings["total"] = sum(out.timings.values())
        return out

    def _failed(self, out: Outcome, exc: ShotFillError | OSError) -> None:
        if isinstance(exc, OSError):   # no helper wrapped it (a scratch file): still the editor's message
            disk = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
            exc = write_failed(Path(exc.filename or self.state_dir), exc) if disk else os_failure(exc)
            if disk:
                self.write_errors.append(exc)
        elif isinstance(exc, WriteError):
            self.write_errors.append(exc)
        out.status, out.error = "failed", str(exc)
        self.emit(out.spec.key, Stage.FAILED, str(exc))

    async def _generated(self, executor: LocalExecutor, spec: JobSpec, req: GenerationRequest) -> GeneratedMedia:
        """The request's media: from the cache, the journal, a resumed job, or a new one."""
        hit = self.cache.get(req.request_hash)
        if hit is not None:
            path, meta = hit
            self.emit(spec.key, Stage.CACHED, req.request_hash[:12])
            return GeneratedMedia(request_hash=req.request_hash, path=str(path), provider=meta.get("provider", ""),
                                  model=meta.get("model"), job_id=meta.get("job_id"))
        provider = self.provider(req.provider)
        workdir = self.state_dir / "generated"
        rec = self.journal.get(req.request_hash)
        gen: Optional[GeneratedMedia] = None
        if rec is not None and rec.provider == req.provider:
            if rec.state == "downloaded" and _usable(rec.media_path):
                self.emit(spec.key, Stage.RESUMED, f"downloaded earlier: {rec.job_id}")
                gen = GeneratedMedia(request_hash=req.request_hash, path=str(rec.media_path),
                                     provider=rec.provider, model=rec.model, job_id=rec.job_id)
            elif rec.state in ("submitted", "downloaded") and rec.job_id:
                self.emit(spec.key, Stage.RESUMED, rec.job_id)
                handle = JobHandle(job_id=rec.job_id, data=rec.data)
                started = await executor.io(req.provider, lambda: provider.resume_wait(req, handle, rec.model))
                gen = await provider.collect(req, started, workdir)
            elif rec.state in ("submitting", "uncertain") and not self.settings.resubmit:
                gen = await executor.io(req.provider, lambda: provider.find_lost(req, workdir, rec))
        if gen is None:
            self.emit(spec.key, Stage.GENERATE, req.provider)
            # The service slot is held while the service works, not while we download.
            started = await executor.io(req.provider, lambda: provider.start(req, workdir))
            gen = await provider.collect(req, started, workdir)
        self.cache.put(req.request_hash, Path(gen.path), {
            "provider": gen.provider, "model": gen.model, "job_id": gen.job_id,
            "prompt": req.prompt, "placeholder": req.placeholder_id})
        return gen


class _Sessions:
    """Open every provider's shared session (one HTTP pool) for the run, close them after."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self._providers = list(providers)
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> "_Sessions":
        await self._stack.__aenter__()
        for p in self._providers:
            try:
                await self._stack.enter_async_context(p.session())
            except ShotFillError:
                pass   # no key etc.: each job reports it
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._stack.__aexit__(*exc)


__all__ = ["JobSpec", "Outcome", "RunSettings", "Runner", "provenance"]
