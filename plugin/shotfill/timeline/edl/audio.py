"""The generated clips' sound as EDL audio events.

A filled event whose file carries sound (``Placement.audio``) is followed by an audio event of
its own: a new number, the same reel, channel ``A`` (CMX 3600's first audio channel), a cut, the
same source and record timecodes as the picture, so the sound plays with it frame for frame
(the samples inside are exact in the file: shotfill.media.audio).  Its ``* FROM CLIP NAME:`` and
``* FROM CLIP:`` comments say which file it is (OpenTimelineIO's CMX reader links media from the
latter), and a ``* SHOTFILL ... AUDIO`` comment which placeholder's sound it is.
"""

from __future__ import annotations

from pathlib import Path

from shotfill.model import Placement
from shotfill.timeline.names import line_safe

#: the channel of the sound's event
CHANNEL = "A"


def audio_event(pl: Placement, *, number: str, reel: str, src: tuple[str, str], rec: tuple[str, str],
                nl: str) -> list[str]:
    """The lines of the sound's event (empty when the file has no sound)."""
    if not pl.audio:
        return []
    media = Path(pl.media_path)
    return [f"{number}  {reel:<8} {CHANNEL:<5} C        {src[0]} {src[1]} {rec[0]} {rec[1]}{nl}",
            f"* FROM CLIP NAME: {line_safe(media.name)}{nl}",
            f"* FROM CLIP: {line_safe(str(media.resolve()))}{nl}",
            f"* SHOTFILL {pl.placeholder.id} AUDIO: the sound of {line_safe(media.name)}{nl}"]
