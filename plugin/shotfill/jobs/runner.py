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
from typing import Any, Iterable, Literal, Optional

from shotfill import __version__
from shotfill.config import Settings
from shotfill.errors import MediaError, ProviderError, ShotFillError, UsageError, WriteError
from shotfill.events import EventSink, Stage
from shotfill.jobs.cache import MediaCache
from shotfill.system.files import os_failure, write_failed
from shotfill.jobs import conform_task, segments, takes
from shotfill.jobs.executor import Executor, make_executor
from shotfill.jobs.journal import JobRecord, Journal
from shotfill.media import match
from shotfill.media.credentials import Claim, Signing
from shotfill.media.probe import probe
from shotfill.model import (Codec, ConformTarget, Fit, GeneratedMedia, GenerationRequest, JobSpec, Outcome,
                            TimelineInfo)
from shotfill.plan import handles
from shotfill.plan.requests import PlanSettings, plan_request, preview_request
from shotfill.plan.segments import plan_segments
from shotfill.providers import get_provider
from shotfill.providers.base import JobHandle, Provider, ProviderContext
from shotfill.system import partials
from shotfill.system.files import file_sha256
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
    #: takes per placeholder (``--takes``) where its note does not say; None: the config's
    takes: Optional[int] = None
    #: handle frames a side (``--handles``) where its note does not say; None: the config's
    handles: Optional[int] = None
    #: ``--match on|off`` (a note's ``match=`` wins, then this, then shotfill.toml's ``match``)
    match: Optional[Literal["on", "off"]] = None
    #: make each clip's report thumbnails with its media work (where it runs: a Dask worker, maybe)
    stills: bool = False
    #: ``--audio``: ask models that make sound for it (a note's ``audio=on|off`` wins)
    audio: bool = False


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
        **({"handles": req.handles} if req.handles else {}),   # frames of the file before and after the hole
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
        #: [c2pa] content credentials: checked here, before anything is generated or opened
        self.signing = Signing(settings.config.c2pa) if settings.config.c2pa is not None else None
        self.journal = Journal(state_dir / "journal.sqlite")
        self.cache = MediaCache(state_dir / "cache")
        self.ctx = ProviderContext(settings=settings.config, journal=self.journal, on_event=on_event)
        self.providers: dict[str, Provider] = {}
        #: request hash -> the one task making its media in this run
        self._making: dict[str, asyncio.Future[GeneratedMedia]] = {}
        #: files that could not be written (a full or read-only disk): the caller writes no timeline then
        self.write_errors: list[WriteError] = []

    def provider(self, name: str) -> Provider:
        if name not in self.providers:
            self.providers[name] = get_provider(name, self.ctx)
        return self.providers[name]

    async def run(self, specs: list[JobSpec]) -> list[Outcome]:
        """One outcome per spec; a placeholder with several takes runs one job per take (:mod:`.takes`)."""
        jobs = takes.expand(specs, self.settings.takes or self.settings.config.takes)
        return takes.merge(specs, await self._run(jobs))

    async def _run(self, specs: list[JobSpec]) -> list[Outcome]:
        # What a killed earlier run was writing would otherwise stay forever (hidden, maybe gigabytes).
        partials.sweep({s.media_dir for s in specs})
        partials.sweep([self.state_dir], depth=partials.STATE_DEPTH)
        cores = os.cpu_count() or 2
        # Many clips: one ffmpeg thread each, one per core; few clips: more threads each.
        threads = max(1, cores // max(1, min(cores, len(specs))))
        limits = {name: ps.concurrency for name, ps in self.settings.config.providers.items()}
        limits.setdefault("local", max(1, cores // threads))
        executor = make_executor(self.settings.config.executor, shared=[self.state_dir, *{s.media_dir for s in specs}],
                                 needed=_neighbour_media(specs), limits=limits,
                                 total_limit=max(1, self.settings.concurrency), cpu_slots=max(1, cores // threads),
                                 threads_per_job=threads)
        self.ctx.cpu_threads = threads
        self.ctx.offload = executor.cpu   # the offline generator renders where conforms run
        try:
            if self._offline_only(specs):
                # Nothing is paid or sent, so nothing must wait until every plan is known (a budget, or a
                # bad note found in the last plan before the first submit): each placeholder goes on to
                # its render as soon as its own plan is made, overlapping the other holes' frame grabs.
                async with _Sessions(self.providers.values()):
                    return list(await asyncio.gather(*(self._planned_media(executor, s, threads) for s in specs)))
            outcomes = list(await asyncio.gather(*(self._plan(executor, s) for s in specs)))
            self._budget(outcomes)
            async with _Sessions(self.providers.values()):
                return list(await asyncio.gather(*(self._media(executor, o, threads) for o in outcomes)))
        finally:
            executor.close()
            self.journal.close()

    # -- 1. plan ---------------------------------------------------------------------------

    def _offline_only(self, specs: list[JobSpec]) -> bool:
        """Every placeholder's clip is made on this machine, at no cost, and no budget is set."""
        if self.settings.max_cost is not None:
            return False
        try:
            return all(self.provider(preview_request(s.placeholder, self._plan_settings(s), s.take).provider).offline
                       for s in specs)
        except ShotFillError:   # an unknown provider: its own plan reports it
            return False

    def _plan_settings(self, spec: JobSpec) -> PlanSettings:
        info = spec.info
        return PlanSettings(width=info.width or 0, height=info.height or 0,
                            provider=self.settings.provider or self.settings.config.default_provider,
                            model=self.settings.model, references=tuple(self.settings.config.references),
                            audio=self.settings.audio)

    async def _planned_media(self, executor: Executor, spec: JobSpec, threads: int) -> Outcome:
        return await self._media(executor, await self._plan(executor, spec), threads)

    async def _plan(self, executor: Executor, spec: JobSpec) -> Outcome:
        ph, info = spec.placeholder, spec.info
        out = Outcome(spec, "queued")
        t0 = time.monotonic()
        try:
            self.emit(spec.key, Stage.PLAN, ph.prompt)
            ps = self._plan_settings(spec)
            frames_dir = self.state_dir / "frames" / _timeline_dir(info)
            hole = preview_request(ph, ps, spec.take)   # no frame read: enough to know what length the model makes
            out.handles = handles.fit(hole, handles.asked(ph, self.settings.handles, self.settings.config.handles),
                                      self.provider(hole.provider).plan)
            out.warnings += [out.handles.note] if out.handles and out.handles.note else []
            req = await executor.short(plan_request, ph, ps, frames_dir, spec.take,
                                       out.handles.made if out.handles else 0)
            out.request, out.before_frame, out.after_frame = req, req.first_frame, req.last_frame
            plan = self.provider(req.provider).plan(req)
            out.estimated_cost = plan.estimated_cost
            # Longer than the model's longest clip: in segments where it can continue one (else refused here).
            segs = plan_segments(self.provider(req.provider), req, plan)
            if segs is not None:
                out.segments, out.estimated_cost = segs.rows(), segs.estimated_cost
                segments.survey(out, self._already_paid)
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
        counted: set[str] = set()
        for o in outcomes:
            if o.status != "queued" or o.request is None:
                continue
            if o.segments:
                cost = segments.unpaid_cost(o)   # every segment not paid before this run, or none at all
                if cost == 0:
                    continue
            elif self._already_paid(o.request) or o.request.request_hash in counted:
                continue   # paid already, or a look-alike of a hole counted above: one job serves both
            else:
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
                counted.add(o.request.request_hash)
                continue
            segments.skipped(o)
            self.emit(o.spec.key, Stage.SKIPPED, o.error or "")

    # -- 3 + 4. media and conform ----------------------------------------------------------

    async def _media(self, executor: Executor, out: Outcome, threads: int) -> Outcome:
        if out.status != "queued":
            return out
        spec, req = out.spec, out.request
        assert req is not None
        t0 = time.monotonic()
        try:
            made: list[GeneratedMedia] = []
            if out.segments:   # one after the other: each starts on the last frame of the one before
                made = await segments.generate(
                    out, lambda r: self._generated(executor, spec, r), executor.cpu,
                    self.state_dir / "frames" / _timeline_dir(spec.info), lambda t: self.emit(spec.key, Stage.GENERATE, t))
            gen = made[0] if made else await self._generated(executor, spec, req)
            out.timings["generate"] = time.monotonic() - t0
            t1 = time.monotonic()
            ph, info = spec.placeholder, spec.info
            assert info.width is not None and info.height is not None   # loading settled the size
            # With handles the file is the hole plus req.handles frames each side, its timecode that many earlier.
            target = ConformTarget(width=info.width, height=info.height, rate=ph.rate,
                                   frames=ph.duration + 2 * req.handles, timecode=req.timecode,
                                   codec=self.settings.codec, fit=ph.options.fit or Fit.FILL,
                                   audio=req.audio)
            shown = (out.handles.made, ph.duration) if out.handles and out.handles.made else None
            take = f"_take{spec.take}" if spec.take > 1 else ""
            claim = (Claim(provider=gen.provider, model=gen.model, seed=req.seed, request_hash=req.request_hash,
                           prompt=req.prompt) if self.signing is not None else None)
            job = conform_task.ConformJob(
                clip=Path(gen.path), parts=segments.parts(out, made) if made else None, target=target,
                media_dir=spec.media_dir, stem=f"{media_stem(Path(info.path).stem)}_{ph.id}{take}",
                request_hash=req.request_hash, segment_hashes=tuple(s.request_hash for s in out.segments),
                threads=threads, neighbours=(req.first_frame, req.last_frame), looks_dir=self.state_dir / "looks",
                choice=ph.options.match or self.settings.match or self.settings.config.match, provider=req.provider,
                # the match looks at the hole, not the handles
                span=match.hole_span(req.handles, ph.duration, ph.rate), signing=self.signing, claim=claim,
                stills_dir=self.state_dir / "stills" if self.settings.stills else None, shown=shown)
            self.emit(spec.key, Stage.CONFORM, Path(gen.path).name)
            done = await executor.cpu(conform_task.run, job)
            dst = done.media
            out.warnings += done.warnings
            out.audio = (done.result.audio is not None) if req.audio else None
            out.audio_channels = done.result.audio.channels if done.result.audio else 0
            out.colour, out.stills = done.colour, done.stills
            out.worker = executor.worker()
            out.timings["conform"] = time.monotonic() - t1
            out.status, out.media, out.provenance = "filled", dst, provenance(req, gen)
            if out.segments:
                out.provenance["segments"] = segments.provenance(out)
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

    async def _generated(self, executor: Executor, spec: JobSpec, req: GenerationRequest) -> GeneratedMedia:
        """The request's media, made once per run: look-alike holes (one request hash) share one job.

        The first hole with a hash gets the media; the others wait for it and conform their own copy.
        """
        task = self._making.get(req.request_hash)
        if task is None:
            task = asyncio.ensure_future(self._make(executor, spec, req))
            self._making[req.request_hash] = task
        else:
            self.emit(spec.key, Stage.CACHED, f"same request as another placeholder: {req.request_hash[:12]}")
        # Shielded: one waiter cancelled must not cancel the job the others wait for.
        return await asyncio.shield(task)

    async def _make(self, executor: Executor, spec: JobSpec, req: GenerationRequest) -> GeneratedMedia:
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
            # Hashed off the event loop: a downloaded clip may be gigabytes.
            damaged = rec.state == "downloaded" and not await executor.cpu(_intact, rec)
            if rec.state == "downloaded" and not damaged:
                self.emit(spec.key, Stage.RESUMED, f"downloaded earlier: {rec.job_id}")
                gen = GeneratedMedia(request_hash=req.request_hash, path=str(rec.media_path),
                                     provider=rec.provider, model=rec.model, job_id=rec.job_id)
            elif rec.state in ("submitted", "downloaded") and rec.job_id:
                self.emit(spec.key, Stage.RESUMED, rec.job_id if not damaged
                          else f"{rec.job_id}: the clip kept from it is missing or damaged; fetching it again")
                handle = JobHandle(job_id=rec.job_id, data=rec.data)
                try:
                    started = await executor.io(req.provider, lambda: provider.resume_wait(req, handle, rec.model))
                    gen = await provider.collect(req, started, workdir)
                except ProviderError as exc:
                    if not damaged:
                        raise
                    # The job is paid for: keep its row "downloaded" (not "failed"), so no later run
                    # takes the failure as leave to pay for it again without --resubmit.
                    self.journal.downloaded(req.request_hash, rec.provider, str(rec.media_path), sha256=rec.sha256)
                    if not self.settings.resubmit:
                        raise _damaged(rec, f"{req.provider} no longer gives it ({exc.message})") from None
            elif rec.state == "downloaded" and not self.settings.resubmit:
                raise _damaged(rec, "there is no job id to fetch it again by")
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


def _neighbour_media(specs: Iterable[JobSpec]) -> list[Path]:
    """The neighbours' media files the plan reads frames from (what exists here; workers must see it too)."""
    found: list[Path] = []
    for s in specs:
        for nb in (s.placeholder.before, s.placeholder.after):
            if nb is not None and nb.media_path and Path(nb.media_path).is_file():
                found.append(Path(nb.media_path))
    return found


def _intact(rec: JobRecord) -> bool:
    """The journal's downloaded file is there, has the bytes it had when it landed, and is a video."""
    path = rec.media_path
    if not path or not Path(path).is_file():
        return False
    try:
        if rec.sha256 is not None and file_sha256(Path(path)) != rec.sha256:
            return False
    except OSError:
        return False
    return _usable(path)


def _damaged(rec: JobRecord, why: str) -> MediaError:
    return MediaError(
        f"{rec.media_path}: the clip downloaded for job {rec.job_id or '(no id)'} is missing or damaged (its bytes "
        f"differ from the checksum recorded when it was downloaded), and {why}; it was not placed, and nothing "
        "was generated again, so it is not paid twice",
        hint="run again with --resubmit to generate it anew (a new job, paid again)")


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
