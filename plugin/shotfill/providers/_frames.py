"""Neighbour frames made fit to send inline: scaled and centre-cropped to the output size.

Runway and Veo take the shots before/after inline (data URI / base64), with a
cap on the size; Veo also wants them in the clip's aspect.  Each provider says
which frame needs fitting; fitting itself is the same for both.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from pathlib import Path
from typing import Callable, Optional

from shotfill.errors import Rejected
from shotfill.system.files import make_dirs
from shotfill.model import GenerationRequest
from shotfill.providers.base import ServicePlan
from shotfill.media.frames import fit_image, read_reference


def reference_image(path: str) -> tuple[str, bytes]:
    """(MIME type, bytes) of a reference image; a bad one is refused by name (Rejected)."""
    return read_reference(path, Rejected)


def reference_data_uri(path: str) -> str:
    mime, data = reference_image(path)
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def png_size(path: str) -> Optional[tuple[int, int]]:
    """Width and height from a PNG's header, or None when the file is not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


async def fit_frames(req: GenerationRequest, plan: ServicePlan, workdir: Path, name: str,
                     needs_fit: Callable[[str], bool]) -> GenerationRequest:
    """The request with each neighbour frame the plan sends and ``needs_fit`` picks replaced by a
    PNG fitted to ``plan.size`` in ``workdir`` (``needs_fit`` may raise to refuse a frame).
    The image work runs in a thread."""
    if not (plan.use_first or plan.use_last):
        return req
    return await asyncio.to_thread(_fit_frames, req, plan, workdir, name, needs_fit)


def _fit_frames(req: GenerationRequest, plan: ServicePlan, workdir: Path, name: str,
                needs_fit: Callable[[str], bool]) -> GenerationRequest:
    w, h = plan.size
    update = {}
    for key, used in (("first_frame", plan.use_first), ("last_frame", plan.use_last)):
        src = getattr(req, key)
        if not used or not src or not needs_fit(src):
            continue
        make_dirs(workdir)
        update[key] = str(fit_image(src, workdir / f"{name}_{req.request_hash[:16]}_{key}.png", w, h))
    return req.model_copy(update=update) if update else req
