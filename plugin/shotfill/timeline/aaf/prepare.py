"""Shape a filled timeline into what OTIO's AAF writer (otio-aaf-adapter 2.x) accepts, and say what it loses.

The writer validates before it writes and refuses a timeline that any other
writer takes: every clip needs a Mob ID (an AAF read carries them; an EDL or
an OTIO file does not), a media reference with an ``available_range``, and
every range at the timeline's own rate; it raises on any generator but a slug
and on a transition without the AAF operation metadata its reader leaves.
It writes no markers (``shotfill_otio.aaf_markers`` adds them) and keeps only
``metadata["AAF"]["UserComments"]`` of a clip's metadata (as the master clip's
comments, which Media Composer shows as bin columns).

So, on the writer's own copy of the timeline:

- a clip without a Mob ID gets one derived from its media (the same file, the
  same master clip, in every run);
- every range is rescaled to the timeline's rate;
- a generated clip is named after its file (Media Composer's bin and relink
  show that name); its tape timecode is its record timecode, as the conformed
  file's timecode track says; its descriptor carries the frame size and
  length, its locator the file's absolute ``file://`` URL; its provenance goes
  into the master clip's comments;
- a generator clip left unfilled (slug, colour, bars) becomes filler, and a
  transition the writer cannot describe becomes a cut: both with a warning.

Of otio-aaf-adapter 2.x's transcribe hooks, ShotFill uses the post-write one
(``shotfill_otio.aaf_markers``, registered in the OTIO plugin's manifest) to
write the markers the writer drops.  The rest is done here, before the writer
sees the timeline, rather than in a pre-write hook: hooks are registered for
the whole process, and ShotFill's preparation must not change what the adapter
does for anyone else in it.
"""

from __future__ import annotations

import uuid
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any, Optional
from urllib.parse import unquote, urlparse

import aaf2.mobid
import opentimelineio as otio

#: The writer's metadata keys a transition must carry (what its AAF reader leaves on one).
_TRANSITION_KEYS = ("PointList", "OperationGroup", "CutPoint")
_COMMENT_KEYS = (("prompt", "ShotFill prompt"), ("provider", "ShotFill provider"), ("model", "ShotFill model"),
                 ("seed", "ShotFill seed"), ("request_hash", "ShotFill request hash"),
                 ("placeholder_id", "ShotFill placeholder"), ("generated_at", "ShotFill generated"))


def mob_id_for(key: str) -> str:
    """A Mob ID (SMPTE UMID URN) that is always the same for ``key``: one master clip per file."""
    mob = aaf2.mobid.MobID.new()
    mob.material = uuid.uuid5(uuid.NAMESPACE_URL, "shotfill:" + key)
    return str(mob.urn)


def _has_mob_id(clip: otio.schema.Clip) -> bool:
    for holder in (clip, clip.media_reference):
        aaf = holder.metadata.get("AAF", {})
        if hasattr(aaf, "get") and (aaf.get("MobID") or aaf.get("SourceID")):
            return True
    return False


def _rescaled(rng: otio.opentime.TimeRange, rate: float) -> otio.opentime.TimeRange:
    start = rng.start_time.rescaled_to(rate)
    dur = rng.duration.rescaled_to(rate)
    return otio.opentime.TimeRange(otio.opentime.RationalTime(round(start.value), rate),
                                   otio.opentime.RationalTime(round(dur.value), rate))


def _file_name(url: str) -> str:
    path = unquote(urlparse(url).path) if "://" in url else url
    return PurePosixPath(path.replace("\\", "/")).name or url


def _is_generated(item: Any) -> bool:
    md = item.metadata.get("shotfill")
    return hasattr(md, "get") and md.get("request_hash") is not None


