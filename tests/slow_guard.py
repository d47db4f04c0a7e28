"""Holds the `slow` marker to its meaning: a test that is not marked starts no child process.

``pytest -m "not slow"`` is the quick subset, so a test that starts ffmpeg, ffprobe, Chromium or a
Python child without the marker would quietly make it slow.  Every ``subprocess.Popen`` (asyncio's
child processes go through it too) is noted while a test sets up, runs and tears down; an
unmarked test that started one fails at teardown, naming the programs.  The corpus is marked by
hand (its reads are ordinary file reads).
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

_spawned: list[str] = []
_allowed = 0


def _program(args: Any) -> str:
    first = args if isinstance(args, (str, bytes, os.PathLike)) else next(iter(args), "?")
    return Path(os.fsdecode(first).split()[0] if isinstance(first, (str, bytes)) else first).name


_init = subprocess.Popen.__init__


@functools.wraps(_init)
def _noting_init(self: subprocess.Popen, args: Any, *rest: Any, **kw: Any) -> None:
    if not _allowed:
        _spawned.append(_program(args))
    _init(self, args, *rest, **kw)


subprocess.Popen.__init__ = _noting_init  # type: ignore[method-assign]


@contextlib.contextmanager
def allow_spawns() -> Iterator[None]:
    """For a session fixture every kind of test shares (built once, whichever test comes first)."""
    global _allowed
    _allowed += 1
    try:
        yield
    finally:
        _allowed -= 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    _spawned.clear()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Any) -> Any:
    result = yield
    programs, _spawned[:] = sorted(set(_spawned)), []
    if programs and item.get_closest_marker("slow") is None:
        pytest.fail(f"{item.nodeid} started {', '.join(programs)} but is not marked slow: add "
                    "@pytest.mark.slow (or a module's pytestmark) so that `pytest -m 'not slow'` stays quick",
                    pytrace=False)
    return result
