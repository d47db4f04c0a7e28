"""Which items are placeholders, where they are, and what scan warns about."""

from fractions import Fraction

import opentimelineio as otio
import pytest

from shotfill.scan.placeholders import scan_timeline
from timelines import clip, gap, info, marker, slug, timeline, tr

R24 = Fraction(24000, 1001)
R2997 = Fraction(30000, 1001)


def scan(tl, rate, start=0, **kw):
    return scan_timeline(tl, info(rate, start, **kw))


def test_marker_on_gap_makes_a_placeholder_with_exact_frames():
    tl = timeline(R24, [clip("a", 48, R24), gap(36, R24, marker("GEN: a fox | seed=7", 0, 36, R24)), clip("b", 24, R24)],
                  start_frame=86400)
    res = scan(tl, R24, 86400)
    assert res.warnings == []
    [ph] = res.placeholders
    assert (ph.kind, ph.track, ph.start, ph.duration, ph.record_frame) == ("gap", "V1", 48, 36, 86448)
    assert ph.timecode == "01:00:02:00"
    assert ph.prompt == "a fox" and ph.options.seed == 7 and ph.marker_on == "gap"
    assert ph.item_path == (0, 1)
    assert ph.before.name == "a" and ph.before.source_frame == 47
    assert ph.after.name == "b" and ph.after.source_frame == 0


def test_track_marker_overlapping_a_gap():
    t = [clip("a", 10, R24), gap(5, R24), clip("b", 10, R24)]
    tl = timeline(R24, t)
    tl.tracks[0].markers.append(marker("GEN: sea", 12, 1, R24))
    [ph] = scan(tl, R24).placeholders
    assert (ph.start, ph.duration, ph.marker_on) == (10, 5, "track")


def test_stack_marker_fills_the_hole_on_the_lowest_track_only_where_no_picture():
    v1 = [clip("a", 10, R24), gap(10, R24), clip("b", 10, R24)]
    v2 = [gap(30, R24)]
    tl = timeline(R24, v1, v2)
    tl.tracks.markers.append(marker("GEN: hole", 12, 1, R24))      # V1 gap, V2 empty: a hole on V1
    tl.tracks.markers.append(marker("GEN: over picture", 2, 1, R24))  # V1 has picture there
    res = scan(tl, R24)
    [ph] = res.placeholders
    assert (ph.track, ph.start, ph.duration, ph.marker_on) == ("V1", 10, 10, "timeline" if False else "stack")
    assert len(res.warnings) == 1 and "over picture" in res.warnings[0] and "00:00:00:02" in res.warnings[0]


def test_neighbour_marker_reaching_into_the_gap():
    a = clip("a", 10, R24, src=100)
    a.markers.append(marker("GEN: bridge", 108, 4, R24))   # clip space: frames 8..12 of the clip, past its end
    tl = timeline(R24, [a, gap(6, R24), clip("b", 10, R24)])
    [ph] = scan(tl, R24).placeholders
    assert (ph.kind, ph.start, ph.duration, ph.marker_on) == ("gap", 10, 6, "neighbour")


def test_marker_on_an_ordinary_clip_not_reaching_a_gap_is_a_warning():
    a = clip("a", 10, R24, url="file:///nowhere/a.mov")
    a.markers.append(marker("GEN: nope", 2, 1, R24))
    res = scan(timeline(R24, [a, gap(5, R24), clip("b", 5, R24)]), R24)
    assert res.placeholders == []
    assert "covers no gap" in res.warnings[0]


def test_placeholder_clips_by_name_and_by_marker():
    s = slug("GEN: title card", 12, R24)
    missing = clip("shot 12", 8, R24)
    missing.markers.append(marker("GEN: a missing shot", 0, 1, R24))
    ordinary_missing = clip("shot 13", 8, R24)
    tl = timeline(R24, [clip("a", 10, R24, url="a.mov"), s, missing, ordinary_missing])
    res = scan(tl, R24)
    got = [(p.kind, p.start, p.duration, p.prompt, p.marker_on) for p in res.placeholders]
    assert got == [("clip", 10, 12, "title card", "name"), ("clip", 22, 8, "a missing shot", "clip")]


def test_ordinary_markers_are_left_alone_and_not_reported():
    g = gap(5, R24, marker("music cue", 0, 1, R24))
    res = scan(timeline(R24, [clip("a", 5, R24), g]), R24)
    assert res.placeholders == [] and res.warnings == []


