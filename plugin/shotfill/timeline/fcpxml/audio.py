"""The generated clips' sound in a spliced FCPXML document.

A file that carries sound (``Placement.audio``) is declared so on its ``<asset>``:
``hasAudio="1"``, ``audioSources="1"``, ``audioChannels``, ``audioRate="48000"`` (the DTD's
attributes; FCP reads them to know the file has sound).  The sound is then laid under the
clip as FCP lays out detached audio: the ``<asset-clip>`` shows the picture only
(``srcEnable="video"``), and an ``<audio>`` of the same asset, connected below it on lane -1
plays the sound over exactly the clip's range (same ``start`` and ``duration``; ``offset`` is
the clip's own start, so it begins with the clip's first frame), inside a connected ``<clip>``
that times it.  No ``role`` is written: FCP
gives the sound its default (dialogue) role.  OTIO's FCPXML reader reads the ``<audio>`` as an
item on an audio track at the clip's record time.

Several takes (an ``<audition>``) and clips connected on a lane carry their sound in the
asset-clip itself (FCP plays an asset-clip's sound by default); only the asset says it has some.
"""

from __future__ import annotations

from shotfill.model import Placement
from shotfill.media.audio import SAMPLE_RATE
from shotfill.timeline.xml.document import El

#: the lane the detached sound is connected on (just below the clip)
LANE = "-1"


def asset_attrs(pl: Placement) -> list[tuple[str, str]]:
    """The ``<asset>`` attributes that declare the file's sound (none when it has none)."""
    if not pl.audio:
        return []
    return [("hasAudio", "1"), ("audioSources", "1"), ("audioChannels", str(pl.audio_channels)),
            ("audioRate", str(SAMPLE_RATE))]


def detaches(pl: Placement) -> bool:
    """Whether the sound goes on its own connected ``<audio>`` (one take, in the primary storyline)."""
    return pl.audio and len(pl.takes) <= 1


def clip_attrs(pl: Placement) -> list[tuple[str, str]]:
    """The asset-clip shows the picture only when its sound is connected below it."""
    return [("srcEnable", "video")] if detaches(pl) else []


def connected_audio(pl: Placement, asset_id: str, start: str, duration: str) -> El:
    """The sound under the clip: a connected ``<clip>`` holding the asset's ``<audio>``, same range,
    starting with the clip's first frame.

    The ``<clip>`` times it: an ``<audio>`` right inside the asset-clip would be timed by the
    asset-clip itself (OTIO's reader takes the nearest clip element's offset and lane), and so read
    as a second copy of the picture on its lane.
    """
    name = f"GEN {pl.placeholder.id} audio"
    sound = El("audio", [("ref", asset_id), ("offset", start), ("name", name), ("start", start),
                         ("duration", duration)])
    return El("clip", [("lane", LANE), ("offset", start), ("name", name), ("start", start), ("duration", duration)],
              [sound])
