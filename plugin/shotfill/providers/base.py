"""What every provider offers the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from shotfill.model import GeneratedMedia, GenerationRequest


class Provider(Protocol):
    """Makes one clip for one request.

    ``generate`` must keep what it was paid for: the media it downloads is in
    ``workdir`` before anything else can fail.  It raises a
    :class:`shotfill.errors.ShotFillError` subclass for that placeholder only.
    """

    name: str

    async def generate(self, request: GenerationRequest, workdir: Path) -> GeneratedMedia: ...
