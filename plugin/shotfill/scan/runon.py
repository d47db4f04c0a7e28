"""The neighbours' own media: when the shot before a hole runs on past its out point (or the shot after
starts late enough into its file) to cover the whole hole, the hole can be filled from it, free.

The media's extent comes from the timeline's available range where the format gives one (OTIO, FCP 7
XML, FCPXML); an EDL gives none, so the neighbour's local file is probed (once, cached, only when it
exists).  Frames are counted in the neighbour's source time, which is the file's timecode as frames at
its rate; that is only comparable with the hole when the source rate is the timeline's.

A :class:`RunOn` says how much unused media a side has and, when it covers the hole, exactly which
frames of the file continue the cut: ``source_in`` is the file frame the hole's first frame shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

from shotfill.errors import ShotFillError
from shotfill.model import Neighbour, Placeholder
from shotfill.rates import rate_str, timecode_to_frames

Side = Literal["before", "after"]

#: what ``source=`` asks for, and the provenance ``source`` of a hole filled from a neighbour's media
SOURCE = "handles"


@dataclass(frozen=True)
class RunOn:
    """What one neighbour's file holds beyond the cut, next to the hole."""

    side: Side
    name: str
    #: unused frames on the hole's side of the cut (past the out point / before the in point)
    frames: int
    #: the hole's length: ``covers`` when ``frames`` reaches it
    needed: int
    media_path: str
    #: the file's first frame as a timecode frame count, and its length in frames
    media_start: int
    media_frames: int

    @property
    def covers(self) -> bool:
        return self.frames >= self.needed

    @property
    def source_in(self) -> int:
        """The file frame (from its first) the hole's first frame shows, continuing the neighbour."""
        return self.frames - self.needed if self.side == "after" else self.media_frames - self.frames

    def says(self) -> str:
        """``shot_a's media runs on for 52 frames: free`` (or that it is not enough)."""
        n = f"{self.frames} frame{'s' if self.frames != 1 else ''}"
        text = (f"{self.name}'s media runs on for {n}" if self.side == "before"
                else f"{self.name}'s media has {n} before its in point")
        return text + (": free" if self.covers else f", short of the hole's {self.needed}")


def _extent(nb: Neighbour, rate_ok: bool) -> Optional[tuple[int, int]]:
    """(first frame, length) of the neighbour's file in its source time: the timeline's, else probed."""
    if nb.available_start is not None and nb.available_frames:
        return nb.available_start, nb.available_frames
    if nb.media_path is None or not rate_ok or not Path(nb.media_path).is_file():
        return None
    from shotfill.media.probe import probe   # only for a file to probe: a scan loads no media stack otherwise

    try:
        info = probe(nb.media_path)
    except ShotFillError:
        return None
    if nb.source_rate is None or info.rate != nb.source_rate:
        return None
    start = timecode_to_frames(info.timecode, info.rate) if info.timecode else 0
    return start, info.frames


def side_run_on(ph: Placeholder, side: Side) -> tuple[Optional[RunOn], Optional[str]]:
    """One side's run-on, or None and (when there is something to say) why there is none."""
    nb = ph.before if side == "before" else ph.after
    if nb is None or nb.kind != "clip" or nb.source_frame is None:
        return None, None
    if nb.source_rate is not None and nb.source_rate != ph.rate:
        return None, (f"{nb.name}'s media is {rate_str(nb.source_rate)} fps, not the timeline's "
                      f"{rate_str(ph.rate)}: its own frames cannot fill the hole")
    if nb.media_path is None:
        return None, None
    extent = _extent(nb, nb.source_rate == ph.rate)
    if extent is None:
        return None, None
    start, length = extent
    if side == "before":
        frames = start + length - 1 - nb.source_frame
    else:
        frames = nb.source_frame - start
    if not 0 <= frames <= length:
        return None, None         # the cut lies outside what the timeline says the file holds
    return RunOn(side=side, name=nb.name, frames=frames, needed=ph.duration, media_path=nb.media_path,
                 media_start=start, media_frames=length), None


def run_on(ph: Placeholder) -> tuple[Optional[RunOn], list[str]]:
    """The neighbour whose media covers the hole (the shot before first), else the one with most to spare.

    Also returns what is worth telling about sides that cannot serve (a different source rate).
    """
    found: list[RunOn] = []
    why: list[str] = []
    sides: tuple[Side, ...] = ("before", "after")
    for side in sides:
        r, reason = side_run_on(ph, side)
        if r is not None:
            found.append(r)
        if reason:
            why.append(reason)
    covering = [r for r in found if r.covers]
    if covering:
        return covering[0], why
    return (max(found, key=lambda r: r.frames) if found else None), why


def label(r: RunOn) -> str:
    """How the plan preview, the summary and the report name a fill from a neighbour's media."""
    return f"from {r.name}'s media (free)"


def wants_media(ph: Placeholder, prefer: bool) -> bool:
    """The note's ``source=handles``, or ``--prefer-handles`` for the run."""
    return ph.options.source == SOURCE or prefer


def serving(ph: Placeholder, prefer: bool) -> Optional[RunOn]:
    """The run-on that fills this hole in place of a generation, when it is asked for and covers it."""
    if not wants_media(ph, prefer):
        return None
    r, _ = run_on(ph)
    return r if r is not None and r.covers else None


def handles_problem(ph: Placeholder) -> Optional[str]:
    """Why ``source=handles`` cannot be honoured for this hole (a problem: ``fill`` refuses it), or None."""
    if ph.options.source != SOURCE:
        return None
    r, why = run_on(ph)
    if r is not None and r.covers:
        return None
    if r is not None:
        has = f"{r.name}'s media has only {r.frames} unused frame{'s' if r.frames != 1 else ''} " + \
              ("past its out point" if r.side == "before" else "before its in point")
    elif why:
        has = "; ".join(why)
    else:
        has = "neither neighbour's media is known to run on (no clip with local media or a known length)"
    return (f"source=handles: {has}, and the hole is {ph.duration} frames; remove source=handles to generate "
            "it instead")


def checked(ph: Placeholder) -> Placeholder:
    """The placeholder with the ``source=handles`` problem added, when there is one."""
    problem = handles_problem(ph)
    return ph.model_copy(update={"problems": (*ph.problems, problem)}) if problem else ph


def _said(ph: Placeholder) -> tuple[Optional[RunOn], list[str]]:
    r, why = run_on(ph)
    return r, ([r.says()] if r is not None else []) + why


def media_lines(ph: Placeholder) -> list[str]:
    """What ``scan`` says of the neighbours' own media beside the hole (nothing when nothing is known)."""
    return [f"media: {line}" for line in _said(ph)[1]]


def media_json(ph: Placeholder) -> dict[str, Any]:
    """``scan --json``'s ``neighbour_media``: the lines text ``scan`` prints, and the run-on they speak of.

    ``run_on`` is None when neither neighbour's media is known to run on; ``source_in`` (the file frame
    the hole's first frame would show) only when it covers the hole.
    """
    r, lines = _said(ph)
    found = None if r is None else {
        "side": r.side, "name": r.name, "frames": r.frames, "needed": r.needed, "covers": r.covers,
        "media": r.media_path, "source_in": r.source_in if r.covers else None}
    return {"lines": lines, "run_on": found}
