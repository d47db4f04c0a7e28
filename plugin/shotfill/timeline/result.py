"""What reading a timeline hands back: :class:`ReadResult`.

It has a module of its own so that :mod:`shotfill.timeline.read` and the
format readers that build one themselves (:mod:`shotfill.timeline.edl.read`) share it
without importing each other.  Import it from :mod:`shotfill.timeline.read`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import opentimelineio as otio


@dataclass
class ReadResult:
    """A timeline as read, and what ShotFill needs to know about it."""

    #: always a Timeline; a bare Track, Stack or Clip is wrapped in one
    timeline: otio.schema.Timeline
    #: ShotFill's format name: "edl", "fcp_xml", "fcpx_xml", "otio_json", ...
    format: str
    #: the timeline rate, exact (24000/1001, not 23.976)
    rate: Fraction
    drop_frame: bool
    #: absolute frame of the timeline's first frame (global_start_time), 0 when none
    start_frame: int
    width: int | None = None
    height: int | None = None
    #: what was compensated while reading, each naming the file
    warnings: list[str] = field(default_factory=list)
    #: EDLs only: the text as decoded, line endings kept (the splice writer edits it)
    source_text: str | None = None
    #: EDLs only: the encoding the text was decoded with
    encoding: str | None = None
    #: the OTIO adapter that read it
    adapter: str = ""
