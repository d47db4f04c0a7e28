"""What every provider offers the pipeline, and the job lifecycle remote ones share.

A remote provider implements four small steps; :meth:`RemoteProvider.generate`
runs them in the one order that never loses a paid job::

    plan (pure) -> body (pure) -> journal "submitting" -> submit
        -> journal "submitted" (job id) -> poll until done (deadline)
        -> download (streamed, kept) -> journal "downloaded" -> ffprobe check

What each model allows is data (:mod:`shotfill.providers.catalog`, merged with
``shotfill.toml``); :func:`shotfill.providers.spec.plan_for` maps a placeholder
onto it in the model's own units.
"""

from __future__ import annotations

import abc
import base64
import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Literal, Optional

from pydantic import BaseModel

from shotfill.config import KEY_ENV, Settings
from shotfill.system.files import make_dirs
from shotfill.errors import (AuthError, DownloadError, JobFailed, JobTimedOut, MediaError, ProviderError,
                             Rejected, SubmitUncertain)
from shotfill.events import EventSink, Stage, no_events
from shotfill.system.files import file_sha256
from shotfill.model import GeneratedMedia, GenerationRequest
from shotfill.providers import catalog
from shotfill.providers.spec import (ModelSpec as ModelSpec, ServicePlan as ServicePlan, SizeStyle as SizeStyle,
                                     nearest_size as nearest_size, plan_for as plan_for, size_label as size_label)

# A provider's plan (what `shotfill scan` asks of it) needs none of these: its HTTP client
# (httpx), journal and media check are imported when a job runs (tests/test_startup.py).
if TYPE_CHECKING:
    import httpx

    from shotfill.jobs.journal import JobRecord, Journal
    from shotfill.providers._http import ServiceClient


async def _sleep(seconds: float) -> None:
    """``asyncio.sleep``; asyncio is imported when a provider first waits, not when a scan plans."""
    import asyncio
    await asyncio.sleep(seconds)


#: what an editor can do about a submit that may have reached the service without an answer
RESUBMIT_HINT = ("look for the job on the provider's dashboard: a later run finds it once the service lists it; "
                 "`--resubmit` sends the request again as a new job, which is paid for a second time if the "
                 "first one did arrive")


class JobHandle(BaseModel):
    """Enough to find a job again (resume): its id and the URLs the service gave."""

    job_id: str
    data: dict[str, Any] = {}


class JobStatus(BaseModel):
    state: Literal["queued", "running", "succeeded", "failed"]
    progress: Optional[float] = None     # 0..1
    output_url: Optional[str] = None
    error: Optional[str] = None
    #: seconds the service asks us to wait before the next poll
    poll_after: Optional[float] = None
    #: a word for the progress display when there is no percentage ("queued, 2 ahead")
    detail: Optional[str] = None
    data: dict[str, Any] = {}


