"""Where the stages run: the one seam between the pipeline and how work is scheduled.

The pipeline hands the executor *stage tasks* (plain functions or coroutines
of the stages) and gets their results back; it never starts threads or
processes itself.  :class:`LocalExecutor` runs provider jobs as asyncio tasks
and CPU work (ffmpeg conforms, frame grabs) in a thread pool sized to the
machine, so a distributed executor (e.g. on Dask) can replace it without
touching the stages.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Protocol, Sequence, TypeVar

from shotfill.config import ExecutorSettings
from shotfill.jobs.limits import ServiceLimits
from shotfill.system import children

T = TypeVar("T")


class Executor(Protocol):
    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a CPU-bound stage (conform, frame extraction) and return its result."""
        ...

    async def short(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a short stage that spends much of its time waiting (a frame grab: an ffprobe, a process
        start, one GOP's decode) beside the :meth:`cpu` stages, not queued behind every render."""
        ...

    async def io(self, key: str, coro_fn: Callable[[], Awaitable[T]]) -> T:
        """Run an I/O-bound stage (a provider job) under the limit named ``key``."""
        ...

    def worker(self) -> Optional[str]:
        """Who ran the calling task's last :meth:`cpu` stage (a Dask worker's address), None for this process."""
        ...

    def close(self) -> None: ...


def conform_slots(cores: Optional[int] = None, threads_per_job: int = 2) -> int:
    """How many ffmpeg runs at once: cores divided by the threads each gets, at least one."""
    cores = cores or os.cpu_count() or 2
    return max(1, cores // max(1, threads_per_job))


class LocalExecutor(ServiceLimits):
    """asyncio for waiting on services, a bounded thread pool for ffmpeg."""

    def __init__(self, limits: Optional[dict[str, int]] = None, *, default_limit: int = 2,
                 total_limit: Optional[int] = None, cpu_slots: Optional[int] = None,
                 threads_per_job: int = 2) -> None:
        super().__init__(limits, default_limit=default_limit, total_limit=total_limit)
        self.threads_per_job = threads_per_job
        slots = cpu_slots or conform_slots(threads_per_job=threads_per_job)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="shotfill-cpu")
        # As many again for short stages: a grab's ffmpeg idles between its probe, its start and its
        # seek, which a render's core would otherwise wait through (measured: frame grabs of four 1080p
        # holes queued with the renders kept both cores half idle for a second before the first render).
        self._short = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="shotfill-short")

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def short(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._short, lambda: fn(*args, **kwargs))

    def worker(self) -> Optional[str]:
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._short.shutdown(wait=False, cancel_futures=True)
        children.kill_all_if_interrupted()



def make_executor(settings: ExecutorSettings, *, shared: Sequence[Path], needed: Sequence[Path],
                  limits: dict[str, int], total_limit: int, cpu_slots: int, threads_per_job: int) -> Executor:
    """The executor ``[executor]`` / ``--executor`` asks for.

    ``shared``: the media and state folders every worker must see; ``needed``:
    files the workers read (the neighbours' media), checked before anything runs.
    """
    if settings.kind == "dask":
        from shotfill.jobs.dask_executor import DaskExecutor   # distributed is an extra: only loaded when asked

        return DaskExecutor(settings, shared=shared, needed=needed, limits=limits, total_limit=total_limit)
    return LocalExecutor(limits, total_limit=total_limit, cpu_slots=cpu_slots, threads_per_job=threads_per_job)
