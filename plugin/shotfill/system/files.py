"""The one way ShotFill writes a file: beside it, checked, fsynced, renamed over it.

Every output (timeline, media, report, cache entry, launcher) goes through
:func:`atomic_path`, so an editor's folder never shows a half-written file and
a write that fails (a full disk, a read-only folder) leaves the earlier file
exactly as it was and says so.

The temporary sibling is named by :func:`shotfill.partials.partial_name`: the
same folder (so the rename is atomic), the same suffix (so writers that choose
a format by suffix still do), and the writer's host and pid (so a later run can
tell a dead run's leftovers from a live one's and sweep them).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Iterator

from shotfill.errors import WriteError
from shotfill.system.partials import partial_name as partial_name   # re-exported: part of this helper's interface

_HINTS = {
    errno.ENOSPC: "free some space on that disk (or write elsewhere) and run the same command again",
    errno.EDQUOT: "free some space in your quota (or write elsewhere) and run the same command again",
    errno.EROFS: "the disk is read-only: choose a writable folder",
    errno.EACCES: "you may not write there: choose a writable folder or fix its permissions",
    errno.EPERM: "you may not write there: choose a writable folder or fix its permissions",
    errno.ENOTDIR: "a file stands where a folder is needed: move it away or choose another path",
    errno.EISDIR: "a folder stands where the file should go: choose another name",
}


def write_failed(path: Path, exc: OSError) -> WriteError:
    """The editor's message for an OSError while writing ``path``."""
    reason = exc.strerror or type(exc).__name__
    return WriteError(f"{path}: could not be written ({reason}); any earlier file there is unchanged",
                      hint=_HINTS.get(exc.errno or 0, "check the folder is writable and has space, then run again"))


def make_dirs(folder: Path) -> Path:
    """``mkdir -p`` with the editor's message when it cannot be done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise write_failed(folder, OSError(errno.ENOTDIR, "a file stands where this folder should be")) from exc
    except OSError as exc:
        raise write_failed(folder, exc) from None
    return folder


@contextlib.contextmanager
def atomic_path(dst: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of ``dst`` to write; it replaces ``dst`` only if the block succeeds.

    After the block the file must exist; it is fsynced, renamed over ``dst``
    and the folder fsynced, so a power cut leaves the old file or the new one.
    Mode is the ordinary one (umask), not ``mkstemp``'s 0600, which would
    survive the rename and hide media from the other users of a shared folder.
    """
    dst = Path(dst)
    make_dirs(dst.parent)
    if dst.is_dir():
        raise write_failed(dst, OSError(errno.EISDIR, "a folder has that name"))
    tmp = partial_name(dst)
    try:
        yield tmp
        if not tmp.is_file():
            raise WriteError(f"{dst}: the writer produced no file; any earlier file there is unchanged",
                             hint="this is a bug in ShotFill or its writer; please report it")
        commit(tmp, dst)
    except OSError as exc:
        raise write_failed(dst, exc) from None
    finally:
        with contextlib.suppress(OSError):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


def commit(tmp: Path, dst: Path) -> None:
    """Make a finished partial file (from :func:`partial_name`) durable and put it in place.

    For writers that manage their own partial file (a download retried in
    place); everyone else uses :func:`atomic_path`, which calls this.
    """
    _fsync(tmp)
    os.replace(tmp, dst)
    _fsync_dir(dst.parent)


def write_bytes(dst: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(dst) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(dst)


def write_text(dst: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", newline: str = "") -> Path:
    """Write ``text`` exactly (``newline=""``: line endings as given)."""
    with atomic_path(dst) as tmp:
        with open(tmp, "w", encoding=encoding, newline=newline) as fh:
            fh.write(text)
    return Path(dst)


def file_sha256(path: Path) -> str:
    """The checksum a written file is known by (cache entries, journaled downloads)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a folder.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
