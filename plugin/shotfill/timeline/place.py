"""Put conformed clips where their placeholders were, on a copy of the timeline.

Each filled placeholder is replaced, in place and at the same length, by a clip
whose media is an external reference to the conformed file.  The GEN: markers
that sat on the placeholder go onto the new clip (moved into its time space);
markers elsewhere are not touched.  Nothing else in the timeline changes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import opentimelineio as otio

from shotfill.model import Placement
from shotfill.timeline.media_refs import Rebase
from shotfill.timeline.names import url_safe
from shotfill.timeline.otio.audio import add_audio_track
from shotfill.rates import rational_time


def item_at(timeline: otio.schema.Timeline, path: tuple[int, ...]) -> otio.core.Composable:
    node: Any = timeline.tracks
    for i in path:
        node = node[i]
    return node


def media_url(path: Path, *, relative_to: Optional[Path]) -> str:
    """The target_url for a conformed file: absolute by default, or relative to the output's folder."""
    # url_safe: OTIO's url_from_filepath leaves a newline in a folder's name as it is.
    if relative_to is not None:
        return url_safe(Path(os.path.relpath(path.resolve(), relative_to.resolve())).as_posix())
    return url_safe(otio.url_utils.url_from_filepath(str(path.resolve())))


def take_key(number: int) -> str:
    """The media reference key of take ``number`` (1-based)."""
    return f"take{number}"


def build_clip(old: otio.core.Item, pl: Placement, *, relative_to: Optional[Path]) -> otio.schema.Clip:
    ph = pl.placeholder
    rate = ph.rate
    rng = otio.opentime.TimeRange(rational_time(pl.source[0], rate), rational_time(ph.duration, rate))
    # Handles (or a neighbour's own media) make the file longer than the hole: its whole length is available.
    avail = otio.opentime.TimeRange(rational_time(pl.available[0], rate), rational_time(pl.available[1], rate))
    ref = otio.schema.ExternalReference(
        target_url=media_url(pl.media_path, relative_to=relative_to), available_range=avail,
    )
    clip = otio.schema.Clip(name=f"GEN {ph.id}", media_reference=ref, source_range=rng)
    takes = []
    if len(pl.takes) > 1:
        # Every take is a media reference of the one clip (OTIO's multiple media references); the
        # active key is the take shown, and `shotfill pick` only moves that key.
        refs = {take_key(t.number): otio.schema.ExternalReference(
            target_url=media_url(t.media_path, relative_to=relative_to), available_range=avail) for t in pl.takes}
        clip.set_media_references(refs, take_key(pl.active))
        takes = [{**t.provenance, "take": t.number, "key": take_key(t.number),
                  "target_url": refs[take_key(t.number)].target_url} for t in pl.takes]
    # Markers that were on the placeholder move with it, from its time space to the clip's.
    old_start = old.trimmed_range().start_time
    for m in old.markers:
        nm = m.clone()
        offset = m.marked_range.start_time - old_start
        nm.marked_range = otio.opentime.TimeRange(rng.start_time + offset.rescaled_to(rng.start_time),
                                                  m.marked_range.duration)
        clip.markers.append(nm)
    md = dict(pl.provenance)
    md["placeholder_id"] = ph.id   # also keeps FCP 7 XML from collapsing look-alike clips
    if takes:
        md["takes"], md["active_take"] = takes, pl.active
    clip.metadata["shotfill"] = md
    return clip


def _strip_read_notes(timeline: otio.schema.Timeline) -> None:
    """Drop the bookkeeping the reader left under ``metadata["shotfill"]`` (EDL line numbers).

    Provenance of clips ShotFill made earlier carries a request hash and stays.
    """
    objs: list[Any] = [timeline, timeline.tracks]
    objs += list(timeline.tracks.find_children())
    for obj in objs:
        for holder in [obj] + list(getattr(obj, "markers", [])):
            md = holder.metadata
            if "shotfill" in md and "request_hash" not in md["shotfill"]:
                del md["shotfill"]


def place_clips(timeline: otio.schema.Timeline, placements: list[Placement], *,
                relative_to: Optional[Path] = None, rebase: Optional[Rebase] = None,
                urls: bool = False, audio: bool = False) -> otio.schema.Timeline:
    """A deep copy of ``timeline`` with every placement's placeholder replaced.

    ``rebase`` moves the editor's relative media references to the output's folder
    (``urls``: they are percent-encoded URLs, as the XML readers leave them).
    ``audio``: the sound of placements that carry it goes on an audio track (timeline.otio.audio).
    """
    placed: dict[str, otio.schema.Clip] = {}
    out = timeline.deepcopy()
    _strip_read_notes(out)
    if rebase is not None:
        rebase.timeline(out, urls=urls)
    for pl in placements:
        path = pl.placeholder.item_path
        parent: Any = item_at(out, path[:-1])
        old = parent[path[-1]]
        parent[path[-1]] = placed[pl.placeholder.id] = build_clip(old, pl, relative_to=relative_to)
    if audio:
        add_audio_track(out, placements, placed)
    return out
