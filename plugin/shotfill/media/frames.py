"""Grab exact frames of clips as PNGs (the neighbour frames a bridge starts and ends on).

A constant-rate stream is opened with an accurate seek to half a frame
before frame N (``-ss`` before ``-i``): ffmpeg decodes from the keyframe
before it and hands on nothing earlier, so the cost is that one GOP's decode,
wherever N lies in the file; the first frame kept is N, with half a frame of
tolerance for timestamp rounding.  Where index and time may disagree (a
variable-rate stream, or an edit list whose samples the container miscounts)
the frame is chosen by decode index with ``select=eq(n,N)``, the count
:func:`shotfill.media.probe.probe` reports, which costs a decode from the start.

:func:`extract_frames` takes several frames (of one file or several) in one
ffmpeg process, one input each: a placeholder's two neighbours cost one start.
Each input is decoded on one thread: the frames up to N are decoded in order
anyway, so a frame-threaded decoder reached N no sooner (measured: same wall,
30% more CPU for a 1080p H.264 pair), and the plan takes several holes' frames
at once; the pixels, and so the PNG bytes the request hash covers, are the same.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg

from shotfill.system.files import atomic_path
from shotfill.errors import MediaError, ShotFillError
from shotfill.system.bounded import read_bytes
from shotfill.media import tools
from shotfill.media.probe import probe_for_seek
from shotfill.model import MediaInfo


@dataclass(frozen=True)
class FrameGrab:
    """Frame ``index`` of the file ``info`` describes, to be written to ``out_png``."""

    info: MediaInfo
    index: int
    out_png: Path
    #: the video's first timestamp after the file's start, or None to choose by decode index
    start_offset: Fraction | None


def extract_frame(
    path: str | os.PathLike[str], frame_index: int, out_png: str | os.PathLike[str], *, clamp: bool = False
) -> Path:
    """Write frame ``frame_index`` (0 = first) of ``path`` to ``out_png`` and return its path.

    An index outside the clip raises MediaError, or with ``clamp=True`` is
    moved to the first or last frame (a timeline may point one frame past a
    clip's media).
    """
    extract_frames([grab(path, frame_index, out_png, clamp=clamp)])
    return Path(out_png)


def grab(path: str | os.PathLike[str], frame_index: int, out_png: str | os.PathLike[str], *,
         clamp: bool = False, probed: tuple[MediaInfo, Fraction | None] | None = None) -> FrameGrab:
    """Check ``frame_index`` against the file (one ffprobe unless ``probed`` is given) and describe the grab."""
    info, offset = probed or probe_for_seek(path)
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
    return FrameGrab(info, frame_index, Path(out_png), offset)


def extract_frames(grabs: list[FrameGrab]) -> list[Path]:
    """Write every grab's PNG with one ffmpeg run; each lands atomically or not at all."""
    if not grabs:
        return []
    outputs = []
    for g in grabs:
        url = tools.file_url(g.info.path)
        if g.start_offset is None:
            v = ffmpeg.input(url, threads=1)["v:0"].filter("select", expr=f"eq(n,{g.index})")
        else:
            seek = max(Fraction(0), g.start_offset + (g.index - Fraction(1, 2)) / g.info.rate)
            v = ffmpeg.input(url, ss=f"{float(seek):.6f}", threads=1)["v:0"]
        outputs.append(v)
    what = ", ".join(f"frame {g.index} of {g.info.path}" for g in grabs)
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(g.out_png)) for g in grabs]
        outs = [ffmpeg.output(v, tools.file_url(tmp), **{"frames:v": 1, "update": 1, "format": "image2", "c:v": "png",
                                                        "threads": 1})
                for v, tmp in zip(outputs, tmps)]
        tools.run(tools.compile_argv(ffmpeg.merge_outputs(*outs)), what=f"taking {what}")
        for g, tmp in zip(grabs, tmps):
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise MediaError(f"ffmpeg wrote no picture for frame {g.index} of {g.info.path}")
    return [g.out_png for g in grabs]


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
