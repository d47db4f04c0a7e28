"""The scan's item positions (summed as whole frames) are exactly those of OTIO's range_of_all_children.

The scan walks every item of every video track, keeping only their
positions (``_place``); it adds up whole-frame lengths itself rather than
asking OTIO for each item's range (a third of the cost per item, on 200,000
items), and falls back to OTIO's ranges when a length is not a whole number
of frames at the timeline's rate.
"""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest

from shotfill.rates import to_frames
from shotfill.scan import placeholders as ph
from timelines import clip, gap, info, marker, rt, slug, timeline, tr

R24 = Fraction(24)


def reference(track: otio.schema.Track, rate: Fraction) -> list[tuple[int, object, int, int]]:
    """What OTIO says: each non-transition item's start and length, rounded to frames."""
    ranges = track.range_of_all_children()
    return [(ci, c, to_frames(ranges[c].start_time, rate), to_frames(ranges[c].duration, rate))
            for ci, c in enumerate(track) if not isinstance(c, otio.schema.Transition)]


def _track(*items) -> otio.schema.Track:
    t = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for it in items:
        t.append(it)
    return t


def _dissolve(frames: int) -> otio.schema.Transition:
    return otio.schema.Transition(transition_type="SMPTE_Dissolve", in_offset=rt(frames, R24),
                                  out_offset=rt(frames, R24))


CASES = {
    "cuts, gaps, a dissolve": lambda: _track(clip("a", 48, R24, src=100), gap(12, R24), clip("b", 24, R24),
                                             _dissolve(6), clip("c", 30, R24), slug("s", 10, R24)),
    "a clip at another rate (OTIO's ranges)": lambda: _track(
        clip("a", 48, R24), otio.schema.Clip(name="pal", source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(37, 25))), clip("c", 24, R24)),
    "a fraction of a frame (OTIO's ranges)": lambda: _track(
        clip("a", 48, R24), otio.schema.Gap(source_range=otio.opentime.TimeRange(
            rt(0, R24), otio.opentime.RationalTime(10.5, 24))), clip("c", 24, R24)),
    "a nested stack": lambda: _track(clip("a", 10, R24), otio.schema.Stack(
        name="nest", children=[_track(clip("in", 20, R24))], source_range=tr(0, 20, R24)), gap(5, R24)),
    "empty": lambda: _track(),
}


@pytest.mark.parametrize("name", list(CASES))
def test_spans_are_otios_ranges(name):
    track = CASES[name]()
    lane = ph._Lane(track=track, label="V1", name="V1", top_index=0, offset=0)
    ph._place(lane, track, R24, 0)
    got = [(it.index, it.obj, it.start, it.end - it.start) for it in map(lane.item, range(len(lane)))]
    assert [(ci, c.name, s, d) for ci, c, s, d in got] == \
        [(ci, c.name, s, d) for ci, c, s, d in reference(track, R24)]


def test_a_scan_over_a_dissolve_and_a_foreign_rate_places_its_holes_as_before():
    tl = timeline(R24, [clip("a", 48, R24, url="/m/a.mov"), _dissolve(6),
                        gap(24, R24, marker("GEN: after the dissolve", 0, 1, R24)),
                        otio.schema.Clip(name="pal", source_range=otio.opentime.TimeRange(
                            otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(25, 25))),
                        gap(12, R24, marker("GEN: after the foreign clip", 0, 1, R24))])
    res = ph.scan_timeline(tl, info(R24))
    assert [(p.start, p.duration) for p in res.placeholders] == [(48, 24), (96, 12)]
