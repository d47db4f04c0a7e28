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
from typing import Any, Awaitable, Callable, Optional, Protocol, TypeVar

from shotfill.system import children

T = TypeVar("T")


class Executor(Protocol):
    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a CPU-bound stage (conform, frame extraction) and return its result."""
        ...

    async def io(self, key: str, coro_fn: Callable[[], Awaitable[T]]) -> T:
        """Run an I/O-bound stage (a provider job) under the limit named ``key``."""
        ...

    def close(self) -> None: ...


def conform_slots(cores: Optional[int] = None, threads_per_job: int = 2) -> int:
    """How many ffmpeg runs at once: cores divided by the threads each gets, at least one."""
    cores = cores or os.cpu_count() or 2
    return max(1, cores // max(1, threads_per_job))


class LocalExecutor:
    """asyncio for waiting on services, a bounded thread pool for ffmpeg."""

    def __init__(self, limits: Optional[dict[str, int]] = None, *, default_limit: int = 2,
                 total_limit: Optional[int] = None, cpu_slots: Optional[int] = None,
                 threads_per_job: int = 2) -> None:
        self.threads_per_job = threads_per_job
        self._pool = ThreadPoolExecutor(max_workers=cpu_slots or conform_slots(threads_per_job=threads_per_job),
                                        thread_name_prefix="shotfill-cpu")
        self._limits = dict(limits or {})
        self._default = default_limit
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._total = asyncio.Semaphore(total_limit) if total_limit else None

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def io(self, key: str, coro_fn: Callable[[], Awaitable[T]]) -> T:
        sem = self._sems.get(key)
        if sem is None:
            sem = self._sems[key] = asyncio.Semaphore(self._limits.get(key, self._default))
        if self._total is None:
            async with sem:
                return await coro_fn()
        async with self._total, sem:
            return await coro_fn()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        if task is not None and task.cancelling():
            # Interrupted: asyncio.run and then the interpreter wait for the worker threads,
            # which wait for their ffmpeg; stop every ffmpeg now and start no more.
            children.kill_all()
