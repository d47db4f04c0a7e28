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

from shotfill.errors import FFmpegError, WriteError
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


#: What ffmpeg (and SQLite) print for the errors above: a child process reports them only as text.
_MESSAGES = {
    "no space left on device": errno.ENOSPC,
    "disk is full": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "read-only file system": errno.EROFS,
    "readonly database": errno.EROFS,
}

#: Below this much free space a failed write is taken to be the full disk's doing.
NEARLY_FULL = 1 << 20


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__) + (": the disk is full" if exc.errno == errno.ENOSPC else "")


def _hint(exc: OSError) -> str:
    return _HINTS.get(exc.errno or 0, "check the folder is writable and has space, then run again")


def write_failed(path: Path, exc: OSError) -> WriteError:
    """The editor's message for an OSError while writing ``path``."""
    return WriteError(f"{path}: could not be written ({_reason(exc)}); any earlier file there is unchanged",
                      hint=_hint(exc))


def os_failure(exc: OSError) -> WriteError:
    """The editor's message for an OSError nothing more specific caught (the command line's last net)."""
    where = f"{exc.filename}: " if exc.filename else ""
    return WriteError(f"{where}{_reason(exc)}; files written before this are whole, none was left half-written",
                      hint=_hint(exc))


def disk_errno(text: str) -> int | None:
    """The errno a tool's message reports for a full or read-only disk (ffmpeg says it only in words)."""
    low = text.lower()
    return next((code for words, code in _MESSAGES.items() if words in low), None)


def folder_errno(folder: Path) -> int | None:
    """Why nothing can be written in ``folder`` (full, read-only, not allowed), or None when it looks fine.

    For writers that fail without saying why (OTIO's JSON writer returns
    False, SQLite says "disk I/O error" when its WAL cannot grow).
    """
    try:
        st = os.statvfs(folder)
        read_only = st.f_flag & os.ST_RDONLY
    except (OSError, AttributeError):   # no statvfs on Windows
        return None
    if read_only:
        return errno.EROFS
    if st.f_bavail * st.f_frsize < NEARLY_FULL:
        return errno.ENOSPC
    if not os.access(folder, os.W_OK):
        return errno.EACCES
    return None


def os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def make_dirs(folder: Path) -> Path:
    """``mkdir -p`` with the editor's message when it cannot be done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if isinstance(exc, FileExistsError):
            exc = OSError(errno.ENOTDIR, "a file stands where this folder should be")
        raise WriteError(f"{folder}: the folder could not be made ({_reason(exc)})", hint=_hint(exc)) from None
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
    try:
        make_dirs(dst.parent)
    except WriteError as exc:
        raise WriteError(f"{dst}: could not be written: {exc.message}", hint=exc.hint) from None
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
    except FFmpegError as exc:
        # ffmpeg exits 1 with "No space left on device" in its stderr: say it is the disk, not ffmpeg.
        code = disk_errno(exc.stderr)
        if code is None:
            raise
        raise write_failed(dst, os_error(code)) from None
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