def png_data_uri(path: str | Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


@dataclass
class ProviderContext:
    """What a provider is built with: settings, journal, progress; tests add a transport/sleep."""

    settings: Settings = field(default_factory=Settings)
    journal: Optional[Journal] = None
    on_event: EventSink = no_events
    transport: Optional[httpx.AsyncBaseTransport] = None
    sleep: Callable[[float], Any] = _sleep
    clock: Callable[[], float] = time.monotonic
    #: ffmpeg threads a local render may use (the run sizes it so renders do not oversubscribe the cores)
    cpu_threads: Optional[int] = None
    #: where a local render runs: the run's executor (``cpu(fn, *args)``, e.g. a Dask worker); None: a thread here
    offload: Optional[Callable[..., Awaitable[Any]]] = None


@dataclass
class Started:
    """A job the service has finished (successfully); what ``collect`` needs to fetch it."""

    handle: JobHandle
    status: JobStatus
    model: Optional[str]


class RequestPreview(BaseModel):
    """What ``fill --dry-run`` shows of one request: the plan and the body (images shortened, no secrets)."""

    plan: ServicePlan
    body: Any = None


class Provider(abc.ABC):
    """Everything the runner asks of a provider, in the order it asks.

    ``plan`` and ``request_preview`` are pure.  ``start`` is the part that
    holds a service slot (submit, then wait until the service is done);
    ``collect`` fetches and checks the result.  ``resume_wait`` picks up a job
    an earlier run submitted; ``find_lost`` looks for a submit that got no
    answer.  Errors are ProviderError/MediaError for that placeholder only.
    """

    name: str = ""
    #: the client sends its service's documented extend call (continue a clip); no client does yet, so
    #: long holes are made in segments by first frame only (shotfill.plan.segments)
    extends: bool = False
    #: the clip is made on this machine with nothing paid or sent (the offline generator), so a run need
    #: not know every placeholder's plan before it starts the first
    offline: bool = False

    @abc.abstractmethod
    def plan(self, request: GenerationRequest) -> ServicePlan:
        """How the request maps onto the model: duration, size, neighbours used, estimated cost."""

    @abc.abstractmethod
    def request_preview(self, request: GenerationRequest) -> RequestPreview:
        """What would be sent, for ``--dry-run``; sends nothing."""

    @abc.abstractmethod
    def session(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Resources shared by every job of a run (one HTTP connection pool)."""

    @abc.abstractmethod
    async def start(self, request: GenerationRequest, workdir: Path) -> Started:
        """Submit and wait until the service has finished the job."""

    @abc.abstractmethod
    async def resume_wait(self, request: GenerationRequest, handle: JobHandle, model: Optional[str]) -> Started:
        """Wait for a job an earlier run submitted (its id is in the journal)."""

    @abc.abstractmethod
    async def find_lost(self, request: GenerationRequest, workdir: Path,
                        record: JobRecord) -> Optional[GeneratedMedia]:
        """A submit that got no answer: its media once found; None only when nothing was sent anywhere."""

    @abc.abstractmethod
    async def collect(self, request: GenerationRequest, started: Started, workdir: Path) -> GeneratedMedia:
        """Download a finished job's result, keep it, and check it is a video."""

    async def generate(self, request: GenerationRequest, workdir: Path) -> GeneratedMedia:
        """``start`` then ``collect``: one clip, start to finish."""
        return await self.collect(request, await self.start(request, workdir), workdir)


class RemoteProvider(Provider):
    """Shared job lifecycle; subclasses fill in the service's own steps."""

    name = ""
    default_base_url = ""
    #: how sizes are sent to this service
    size_style: SizeStyle = "size"

    def __init__(self, ctx: Optional[ProviderContext] = None) -> None:
        self.ctx = ctx or ProviderContext()
        self.settings = self.ctx.settings.provider(self.name)
        self._shared: Optional[ServiceClient] = None

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """Share one HTTP client (one connection pool) across every job of a run."""
        async with self.client() as http:
            self._shared = http
            try:
                yield
            finally:
                self._shared = None

    @contextlib.asynccontextmanager
    async def _http(self) -> AsyncIterator[ServiceClient]:
        if self._shared is not None:
            yield self._shared
        else:
            async with self.client() as http:
                yield http

    # -- what subclasses provide ---------------------------------------------------------

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def build_body(self, req: GenerationRequest, plan: ServicePlan) -> Any:
        raise NotImplementedError

    async def submit(self, http: ServiceClient, req: GenerationRequest, plan: ServicePlan, body: Any) -> JobHandle:
        raise NotImplementedError

    async def poll(self, http: ServiceClient, handle: JobHandle) -> JobStatus:
        raise NotImplementedError

    async def recover(self, http: ServiceClient, req: GenerationRequest, plan: ServicePlan, since: float) -> Optional[JobHandle]:
        """Find a job whose submit got no answer, through the service's own listing.

        ``since`` is the wall-clock time (``time.time()``) just before the submit.
        Services without a listing return None and the job is left to the journal.
        """
        return None

    async def download(self, http: ServiceClient, handle: JobHandle, status: JobStatus, dest: Path) -> Path:
        assert status.output_url
        return await http.download(status.output_url, dest, max_bytes=self.settings.max_download_mb << 20)

    async def download_public(self, http: ServiceClient, handle: JobHandle, status: JobStatus, dest: Path, *,
                              stale_hint: Optional[str] = None) -> Path:
        """An output on a public signed link, fetched without the key.  When the link has expired,
        the job is read once more and the fresh link it gives is tried; when it gives none, the
        download error stands (with ``stale_hint`` as its hint, if given)."""
        assert status.output_url
        limit = self.settings.max_download_mb << 20
        try:
            return await http.download(status.output_url, dest, auth=False, max_bytes=limit)
        except DownloadError as exc:
            if not exc.expired:
                raise
            fresh = await self.poll(http, handle)
            if fresh.state != "succeeded" or not fresh.output_url or fresh.output_url == status.output_url:
                if stale_hint is None:
                    raise
                raise DownloadError(exc.message, hint=stale_hint, expired=True, status=exc.status) from None
        return await http.download(fresh.output_url, dest, auth=False, max_bytes=limit)

    # -- shared --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.ctx.settings.base_url(self.name, self.default_base_url)

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        """The models of the merged catalog (shipped and shotfill.toml), the default first."""
        rules = catalog.models_for(self.name, self.settings)
        default = catalog.default_model(self.name, self.settings)
        order = sorted(rules, key=lambda m: m != default)
        return tuple(self._configured(catalog.model_spec(self.name, m, rules[m], self.size_style)) for m in order)

    def default_model(self) -> Optional[str]:
        return catalog.default_model(self.name, self.settings)

    def spec(self, model: Optional[str]) -> ModelSpec:
        name = model or self.default_model()
        if not name:
            raise Rejected(f"{self.name}: no model is chosen, and {self.name} has no built-in one",
                           hint=f"declare the service's model under [providers.{self.name}.models.\"NAME\"] in "
                                f"shotfill.toml and choose it with model = \"NAME\" under [providers.{self.name}]")
        rules = catalog.models_for(self.name, self.settings).get(name)
        if rules is not None:
            return self._configured(catalog.model_spec(self.name, name, rules, self.size_style))
        gone = catalog.retired(self.name).get(name)
        if gone:
            current = ", ".join(m.name for m in self.models) or "none built in"
            raise Rejected(f"{self.name}: model '{name}' was shut down by the service on {gone}",
                           hint=f"choose a current one ({current}; `shotfill providers` lists them); where a "
                                f"gateway still serves it, declare it under [providers.{self.name}.models.\"{name}\"]")
        return self.custom_spec(name)

    def custom_spec(self, name: str) -> ModelSpec:
        """A model the catalog does not list: refused unless a subclass can describe it."""
        known = ", ".join(catalog.models_for(self.name, self.settings)) or "none built in"
        raise Rejected(f"{self.name}: unknown model '{name}'",
                       hint=f"choose one of: {known}; or declare it under [providers.{self.name}.models.\"{name}\"] "
                            "in shotfill.toml (durations, sizes, first_frame ...)")

    def _configured(self, m: ModelSpec) -> ModelSpec:
        if self.settings.durations:
            m = m.model_copy(update={"durations": tuple(sorted(float(d) for d in self.settings.durations)),
                                     "min_seconds": None, "max_seconds": None, "step": None})
        return m

    def audio_models(self) -> tuple[str, ...]:
        """The models of the merged catalog that make sound (``audio = true``)."""
        return tuple(m.name for m in self.models if m.audio)

    def plan(self, req: GenerationRequest) -> ServicePlan:
        return plan_for(self.name, self.spec(req.model), req, self.settings, self.audio_models())

    def request_preview(self, req: GenerationRequest) -> RequestPreview:
        """The body that would be sent, with images shortened (no secrets in bodies)."""
        plan = self.plan(req)
        return RequestPreview(plan=plan, body=_elide(self.build_body(req, plan)) if not plan.refused else None)

    def api_key(self) -> Optional[str]:
        return self.ctx.settings.api_key(self.name)

    def client(self) -> ServiceClient:
        from shotfill.providers._http import ServiceClient   # see the imports above
        key = self.api_key()
        env = KEY_ENV.get(self.name)
        if env and not key:
            raise AuthError(f"{self.name}: no API key", hint=f"set {env} in the environment or "
                            f"api_key under [providers.{self.name}] in shotfill.toml")
        return ServiceClient(provider=self.name, base_url=self.base_url,
                             base_url_source=self.ctx.settings.base_url_with_source(self.name, self.default_base_url)[1],
                             auth_headers=self.auth_headers(key) if key else {},
                             extra_headers=self.extra_headers(), transport=self.ctx.transport,
                             sleep=self.ctx.sleep)

    def extra_headers(self) -> dict[str, str]:
        return {}

    async def prepare_request(self, request: GenerationRequest, plan: ServicePlan, workdir: Path) -> GenerationRequest:
        """A chance to adapt the neighbour frames (size, weight) before the body is built."""
        return request

    async def start(self, request: GenerationRequest, workdir: Path) -> "Started":
        """Submit and wait until the service has finished the job (the part that holds a service slot)."""
        pid, emit, journal = request.placeholder_id, self.ctx.on_event, self.ctx.journal
        plan = self.plan(request)
        if plan.refused:
            raise Rejected(f"{self.name}: {plan.refused}")
        make_dirs(workdir)
        request = await self.prepare_request(request, plan, workdir)
        body = self.build_body(request, plan)
        async with self._http() as http:
            if journal:
                journal.submitting(request.request_hash, self.name, plan.model, plan.estimated_cost)
            emit(pid, Stage.SUBMIT, f"{self.name} {plan.model} {plan.seconds:g}s {plan.size_label}")
            since = time.time()
            try:
                handle = await self.submit(http, request, plan, body)
            except SubmitUncertain as exc:
                found = None
                try:
                    found = await self.recover(http, request, plan, since)
                except ProviderError:
                    found = None
                if found is None:
                    if journal:
                        journal.uncertain(request.request_hash, self.name, str(exc))
                    # A later run looks in the listing again (it may lag); the hint says what else can be done.
                    raise SubmitUncertain(exc.message, hint=RESUBMIT_HINT) from None
                emit(pid, Stage.RECOVERED, found.job_id)
                handle = found
            except ProviderError as exc:
                if journal:
                    journal.failed(request.request_hash, self.name, str(exc))
                raise
            if journal:
                journal.submitted(request.request_hash, self.name, handle.job_id, handle.data)
            emit(pid, Stage.SUBMITTED, handle.job_id)
            return await self._waited(http, request, handle, plan.model)

    async def _waited(self, http: ServiceClient, request: GenerationRequest, handle: JobHandle,
                      model: Optional[str]) -> "Started":
        try:
            status = await self.wait(http, handle, request.placeholder_id)
        except (JobFailed, Rejected, AuthError) as exc:
            if self.ctx.journal:
                self.ctx.journal.failed(request.request_hash, self.name, str(exc))
            raise
        return Started(handle=handle, status=status, model=model)

    async def resume_wait(self, request: GenerationRequest, handle: JobHandle, model: Optional[str]) -> "Started":
        """Wait for a job an earlier run submitted (its id is in the journal)."""
        async with self._http() as http:
            return await self._waited(http, request, handle, model)

    async def collect(self, request: GenerationRequest, started: "Started", workdir: Path) -> GeneratedMedia:
        """Download a finished job's result, keep it, and check it is a video (no service slot needed)."""
        async with self._http() as http:
            return await self._collect(http, request, started, workdir)

    @property
    def can_list(self) -> bool:
        """True when the client can search the service's jobs (it implements :meth:`recover`)."""
        return type(self).recover is not RemoteProvider.recover

    async def find_lost(self, request: GenerationRequest, workdir: Path,
                        record: JobRecord) -> Optional[GeneratedMedia]:
        """A submit that may have gone out without an answer (or before a crash): find it, never resend it.

        "Not in the listing yet" proves nothing: listings lag, and a slow create lands seconds
        after its connection was lost.  So the listing is read again for ``recover_wait``
        seconds; a submit still not found stays uncertain (SubmitUncertain) until it shows up
        on a later run or the user passes --resubmit.
        """
        journal = self.ctx.journal
        async with self._http() as http:
            plan = self.plan(request)
            # The journal row's time is when the submit was about to go out.
            stamp = float(record.updated_at or 0)
            since = (stamp if stamp > 0 else time.time() - 3600) - 60
            found = await self._look_again(http, request, plan, since)
            self.ctx.on_event(request.placeholder_id, Stage.RECOVERED, found.job_id)
            if journal:
                journal.submitted(request.request_hash, self.name, found.job_id, found.data)
            return await self.finish(http, request, found, workdir, plan.model)

    async def _look_again(self, http: ServiceClient, request: GenerationRequest, plan: ServicePlan,
                          since: float) -> JobHandle:
        """The lost submit's job from the service's listing, read until ``recover_wait`` has passed."""
        uncertain = (f"{self.name}: an earlier run's submit for this placeholder is uncertain: it may have "
                     "reached the service without an answer")
        if not self.can_list:
            raise SubmitUncertain(f"{uncertain}, and {self.name} offers no job listing to look it up in; "
                                  "nothing was sent again, so it cannot be paid twice", hint=RESUBMIT_HINT)
        wait = self.settings.recover_wait
        step = min(max(self.settings.poll_interval, 1.0), 10.0)
        deadline = self.ctx.clock() + wait
        # Bounded by count as well as by the clock, so a clock that stands still cannot spin.
        for _ in range(int(wait // step) + 2):
            try:
                found = await self.recover(http, request, plan, since)
            except AuthError:
                raise
            except ProviderError as exc:
                # e.g. a gateway that answers 404 to the listing: the note's options are not the
                # problem, so the service's own hint would send the editor the wrong way.
                raise SubmitUncertain(
                    f"{uncertain}, and its job listing cannot be read to find it ({exc.message}); "
                    "nothing was sent again, so it cannot be paid twice", hint=RESUBMIT_HINT) from None
            if found is not None:
                return found
            if self.ctx.clock() + step > deadline:
                break
            await self.ctx.sleep(step)
        raise SubmitUncertain(f"{uncertain}, and it is not in the service's job listing after {wait:g} s of "
                              "looking; nothing was sent again, so it cannot be paid twice", hint=RESUBMIT_HINT)

    async def finish(self, http: ServiceClient, request: GenerationRequest, handle: JobHandle, workdir: Path,
                     model: Optional[str]) -> GeneratedMedia:
        """Poll a submitted job to the end, download and check it (also used to resume)."""
        started = await self._waited(http, request, handle, model)
        return await self._collect(http, request, started, workdir)

    async def _collect(self, http: ServiceClient, request: GenerationRequest, started: "Started",
                       workdir: Path) -> GeneratedMedia:
        pid, emit, journal = request.placeholder_id, self.ctx.on_event, self.ctx.journal
        handle = started.handle
        try:
            dest = workdir / f"{self.name}_{request.request_hash[:16]}.mp4"
            emit(pid, Stage.DOWNLOAD, handle.job_id)
            path = await self.download(http, handle, started.status, dest)
        except (JobFailed, Rejected, AuthError) as exc:
            if journal:
                journal.failed(request.request_hash, self.name, str(exc))
            raise
        if journal:
            # The checksum of the bytes as they landed: a later run places them only if they still match.
            import asyncio   # see the imports above

            from shotfill.media.probe import probe
            digest = await asyncio.to_thread(file_sha256, path)
            journal.downloaded(request.request_hash, self.name, str(path), sha256=digest)
        try:
            info = await asyncio.to_thread(probe, path)
        except MediaError as exc:
            raise MediaError(f"{self.name}: the downloaded result for job {handle.job_id} is not a readable "
                             f"video ({exc.message}); it is kept at {path}") from None
        # What the service made (a model that picks its own rate says so only here).
        return GeneratedMedia(request_hash=request.request_hash, path=str(path), provider=self.name,
                              model=started.model, job_id=handle.job_id, fps=info.rate, frames=info.frames)

    async def wait(self, http: ServiceClient, handle: JobHandle, pid: str) -> JobStatus:
        """Poll until the job ends or the deadline passes."""
        deadline = self.ctx.clock() + self.settings.timeout
        interval = self.settings.poll_interval
        while True:
            status = await self.poll(http, handle)
            if status.state == "succeeded":
                return status
            if status.state == "failed":
                raise JobFailed(f"{self.name}: job {handle.job_id} failed: {status.error or 'no reason given'}")
            pct = (f"{status.progress * 100:.0f}%" if status.progress is not None
                   else status.detail or status.state)
            self.ctx.on_event(pid, Stage.PROGRESS, pct)
            delay = interval if status.poll_after is None else _poll_hint(status.poll_after, interval)
            if self.ctx.clock() + delay > deadline:
                raise JobTimedOut(f"{self.name}: job {handle.job_id} still {status.state} after "
                                  f"{self.settings.timeout:g} s", hint="run again later to pick it up: the job id "
                                  "is in the journal; or raise `timeout` for this provider in shotfill.toml")
            await self.ctx.sleep(delay)


def _poll_hint(hint: float, interval: float) -> float:
    """A service's poll-after hint, within reason: 0, negative or nan would poll flat out."""
    return min(max(hint, 1.0), 300.0) if math.isfinite(hint) else interval


def _elide(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _elide(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_elide(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("data:") and len(obj) > 80:
        return f"{obj[:30]}... ({len(obj) * 3 // 4 // 1024} KB)"
    if isinstance(obj, bytes):
        return f"<{len(obj) // 1024} KB of data>"
    return obj