def _prepare_generated(clip: otio.schema.Clip, rate: float, size: tuple[Optional[int], Optional[int]]) -> None:
    ref = clip.media_reference
    md = clip.metadata["shotfill"]
    assert clip.source_range is not None   # place_clips gives every generated clip its range
    # place_clips starts the clip at its absolute record frame, where the conformed file's timecode
    # track starts: the tape's timecode says the same, so a relink by timecode finds the file.
    rng = _rescaled(clip.source_range, rate)
    clip.source_range = rng
    ref.available_range = rng
    clip.name = _file_name(ref.target_url)
    comments = {label: str(md[key]) for key, label in _COMMENT_KEYS if md.get(key) is not None}
    width, height = size
    essence: dict[str, Any] = {"Length": int(rng.duration.value)}
    if width and height:
        essence.update(StoredWidth=width, StoredHeight=height, ImageAspectRatio=f"{width}/{height}")
    aaf = dict(clip.metadata.get("AAF", {}))
    aaf["UserComments"] = comments
    clip.metadata["AAF"] = aaf
    ref.metadata["AAF"] = {"EssenceDescription": essence}


def _containers(timeline: otio.schema.Timeline) -> list[Any]:
    """Every track and stack, nested ones included."""
    found: list[Any] = [timeline.tracks]
    found += [c for c in timeline.tracks.find_children() if isinstance(c, (otio.schema.Track, otio.schema.Stack))]
    return found


def _writable_transition(item: otio.schema.Transition) -> bool:
    aaf = item.metadata.get("AAF", {})
    return bool(item.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
                and hasattr(aaf, "get") and all(k in aaf for k in _TRANSITION_KEYS))


def prepare_for_aaf(timeline: otio.schema.Timeline, rate: Fraction, *,
                    size: tuple[Optional[int], Optional[int]] = (None, None)) -> list[str]:
    """Make ``timeline`` (a copy the caller owns) writable by the AAF writer; returns what was lost."""
    r = float(rate)
    slugs = 0
    cuts = 0
    for track in _containers(timeline):
        for i, item in enumerate(list(track)):
            if isinstance(item, otio.schema.Clip) and isinstance(item.media_reference, otio.schema.GeneratorReference):
                gap = otio.schema.Gap(source_range=_rescaled(item.trimmed_range(), r), name=item.name)
                track[i] = gap
                slugs += 1
            elif isinstance(item, otio.schema.Transition) and not _writable_transition(item):
                cuts += 1
    if cuts:
        # Removed last, and from the end: a transition takes no time of its own on its track.
        for track in _containers(timeline):
            for i in reversed(range(len(track))):
                if isinstance(track[i], otio.schema.Transition) and not _writable_transition(track[i]):
                    del track[i]
    for item in timeline.find_children():
        if isinstance(item, (otio.schema.Gap, otio.schema.Transition)):
            if isinstance(item, otio.schema.Gap) and item.source_range is not None:
                item.source_range = _rescaled(item.source_range, r)
            continue
        if not isinstance(item, otio.schema.Clip):
            continue
        if _is_generated(item):
            _prepare_generated(item, r, size)
        else:
            ref = item.media_reference
            if item.source_range is not None:
                item.source_range = _rescaled(item.source_range, r)
            if ref.available_range is None:
                # The writer reads the source's length and timecode from here.
                ref.available_range = item.trimmed_range()
            ref.available_range = _rescaled(ref.available_range, r)
        if not _has_mob_id(item):
            ref = item.media_reference
            key = getattr(ref, "target_url", None) or item.name
            meta = dict(item.metadata.get("AAF", {}))
            meta["MobID"] = mob_id_for(str(key))
            item.metadata["AAF"] = meta
    warnings = []
    if slugs:
        warnings.append(f"{slugs} generator clip(s) left unfilled (slug, colour, bars) written as filler: "
                        "OTIO's AAF writer writes no generators")
    if cuts:
        warnings.append(f"{cuts} transition(s) written as cuts: OTIO's AAF writer writes only dissolves read "
                        "from an AAF")
    return warnings
