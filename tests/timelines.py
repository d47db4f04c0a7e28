"""Small OTIO timelines built in code for tests."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from shotfill.model import TimelineInfo


def rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def tr(start: int, dur: int, rate: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rt(start, rate), rt(dur, rate))


def clip(name: str, dur: int, rate: Fraction, *, src: int = 0, url: str | None = None,
         avail: tuple[int, int] | None = None) -> otio.schema.Clip:
    if url is None:
        ref = otio.schema.MissingReference()
    else:
        ref = otio.schema.ExternalReference(target_url=url,
                                            available_range=tr(*avail, rate) if avail else None)
    return otio.schema.Clip(name=name, media_reference=ref, source_range=tr(src, dur, rate))


def slug(name: str, dur: int, rate: Fraction) -> otio.schema.Clip:
    return otio.schema.Clip(name=name, source_range=tr(0, dur, rate),
                            media_reference=otio.schema.GeneratorReference(generator_kind="Slug"))


def gap(dur: int, rate: Fraction, *markers: otio.schema.Marker) -> otio.schema.Gap:
    g = otio.schema.Gap(source_range=tr(0, dur, rate))
    for m in markers:
        g.markers.append(m)
    return g


def marker(name: str, start: int, dur: int, rate: Fraction, comment: str = "") -> otio.schema.Marker:
    return otio.schema.Marker(name=name, marked_range=tr(start, dur, rate), comment=comment)


def timeline(rate: Fraction, *tracks: list, start_frame: int = 0, name: str = "t") -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name=name, global_start_time=rt(start_frame, rate))
    for i, items in enumerate(tracks):
        t = otio.schema.Track(name=f"V{i + 1}", kind=otio.schema.TrackKind.Video)
        for it in items:
            t.append(it)
        tl.tracks.append(t)
    return tl


def info(rate: Fraction, start_frame: int = 0, *, drop_frame: bool | None = None, path: str = "/tmp/t.otio",
         size: tuple[int, int] | None = (320, 180)) -> TimelineInfo:
    df = rate.denominator == 1001 and rate.numerator in (30000, 60000) if drop_frame is None else drop_frame
    return TimelineInfo(path=path, format="otio_json", name="t", rate=rate, drop_frame=df,
                        start_frame=start_frame, width=size[0] if size else None, height=size[1] if size else None)


def holes_timeline(path: Path, notes: list[str], frames: int = 10) -> Path:
    """A 25 fps .otio from 01:00:00:00 of GEN: gaps, one per note (``"a prompt | takes=2"``), written to ``path``."""
    r25 = Fraction(25)
    tl = otio.schema.Timeline(name=path.stem, global_start_time=otio.opentime.RationalTime(90000, 25))
    t = otio.schema.Track(name="V1", kind="Video")
    for n in notes:
        t.append(gap(frames, r25, marker(f"GEN: {n}", 0, 1, r25)))
    tl.tracks.append(t)
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(path))
    return path


def generated(path: Path) -> list[otio.schema.Clip]:
    """The clips ShotFill placed in the timeline file at ``path``."""
    return [c for c in otio.adapters.read_from_file(str(path)).find_clips() if "shotfill" in c.metadata]