def test_nested_stack_gap_is_found_at_its_timeline_position():
    inner = otio.schema.Stack(name="compound", source_range=tr(5, 20, R24))
    it = otio.schema.Track(kind="Video")
    it.append(clip("x", 10, R24))
    it.append(gap(20, R24, marker("GEN: inside", 0, 1, R24)))
    inner.append(it)
    tl = timeline(R24, [clip("a", 7, R24), inner])
    [ph] = scan(tl, R24).placeholders
    # the inner gap starts at inner time 10, the stack shows inner 5..25 at timeline 7: 15 of its 20 frames
    assert (ph.start, ph.duration, ph.track) == (7 + 10 - 5, 15, "V1>V1")
    assert ph.item_path == (0, 1, 0, 1)
    assert ph.problems and "only 15 of its 20 frames show through" in ph.problems[0] and "compound" in ph.problems[0]


def _compound(gap_frames: int) -> otio.schema.Stack:
    """A compound clip's content: x [0,10) | gap with a GEN marker [10, 10+gap_frames) | y [.., +10)."""
    inner = otio.schema.Stack(name="compound")
    it = otio.schema.Track(kind="Video")
    it.append(clip("x", 10, R24))
    it.append(gap(gap_frames, R24, marker("GEN: inside", 0, 1, R24)))
    it.append(clip("y", 10, R24))
    inner.append(it)
    return inner


def test_a_compound_shown_twice_gives_each_ref_clip_its_own_hole_at_its_sequence_time():
    one, two = _compound(6), _compound(6)
    one.source_range, two.source_range = tr(0, 26, R24), tr(8, 10, R24)   # all of it; inner 8..18 only
    tl = timeline(R24, [clip("a", 7, R24), one, clip("b", 3, R24), two])
    got = [(p.start, p.duration, bool(p.problems)) for p in scan(tl, R24).placeholders]
    # the first shows the whole hole at 7+10; the second shows inner 10..16 of it at 36+(10-8)
    assert got == [(17, 6, False), (38, 6, False)]


def test_a_hole_a_compound_does_not_show_is_no_placeholder_and_no_stray():
    c = _compound(900)
    c.source_range = tr(0, 10, R24)                     # shows x only
    res = scan(timeline(R24, [clip("a", 7, R24), c]), R24)
    assert res.placeholders == [] and res.stray == []


def test_transition_next_to_a_gap_does_not_shift_it():
    tl = timeline(R24, [clip("a", 20, R24),
                        otio.schema.Transition(in_offset=tr(0, 4, R24).duration, out_offset=tr(0, 4, R24).duration),
                        gap(12, R24, marker("GEN: after dissolve", 0, 1, R24)), clip("b", 10, R24)])
    [ph] = scan(tl, R24).placeholders
    assert (ph.start, ph.duration, ph.item_path) == (20, 12, (0, 2))
    assert ph.before.name == "a" and ph.after.name == "b"


def test_drop_frame_timecode_and_placeholders_at_both_ends():
    start = 107892   # 01:00:00;00 at 29.97 DF
    tl = timeline(R2997, [gap(30, R2997, marker("GEN: first", 0, 1, R2997)), clip("a", 1800, R2997),
                          gap(15, R2997, marker("GEN: last", 0, 1, R2997))], start_frame=start)
    res = scan(tl, R2997, start)
    first, last = res.placeholders
    assert first.timecode == "01:00:00;00" and first.before is None and first.start == 0
    assert last.start == 1830 and last.duration == 15 and last.after is None
    assert last.timecode == "01:01:01;02"   # 107892 + 1830 frames, drop frame


def test_zero_frame_gap_is_a_problem():
    tl = timeline(R24, [clip("a", 5, R24), gap(0, R24, marker("GEN: nothing", 0, 1, R24)), clip("b", 5, R24)])
    [ph] = scan(tl, R24).placeholders
    assert any("zero frames" in p for p in ph.problems)


def test_several_placeholders_on_several_tracks_are_ordered_and_unique():
    v1 = [gap(10, R24, marker("GEN: one", 0, 1, R24)), clip("a", 10, R24), gap(10, R24, marker("GEN: two", 0, 1, R24))]
    v2 = [gap(5, R24), slug("GEN: overlay", 5, R24)]
    res = scan(timeline(R24, v1, v2), R24)
    assert [(p.track, p.start) for p in res.placeholders] == [("V1", 0), ("V2", 5), ("V1", 20)]
    assert len({p.id for p in res.placeholders}) == 3


def test_scan_does_not_change_the_timeline():
    tl = timeline(R24, [clip("a", 10, R24), gap(5, R24, marker("GEN: x", 0, 1, R24))])
    before = otio.adapters.write_to_string(tl)
    scan(tl, R24)
    assert otio.adapters.write_to_string(tl) == before


@pytest.mark.parametrize("rate", [Fraction(25), Fraction(50), Fraction(60000, 1001), R24])
def test_rates_are_carried_exactly(rate):
    tl = timeline(rate, [clip("a", 7, rate), gap(9, rate, marker("GEN: x", 0, 1, rate))])
    [ph] = scan(tl, rate).placeholders
    assert ph.rate == rate and (ph.start, ph.duration) == (7, 9)
