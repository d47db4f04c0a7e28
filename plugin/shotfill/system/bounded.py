"""Reading the files an editor points ShotFill at, without letting one of them hang it or fill its memory.

Every timeline, marker file, config, snapshot and workflow read goes through
here. A path is followed through its symlinks and must end at a regular
file: a FIFO would block the read forever, a device (``/dev/zero``,
``/dev/random``) never ends, a folder is not a file. The file is opened
without blocking and checked again through its descriptor, so it cannot be
swapped for a FIFO in between, and the read stops at a size cap.

A zipped timeline (``.otioz``) is checked by its members' declared sizes and
compression ratios before anything inflates it: Python's zip reader never
inflates a member past its declared size, so a bomb is refused from its
directory alone.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import BinaryIO, Optional

from shotfill.errors import ShotFillError, TimelineError

MB = 1024 * 1024
#: largest text timeline, marker file or snapshot read
MAX_TIMELINE_BYTES = 256 * MB
#: largest shotfill.toml or workflow JSON read
MAX_CONFIG_BYTES = 4 * MB
#: a zip member that inflates more than this many times its stored size is refused (OTIO JSON packs ~10-30x)
MAX_ZIP_RATIO = 200
#: members smaller than this are never refused for their ratio (tiny files can pack very well)
_ZIP_RATIO_FLOOR = 4 * MB

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _kind(mode: int) -> Optional[str]:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str], *, shown: Optional[str] = None,
                 error: type[ShotFillError] = TimelineError) -> BinaryIO:
    """``path`` opened for reading in binary, after making sure it is a regular file.

    Raises ``error`` (a :class:`ShotFillError` class) naming ``shown`` for a
    missing file, a folder, a FIFO, a device or a socket; never blocks.
    """
    shown = str(path) if shown is None else shown
    real = os.path.realpath(path)
    via = f" ({real})" if os.path.normcase(real) != os.path.normcase(os.path.abspath(path)) else ""
    try:
        kind = _kind(os.stat(real).st_mode)
        if kind is None:
            fd = os.open(real, _OPEN_FLAGS)
            try:
                kind = _kind(os.fstat(fd).st_mode)     # swapped since the stat?
                if kind is None:
                    if hasattr(os, "set_blocking"):
                        os.set_blocking(fd, True)
                    return os.fdopen(fd, "rb")
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
    except FileNotFoundError:
        raise error(f"{shown}: no such file{via}", hint="check the path") from None
    except OSError as exc:
        raise error(f"{shown}: cannot be read ({exc.strerror or exc})",
                    hint="check the path and the file's permissions") from None
    raise error(f"{shown}: is {kind}{via}, not a file ShotFill can read",
                hint="give the path of the exported file itself")


def _too_large(shown: str, size: int, limit: int, what: str, error: type[ShotFillError]) -> ShotFillError:
    return error(f"{shown}: is {size / MB:.0f} MB, more than the {limit // MB} MB a {what} may be",
                 hint="check that this is the file you meant")


def read_bytes(path: str | os.PathLike[str], *, limit: int = MAX_TIMELINE_BYTES, what: str = "timeline",
               shown: Optional[str] = None, error: type[ShotFillError] = TimelineError) -> bytes:
    """The bytes of the regular file ``path``, refusing one larger than ``limit`` (see :func:`open_regular`)."""
    shown = str(path) if shown is None else shown
    with open_regular(path, shown=shown, error=error) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise _too_large(shown, size, limit, what, error)
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise error(f"{shown}: cannot be read ({exc.strerror or exc})",
                        hint="check the file and its disk") from None
    if len(data) > limit:     # it grew while we read
        raise _too_large(shown, len(data), limit, what, error)
    return data


def read_head(path: str | os.PathLike[str], size: int, *, shown: Optional[str] = None,
              error: type[ShotFillError] = TimelineError) -> bytes:
    """The first ``size`` bytes of the regular file ``path``."""
    with open_regular(path, shown=shown, error=error) as fh:
        return fh.read(size)


def check_zip(path: str | os.PathLike[str], *, shown: Optional[str] = None, limit: int = MAX_TIMELINE_BYTES,
              read_members: tuple[str, ...] = ("content.otio",)) -> None:
    """Refuse a zip whose ``read_members`` would inflate past ``limit``, or any member packed like a bomb."""
    shown = str(path) if shown is None else shown
    with open_regular(path, shown=shown) as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                infos = zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise TimelineError(f"{shown}: is not a readable zip archive ({exc})",
                                hint="export the .otioz again") from None
    for info in infos:
        packed = max(info.compress_size, 1)
        if info.filename in read_members and info.file_size > limit:
            raise TimelineError(
                f"{shown}: its member {info.filename} would inflate to {info.file_size / MB:.0f} MB, more than "
                f"the {limit // MB} MB a timeline may be", hint="check that this is the timeline you meant")
        if info.file_size >= _ZIP_RATIO_FLOOR and info.file_size / packed > MAX_ZIP_RATIO:
            raise TimelineError(
                f"{shown}: its member {info.filename} is packed {info.file_size // packed}:1 "
                f"({info.compress_size} bytes inflating to {info.file_size / MB:.0f} MB): a zip bomb, not a timeline",
                hint="do not read this file; export the timeline again from the editor")


def check_regular(path: str | os.PathLike[str], *, shown: Optional[str] = None,
                  error: type[ShotFillError] = TimelineError) -> Path:
    """Make sure ``path`` is a regular file (see :func:`open_regular`) for a reader that opens it itself."""
    with open_regular(path, shown=shown, error=error):
        pass
    return Path(path)
