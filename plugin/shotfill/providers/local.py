"""The offline generator: no network, no model weights.

It exists so an editor can lock timing before paying for footage.  With the
neighbours' frames it renders a bridge from the last frame before the hole to
the first frame after it; without them, a slate card.  Both carry the prompt
and a running timecode, and are rendered straight at the timeline's size,
rate, length and codec, so conform has nothing left to do.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Optional

from shotfill.errors import ProviderError
from shotfill.system.files import make_dirs
from shotfill.model import Codec, ConformTarget, GeneratedMedia, GenerationRequest
from shotfill.providers.spec import audio_refusal
from shotfill.providers.base import (JobHandle, JobStatus, Provider, ProviderContext, RequestPreview, ServicePlan,
                                     Started)

if TYPE_CHECKING:
    from shotfill.jobs.journal import JobRecord


class LocalProvider(Provider):
    """Renders on this machine: nothing is paid, so nothing is journaled or resumed."""

    name = "local"
    offline = True
    model = "bridge-slate-1"
    description = "offline: a bridge between the neighbours' frames, or a slate card"

    def __init__(self, ctx: Optional[ProviderContext] = None, codec: Optional[Codec] = None) -> None:
        self.ctx = ctx or ProviderContext()
        self.codec = codec

    def plan(self, req: GenerationRequest) -> ServicePlan:
        """Any length, any size, both neighbours, free."""
        return ServicePlan(provider=self.name, model=self.model, seconds=float(req.frames / req.rate),
                           size=(req.width, req.height), size_label=f"{req.width}x{req.height}",
                           use_first=bool(req.first_frame), use_last=bool(req.last_frame), seed=req.seed,
                           negative=None, estimated_cost=0.0,
                           notes=[] if (req.first_frame or req.last_frame) else ["no neighbour media: a slate card"],
                           refused=audio_refusal(self.name, self.model, ()) if req.audio else None)

    def request_preview(self, req: GenerationRequest) -> RequestPreview:
        return RequestPreview(plan=self.plan(req), body=None)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        yield

    async def start(self, request: GenerationRequest, workdir: Path) -> Started:
        args = (request, workdir, self.codec or Codec.PRORES, self.ctx.cpu_threads)
        if self.ctx.offload is not None:
            gen: GeneratedMedia = await self.ctx.offload(render_offline, *args)
        else:
            import asyncio   # a render's own: a scan only asks this provider for its plan
            gen = await asyncio.to_thread(render_offline, *args)
        return Started(handle=JobHandle(job_id="", data={"path": gen.path}),
                       status=JobStatus(state="succeeded"), model=self.model)

    async def collect(self, request: GenerationRequest, started: Started, workdir: Path) -> GeneratedMedia:
        return GeneratedMedia(request_hash=request.request_hash, path=str(started.handle.data["path"]),
                              provider=self.name, model=self.model)

    async def resume_wait(self, request: GenerationRequest, handle: JobHandle, model: Optional[str]) -> Started:
        raise ProviderError("local: renders are not journaled, so there is no earlier job to resume",
                            hint="run again: the clip is rendered anew")

    async def find_lost(self, request: GenerationRequest, workdir: Path,
                        record: JobRecord) -> Optional[GeneratedMedia]:
        return None   # nothing was sent anywhere: rendering again cannot pay twice


def render_offline(request: GenerationRequest, workdir: Path, codec: Codec,
                   threads: Optional[int]) -> GeneratedMedia:
    """The bridge or slate for ``request``: a plain function of paths, so a Dask worker can run it."""
    from shotfill.media import synth   # the media stack: a render's own, not a scan's (it plans only)
    make_dirs(workdir)
    target = ConformTarget(width=request.width, height=request.height, rate=request.rate,
                           frames=request.frames, timecode=request.timecode, codec=codec)
    out = workdir / f"local_{request.request_hash[:16]}{target.codec.suffix}"
    first, last = request.first_frame, request.last_frame
    start = first or last
    if start:
        synth.render_bridge(Path(start), Path(last or start), target,
                            prompt=request.prompt, shot_label=request.shot_label,
                            seed=request.seed, out=out, threads=threads, take=request.take)
    else:
        synth.render_slate(target, prompt=request.prompt, shot_label=request.shot_label,
                           seed=request.seed, out=out, threads=threads, take=request.take)
    return GeneratedMedia(request_hash=request.request_hash, path=str(out),
                          provider=LocalProvider.name, model=LocalProvider.model)
