"""Put the launchers in Resolve's Scripts folder, with this ShotFill installation baked in.

Resolve lists scripts found at startup under Workspace > Scripts; those in
the ``Edit`` subfolder show on the Edit page.  The folders (from Resolve's
scripting README):

========  ==============================================================  ====================================================================
OS        this user                                                       all users (``--system``)
========  ==============================================================  ====================================================================
macOS     ~/Library/Application Support/Blackmagic Design/                /Library/Application Support/Blackmagic Design/
          DaVinci Resolve/Fusion/Scripts                                  DaVinci Resolve/Fusion/Scripts
Windows   %APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\            %PROGRAMDATA%\\Blackmagic Design\\DaVinci Resolve\\Fusion\\Scripts
          Fusion\\Scripts
Linux     ~/.local/share/DaVinciResolve/Fusion/Scripts                    /opt/resolve/Fusion/Scripts (or /home/resolve/...)
========  ==============================================================  ====================================================================

Each launcher is written with the interpreter that runs ShotFill
(``sys.executable``) and the folders its packages live in, between two
marker lines; ``uninstall`` removes only files carrying that mark.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Mapping, Optional

import shotfill_otio

import shotfill
from shotfill import __version__
from shotfill.config import EnvSetting, environment_setting
from shotfill.errors import UsageError, WriteError
from shotfill.system.files import write_text

SCRIPTS = Path(__file__).resolve().parent / "scripts"
#: launcher kind -> (template, installed file name)
LAUNCHERS = {"python": ("ShotFill.py", "ShotFill.py"), "lua": ("ShotFill.lua", "ShotFill Lua.lua")}
MARK = "installed by `shotfill resolve install`"
BEGIN, END = "BEGIN BAKED", "END BAKED"


def scripts_dir(*, system: bool = False, platform: Optional[str] = None,
                environ: Optional[Mapping[str, str]] = None, home: Optional[str] = None,
                exists=os.path.isdir) -> str:
    """Resolve's ``Fusion/Scripts/Edit`` folder for this user (or all users) on ``platform``."""
    platform = platform or sys.platform
    home = home or str(Path.home())
    if platform == "darwin":
        base = PurePosixPath("/") if system else PurePosixPath(home)
        root = base / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts"
    elif platform.startswith("win"):
        var: EnvSetting = "PROGRAMDATA" if system else "APPDATA"
        folder = environment_setting(var, environ)
        if not folder:
            raise UsageError(f"%{var}% is not set, so Resolve's Scripts folder cannot be found",
                             hint="pass --dest with the folder")
        tail = ("Blackmagic Design", "DaVinci Resolve") + (() if system else ("Support",)) + ("Fusion", "Scripts")
        return str(PureWindowsPath(folder, *tail, "Edit"))
    else:
        if system:
            root = PurePosixPath("/opt/resolve/Fusion/Scripts")
            if not exists("/opt/resolve") and exists("/home/resolve"):
                root = PurePosixPath("/home/resolve/Fusion/Scripts")
        else:
            root = PurePosixPath(home) / ".local/share/DaVinciResolve/Fusion/Scripts"
    return str(root / "Edit")


def _package_roots() -> list[str]:
    roots: list[str] = []
    for mod in (shotfill, shotfill_otio):
        assert mod.__file__ is not None   # both are regular packages, imported from files
        root = str(Path(mod.__file__).resolve().parent.parent)
        if root not in roots:
            roots.append(root)
    return roots


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render(kind: str, *, python: Optional[str] = None, paths: Optional[list[str]] = None) -> str:
    """The launcher's text with the interpreter and package folders filled in."""
    template_name, _ = LAUNCHERS[kind]
    text = (SCRIPTS / template_name).read_text(encoding="utf-8")
    python = python or sys.executable
    paths = paths if paths is not None else _package_roots()
    if kind == "python":
        block = [f"# {BEGIN}: {MARK} (ShotFill {__version__})",
                 f"SHOTFILL_PYTHON = {python!r}",
                 f"SHOTFILL_PATHS = {paths!r}",
                 f"SHOTFILL_VERSION = {__version__!r}",
                 f"# {END}"]
        comment = "#"
    else:
        block = [f"-- {BEGIN}: {MARK} (ShotFill {__version__})",
                 f"local SHOTFILL_PYTHON = {_lua_str(python)}",
                 "local SHOTFILL_PATHS = {" + ", ".join(_lua_str(p) for p in paths) + "}",
                 f"local SHOTFILL_VERSION = {_lua_str(__version__)}",
                 f"-- {END}"]
        comment = "--"
    lines = text.splitlines()
    try:
        i = next(n for n, ln in enumerate(lines) if ln.startswith(f"{comment} {BEGIN}"))
        j = next(n for n, ln in enumerate(lines) if ln.startswith(f"{comment} {END}") and n > i)
    except StopIteration:
        raise RuntimeError(f"{template_name}: the baked block is missing from the template") from None
    return "\n".join(lines[:i] + block + lines[j + 1:]) + "\n"


def _target_dir(dest: Optional[Path], system: bool) -> Path:
    return Path(dest) if dest is not None else Path(scripts_dir(system=system))


def install(*, dest: Optional[Path] = None, system: bool = False, launcher: str = "both",
            python: Optional[str] = None) -> list[Path]:
    """Write the launcher(s); returns the files written.  Refuses to overwrite a file it did not write."""
    kinds = ["python", "lua"] if launcher == "both" else [launcher]
    folder = _target_dir(dest, system)
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            target = folder / LAUNCHERS[kind][1]
            if target.exists() and not _ours(target):
                raise UsageError(f"{target}: exists and was not written by ShotFill; not replaced",
                                 hint="move it away, or install elsewhere with --dest")
            write_text(target, render(kind, python=python))
            written.append(target)
    except (PermissionError, WriteError) as exc:
        hint = "run it as an administrator (or with sudo) for --system" if system else \
            "check the folder's permissions, or pass --dest"
        where = exc.message if isinstance(exc, WriteError) else f"{exc.filename or folder}: permission denied"
        raise UsageError(where, hint=hint) from None
    return written


def _ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return MARK in head


def uninstall(*, dest: Optional[Path] = None, system: bool = False) -> list[Path]:
    """Remove the launchers ``install`` wrote there (and nothing else); returns what was removed."""
    folder = _target_dir(dest, system)
    removed = []
    for _, name in LAUNCHERS.values():
        target = folder / name
        if target.is_file() and _ours(target):
            try:
                target.unlink()
            except PermissionError:
                raise UsageError(f"{target}: permission denied",
                                 hint="run it as an administrator (or with sudo) for --system") from None
            removed.append(target)
    return removed
