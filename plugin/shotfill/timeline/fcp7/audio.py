"""The generated clips' sound in a spliced FCP 7 XML (xmeml) sequence.

A file that carries sound (``Placement.audio``) declares it in its ``<file>``: ``<media><audio>``
with 24-bit 48 kHz ``<samplecharacteristics>`` and its ``<channelcount>``.  Its sound goes on
ONE new audio track, added after the sequence's own (none of the editor's tracks is touched): a
``<clipitem>`` per file, at the video clip's ``start``/``end`` with its ``in``/``out``, naming
the same ``<file>`` by id, ``<sourcetrack>`` audio 1.  The two clipitems are linked as FCP 7
links a clip's picture and sound: each carries a ``<link>`` to itself and one to the other
(``linkclipref``, ``mediatype``, ``trackindex``, ``clipindex``), so they move together.
A replaced slug that had links of its own keeps those and gets none of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from shotfill.media.audio import SAMPLE_RATE
from shotfill.model import Placement
from shotfill.timeline.xml.document import Edit, El, Node, Raw, XmlDoc, leaf


@dataclass(frozen=True)
class Sound:
    """Where one placement's picture and sound items sit, for their ``<link>``s."""

    file_id: str
    clip_id: str            # the audio clipitem
    video_track: int        # 1-based, as ``trackindex`` counts
    video_index: int        # 1-based ``clipindex`` of the video clipitem in its track
    audio_track: int
    audio_index: int


def file_media(pl: Placement) -> list[El]:
    """The ``<audio>`` of the ``<file>``'s ``<media>`` (none for a file without sound)."""
    if not pl.audio:
        return []
    return [El("audio", children=[
        El("samplecharacteristics", children=[leaf("depth", 24), leaf("samplerate", SAMPLE_RATE)]),
        leaf("channelcount", pl.audio_channels)])]


def _link(ref: str, media: str, track: int, index: int) -> El:
    return El("link", children=[leaf("linkclipref", ref), leaf("mediatype", media), leaf("trackindex", track),
                                leaf("clipindex", index)])


def links(video_id: str, s: Sound) -> list[El]:
    """Both ``<link>``s, the same in the video and the audio clipitem."""
    return [_link(video_id, "video", s.video_track, s.video_index), _link(s.clip_id, "audio", s.audio_track,
                                                                          s.audio_index)]


def clipitem(pl: Placement, s: Sound, *, video_id: str, rate: El, linked: bool = True) -> El:
    """The sound's clipitem: the video clip's record and source frames, the same file by id."""
    ph = pl.placeholder
    d, src_in = ph.duration, pl.source_in
    return El("clipitem", [("id", s.clip_id)], [
        leaf("name", f"GEN {ph.id} audio"), leaf("duration", d), rate,
        leaf("start", ph.start), leaf("end", ph.start + d), leaf("in", src_in), leaf("out", src_in + d),
        El("file", [("id", s.file_id)]),
        El("sourcetrack", children=[leaf("mediatype", "audio"), leaf("trackindex", 1)]),
        *(links(video_id, s) if linked else [])])


def track(items: list[El]) -> El:
    return El("track", children=list[El | Raw](items))


def clip_indexes(at: dict[str, tuple[int, int, bool]]) -> dict[str, int]:
    """Each new video clipitem's 1-based ``clipindex`` once every insert is made.

    ``at``: placeholder id -> (track, index in the track's items before the edit, inserted).  An
    inserted item goes before item ``index``; a replaced one is item ``index``.
    """
    out = {}
    for pid, (tr, j, inserted) in at.items():
        before = sum(1 for q, (t2, k, ins) in at.items() if q != pid and t2 == tr and ins and (k < j or
                                                                                            (k == j and not inserted)))
        out[pid] = j + 1 + before
    return out


def plan(placements: list[Placement], at: dict[str, tuple[int, int, bool]], media: Optional[Node], used: set[str],
         new_id: Callable[[str, set[str]], str]) -> dict[str, Sound]:
    """Ids and indexes of each sounding placement's items: one new audio track, in record order.

    Two holes at the same time (on two video tracks) cannot share it: the lower track's sound is placed.
    """
    existing = sum(len(a.findall("track")) for a in (media.findall("audio") if media is not None else []))
    indexes = clip_indexes(at)
    out: dict[str, Sound] = {}
    end = -1
    for pl in sorted((p for p in placements if p.audio and p.placeholder.id in at),
                     key=lambda p: (p.placeholder.start, p.placeholder.track_index)):
        ph = pl.placeholder
        if ph.start < end:
            continue
        end = ph.start + ph.duration
        out[ph.id] = Sound(file_id=new_id("file", used), clip_id=new_id("clipitem", used),
                           video_track=at[ph.id][0], video_index=indexes[ph.id], audio_track=existing + 1,
                           audio_index=len(out) + 1)
    return out


def track_edits(doc: XmlDoc, media: Optional[Node], items: list[El]) -> list[Edit]:
    """The edit that adds the new audio track (and the sequence's ``<audio>``, when it has none)."""
    if not items or media is None:
        return []
    items = sorted(items, key=lambda el: int(next(c.text or 0 for c in el.children
                                                   if isinstance(c, El) and c.tag == "start")))
    audio = media.find("audio")
    if audio is not None:
        return [doc.append_children(audio, [track(items)])]
    video = media.find("video")
    new = El("audio", children=[track(items)])
    return [doc.insert_after(video, new) if video is not None else doc.append_children(media, [new])]
