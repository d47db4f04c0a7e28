"""The generated clips' sound on an audio track of the OTIO timeline.

Every placement whose file carries sound (``Placement.audio``) gets a Clip on ONE new audio
track, "GEN audio", added after the timeline's own tracks: the same file, the same source
range as the video clip, at the same record time (gaps between).  A new track rather than the
first free range of an existing one, so that none of the editor's audio tracks is touched and
the generated sound is found in one place.
"""

from __future__ import annotations

from typing import Any

import opentimelineio as otio

from shotfill.model import Placement
from shotfill.rates import rational_time

TRACK_NAME = "GEN audio"


def add_audio_track(timeline: otio.schema.Timeline, placements: list[Placement],
                    clips: dict[str, otio.schema.Clip]) -> None:
    """Put each sounding placement's clip (``clips[placeholder id]``: the placed video clip) on the new track."""
    sounding = sorted((pl for pl in placements if pl.audio and pl.placeholder.id in clips),
                      key=lambda p: p.placeholder.record_frame)
    if not sounding:
        return
    rate = sounding[0].placeholder.rate
    start = timeline.global_start_time.rescaled_to(rate).to_frames() if timeline.global_start_time else 0
    track = otio.schema.Track(name=TRACK_NAME, kind=otio.schema.TrackKind.Audio)
    at = 0
    for pl in sounding:
        ph, video = pl.placeholder, clips[pl.placeholder.id]
        record = ph.record_frame - start
        if record < at:
            continue      # two holes overlap in time (stacked video tracks): the lower one's sound only
        if record > at:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                rational_time(0, ph.rate), rational_time(record - at, ph.rate))))
        ref: Any = video.media_reference.clone()
        clip = otio.schema.Clip(name=f"{video.name} audio", media_reference=ref,
                                source_range=video.source_range)
        clip.metadata["shotfill"] = {"placeholder_id": ph.id, "audio_of": video.name}
        track.append(clip)
        at = record + ph.duration
    timeline.tracks.append(track)
