"""Small JPEG thumbnails of stills, for the run report's contact sheet.

A thumbnail is a real frame (a PNG that :func:`shotfill.media.frames.extract_frame`
took) scaled to a fixed width with ffmpeg.  Non-square pixels are squared
first, so an anamorphic frame shows at its display shape.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

import ffmpeg

from shotfill.system.files import atomic_path, make_dirs
from shotfill.errors import MediaError, ShotFillError
from shotfill.media import tools
from shotfill.media.frames import extract_frame
from shotfill.media.probe import probe
from shotfill.model import ClipStills, Still

#: default thumbnail width in pixels (the height follows the picture's shape)
THUMB_WIDTH = 320


def thumbnail(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, width: int = THUMB_WIDTH, quality: int = 4
) -> Path:
    """Scale the still ``src`` to ``width`` pixels wide (even height) and write ``dst`` atomically.

    ``dst`` ending in ``.png`` is written as PNG, anything else as JPEG;
    ``quality`` is ffmpeg's JPEG ``-q:v`` (2 best .. 31 worst).
    """
    if width < 2:
        raise ValueError(f"thumbnail width must be at least 2, not {width}")
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise MediaError(f"no picture to make a thumbnail of: {src} does not exist")
    png = dst.suffix.lower() == ".png"
    with atomic_path(dst) as tmp:
        v = (
            ffmpeg.input(tools.file_url(src))["v:0"]
            # square the pixels, then scale to the width with an even height
            .filter("scale", "trunc(iw*sar/2)*2", "ih")
            .filter("setsar", 1)
            .filter("scale", width, -2, flags="bicubic")
            .filter("format", "rgb24" if png else "yuvj420p")
        )
        opts = {"frames:v": 1, "update": 1, "format": "image2", "c:v": "png" if png else "mjpeg"}
        if not png:
            opts["q:v"] = quality
        tools.run(tools.compile_argv(ffmpeg.output(v, tools.file_url(tmp), **opts)),
                  what=f"making a thumbnail of {src.name}")
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise MediaError(f"ffmpeg wrote no thumbnail for {src}")
    return dst


# --------------------------------------------------------------------------- a clip's contact-sheet stills

#: the generated clip's pictures on a report row, left to right
CLIP_KINDS = ("first", "middle", "last")


def clip_stills(media: Path, out_dir: Path, stem: str, *, width: int = THUMB_WIDTH,
                hole: Optional[tuple[int, int]] = None) -> ClipStills:
    """Thumbnails of ``media``'s first, middle and last frames, ``out_dir/STEM_KIND.jpg``.

    ``hole``: (first frame, length) of the part the timeline shows (a file with handles): its frames.

    Part of a clip's media work (so on a Dask worker it runs there, beside the conform): the report then
    only copies the pictures.  A still that cannot be made is an error text, never an exception; an
    unreadable clip raises MediaError.
    """
    info = probe(media)
    make_dirs(out_dir)
    stills = []
    with tempfile.TemporaryDirectory(prefix="shotfill-stills-") as scratch:
        first, length = hole or (0, info.frames)
        last = min(first + length, info.frames) - 1
        for kind, n in zip(CLIP_KINDS, (min(first, last), min(first + length // 2, last), last)):
            png = Path(scratch) / f"{kind}.png"
            dst = out_dir / f"{stem}_{kind}.jpg"
            try:
                extract_frame(media, n, png)
                thumbnail(png, dst, width=width)
                stills.append(Still(kind, dst, n))
            except ShotFillError as exc:
                stills.append(Still(kind, None, n, str(exc)))
    return ClipStills(info.frames, info.width, info.height, info.sample_aspect_ratio, tuple(stills))
