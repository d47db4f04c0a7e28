"""Limits on provider jobs at once, per provider and for the run: the same whichever executor runs the media."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Optional, TypeVar

T = TypeVar("T")


class ServiceLimits:
    """The provider-job limits every executor applies in this process: per provider, and for the run."""

    def __init__(self, limits: Optional[dict[str, int]] = None, *, default_limit: int = 2,
                 total_limit: Optional[int] = None) -> None:
        self._limits = dict(limits or {})
        self._default = default_limit
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._total = asyncio.Semaphore(total_limit) if total_limit else None

    async def io(self, key: str, coro_fn: Callable[[], Awaitable[T]]) -> T:
        sem = self._sems.get(key)
        if sem is None:
            sem = self._sems[key] = asyncio.Semaphore(self._limits.get(key, self._default))
        if self._total is None:
            async with sem:
                return await coro_fn()
        async with self._total, sem:
            return await coro_fn()
