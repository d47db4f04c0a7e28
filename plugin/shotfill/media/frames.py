"""Grab one exact frame of a clip as a PNG (the neighbour frames a bridge starts and ends on).

Near the start of a file the frame is chosen by decode index with
``select=eq(n,N)``, the count :func:`shotfill.media.probe.probe` reports, so
"last frame" means ``frames - 1`` with no timestamp arithmetic at all; ffmpeg
stops right after it.  Deeper in (a neighbour's in-point inside a long camera
original) decoding from the start would take seconds to minutes, so a
constant-rate stream is opened with an accurate seek to half a frame before
frame N: the first frame ffmpeg keeps is then N, with half a frame of
tolerance for timestamp rounding.  A variable-rate stream always uses
``select``, where index and time disagree.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import ffmpeg

from shotfill.system.files import atomic_path
from shotfill.errors import MediaError, ShotFillError
from shotfill.system.bounded import read_bytes
from shotfill.media import tools
from shotfill.media.probe import probe
from shotfill.model import MediaInfo

#: Decode-and-count below this index (about 10 s of picture); seek beyond it.
SEEK_AFTER = 240


def extract_frame(
    path: str | os.PathLike[str], frame_index: int, out_png: str | os.PathLike[str], *, clamp: bool = False
) -> Path:
    """Write frame ``frame_index`` (0 = first) of ``path`` to ``out_png`` and return its path.

    An index outside the clip raises MediaError, or with ``clamp=True`` is
    moved to the first or last frame (a timeline may point one frame past a
    clip's media).
    """
    info = probe(path)
    last = info.frames - 1
    if last < 0:
        raise MediaError(f"{path} has no frames to take a picture from")
    if not 0 <= frame_index <= last:
        if not clamp:
            raise MediaError(
                f"{path} has no frame {frame_index}: it has {info.frames} frames (0 to {last})",
                hint="check the clip's source in/out points against its media",
            )
        frame_index = min(max(frame_index, 0), last)

    out = Path(out_png)
    seek = _seek_seconds(path, frame_index, info) if frame_index >= SEEK_AFTER else None
    if seek is None:
        v = ffmpeg.input(tools.file_url(path))["v:0"].filter("select", expr=f"eq(n,{frame_index})")
    else:
        v = ffmpeg.input(tools.file_url(path), ss=f"{float(seek):.6f}")["v:0"]
    with atomic_path(out) as tmp:
        argv = tools.compile_argv(ffmpeg.output(
            v, tools.file_url(tmp),
            **{"frames:v": 1, "update": 1, "format": "image2", "c:v": "png"},
        ))
        tools.run(argv, what=f"taking frame {frame_index} of {path}")
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise MediaError(f"ffmpeg wrote no picture for frame {frame_index} of {path}")
    return out


def _seek_seconds(path: str | os.PathLike[str], frame_index: int, info: MediaInfo) -> Fraction | None:
    """``-ss`` value landing on ``frame_index`` of a constant-rate stream, else None."""
    argv = [tools.ffprobe_path(), "-v", "error", "-print_format", "json", "-select_streams", "V:0",
            "-show_entries", "stream=start_time,r_frame_rate,avg_frame_rate:format=start_time",
            tools.file_url(path)]
    data = json.loads(tools.run(argv, what=f"ffprobe reading {path}").stdout or "{}")
    try:
        stream = data["streams"][0]
        if stream["r_frame_rate"] != stream["avg_frame_rate"]:
            return None
        # -ss counts from the file's start; the video may start later than the audio.
        offset = Fraction(stream["start_time"]) - Fraction(data["format"]["start_time"])
    except (KeyError, IndexError, ValueError):
        return None
    return max(Fraction(0), offset + (frame_index - Fraction(1, 2)) / info.rate)


def fit_image(src_png: str | os.PathLike[str], dst_png: str | os.PathLike[str], width: int, height: int) -> Path:
    """Scale and centre-crop a still to exactly ``width`` x ``height`` (services that insist on it)."""
    with atomic_path(dst_png) as tmp:
        stream = (
            ffmpeg.input(tools.file_url(src_png))
            .filter("scale", width, height, force_original_aspect_ratio="increase")
            .filter("crop", width, height)
            .filter("setsar", 1)
            .output(tools.file_url(tmp), vframes=1, update=1)
        )
        tools.run(tools.compile_argv(stream), what=f"resizing {Path(src_png).name}")
    return Path(dst_png)


#: a reference image is sent inline, never through a third-party host: larger ones are refused
MAX_REFERENCE_BYTES = 20 << 20


def read_reference(path: str, error: type[ShotFillError]) -> tuple[str, bytes]:
    """(MIME type, bytes) of a reference image, read bounded; not a PNG, JPEG or WebP: ``error`` naming it."""
    data = read_bytes(path, limit=MAX_REFERENCE_BYTES, what="reference image", error=error)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", data
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", data
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp", data
    raise error(f"reference image {path} is not a PNG, JPEG or WebP image",
                hint="fix ref= in the GEN: note or references in shotfill.toml")
