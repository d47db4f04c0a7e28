"""Names for the partial files ShotFill writes before renaming them, and the sweep of dead writers' ones.

A partial file is a hidden sibling of its destination that carries its
writer's machine (a short hash of the host name) and process id:
``.clip.sfa1b2c3-12345-9f2c4ab1e07d.part.mov`` (the destination's suffix last,
because ffmpeg picks its muxer by it). A run that was killed (SIGKILL, a power
cut) leaves its partial files behind; the next run removes those whose writer
on this machine is no longer alive, and those left untouched for a day (a
shared media folder may hold another machine's live ones). Only names of
this exact shape are touched, so nothing else in a media folder ever is.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

_PATTERN = re.compile(r"^\..+\.sf([0-9a-f]{6})-(\d+)-[0-9a-f]{12}\.part(\.[^.]*)?$")
_HOST = hashlib.sha1(platform.node().encode("utf-8", "replace")).hexdigest()[:6]
#: a partial file untouched this long is stale whoever wrote it (writers append all the time)
STALE_AFTER = 24 * 3600

#: how deep below the state folder the sweep looks (it keeps cache/, generated/, frames/<timeline>/)
STATE_DEPTH = 3


def partial_name(dst: str | os.PathLike[str]) -> Path:
    """A fresh partial-file path beside ``dst``, owned by this process."""
    dst = Path(dst)
    return dst.parent / f".{dst.stem}.sf{_HOST}-{os.getpid()}-{secrets.token_hex(6)}.part{dst.suffix}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True     # someone else's live process: keep its files
    return True


def sweep(folders: Iterable[str | os.PathLike[str]], *, depth: int = 0) -> list[Path]:
    """Remove the partial files in ``folders`` (and ``depth`` levels below) whose writer is dead; returns them."""
    removed: list[Path] = []
    seen: set[Path] = set()
    for folder in folders:
        root = Path(folder)
        if root in seen or not root.is_dir():
            continue
        seen.add(root)
        _sweep(root, depth, removed)
    return removed


def _sweep(folder: Path, depth: int, removed: list[Path]) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if depth > 0:
                    _sweep(Path(entry.path), depth - 1, removed)
                continue
            m = _PATTERN.match(entry.name)
            if m is None or not entry.is_file(follow_symlinks=False):
                continue
            dead = m.group(1) == _HOST and not _alive(int(m.group(2)))
            if dead or time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue    # a folder we cannot clean is not a reason to stop the run
