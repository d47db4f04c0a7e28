"""The scan's sparse walk finds exactly what the walk before it found, on every kind of timeline.

The scan no longer makes an object for each item of each video track: it
keeps each track's item positions as numbers and looks at an item only when
something points at it (a gap, a marked item, a ``GEN:`` name, a neighbour of
a placeholder, a track or stack marker over it).  ``scan_before`` is the scan
as it was; generated timelines (several video tracks, audio, gaps, slugs,
clips with missing and real media, transitions, nested stacks that show part
of their content, markers on items, tracks and stacks, other rates and
fractions of frames) and the real corpus must give the same placeholders,
positions, neighbours, warnings and strays.
"""

from __future__ import annotations

import random
from fractions import Fraction

import opentimelineio as otio
import pytest

import scan_before
from shotfill.scan import placeholders as ph
from timelines import info

RATES = [Fraction(24), Fraction(25), Fraction(24000, 1001), Fraction(30000, 1001)]


def _rt(v: float, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(v, float(rate))


def _tr(s: float, d: float, rate: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(s, rate), _rt(d, rate))


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.rate = self.r.choice(RATES)
        self.n = 0
        #: a clip at another rate or a fraction of a frame now and then: OTIO's own ranges then
        self.odd = self.r.random() < 0.3

    def marker(self, dur: int, *, gen: float = 0.6, reach: int = 0) -> otio.schema.Marker:
        self.n += 1
        r = self.r
        tagged = r.random() < gen
        name = (f"{r.choice(['GEN:', 'gen :', ' Gen:'])} shot {self.n} | seed={self.n}" if tagged
                else r.choice(["note", "check sync", ""]))
        comment = ""
        if not tagged and r.random() < 0.2:
            name, comment = f"m{self.n}", f"GEN: in the comment {self.n}"
        start = r.randrange(-reach, max(1, dur) + reach)
        length = r.choice([0, 1, 1, 2, max(1, dur)])
        m = otio.schema.Marker(name=name, comment=comment, marked_range=_tr(start, length, self.rate))
        if r.random() < 0.15:        # where Resolve and FCP put the note
            key, sub = r.choice([("Resolve_OTIO", "Note"), ("fcp_xml", "comment"), ("other", "x")])
            m.metadata[key] = {sub: f"GEN: from {key} {self.n}" if r.random() < 0.7 else "plain"}
        return m

    def item(self, depth: int, flat: bool) -> otio.core.Item:
        r, rate = self.r, self.rate
        self.n += 1
        kind = r.choices(["clip", "gap", "slug", "missing", "named", "stack", "odd"],
                         [40, 20, 6, 8, 6, 5 if depth < 2 and not flat else 0, 4 if self.odd else 0])[0]
        dur = r.choice([0, 1, 5, 12, 24, 48, 100]) if r.random() < 0.1 else r.randrange(1, 60)
        src = r.randrange(0, 500)
        it: otio.core.Item
        if kind == "gap":
            # a gap's GEN: name is no note (only a clip's is)
            it = otio.schema.Gap(name=f"GEN: gap {self.n}" if r.random() < 0.1 else "",
                                 source_range=_tr(0, dur, rate))
        elif kind == "stack":
            inner = otio.schema.Stack(name=f"nest{self.n}")
            total = 0
            for _ in range(r.randrange(1, 3)):
                t = self.track(depth + 1, r.randrange(1, 6))
                inner.append(t)
                total = max(total, sum(1 for _ in t))
            if r.random() < 0.7:     # shows only part of its content, like a compound clip
                inner.source_range = _tr(r.randrange(0, 20), r.randrange(1, 80), rate)
            if r.random() < 0.4:
                inner.markers.append(self.marker(40))
            it = inner
        elif kind == "odd":
            if r.random() < 0.5:
                it = otio.schema.Clip(name=f"pal{self.n}", source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(src, 25 if rate != 25 else 24),
                    otio.opentime.RationalTime(dur, 25 if rate != 25 else 24)))
            else:
                it = otio.schema.Gap(source_range=_tr(0, dur + 0.5, rate))
        else:
            if kind == "clip":
                ref: otio.core.MediaReference = otio.schema.ExternalReference(
                    target_url=f"file:///media/c{self.n}.mov",
                    available_range=_tr(0, 1000, rate) if r.random() < 0.5 else None)
            elif kind == "slug":
                ref = otio.schema.GeneratorReference(generator_kind=r.choice(["Slug", "SolidColor", "bars"]))
            else:
                ref = otio.schema.MissingReference()
            name = f"GEN: named {self.n}" if kind == "named" else f"c{self.n}"
            it = otio.schema.Clip(name=name, media_reference=ref, source_range=_tr(src, dur, rate))
            if r.random() < 0.1:
                it.metadata["cmx_3600"] = {"comments": [f"SOURCE FILE: /nowhere/c{self.n}.mov"]}
        if kind != "stack" and r.random() < 0.25:
            for _ in range(r.randrange(1, 3)):
                m = self.marker(dur, reach=30)
                if kind != "odd":
                    # in the item's own time: a clip's markers count from its source in point
                    m.marked_range = _tr(m.marked_range.start_time.value + (src if kind != "gap" else 0),
                                         m.marked_range.duration.value, rate)
                it.markers.append(m)
        return it

    def track(self, depth: int, count: int, kind: str = "Video") -> otio.schema.Track:
        r = self.r
        t = otio.schema.Track(name=f"T{self.n}", kind=kind)
        prev_item = False
        flat = r.random() < 0.4      # clips and gaps only: the scan places these all at once
        for _ in range(count):
            if prev_item and not flat and r.random() < 0.1:
                t.append(otio.schema.Transition(transition_type="SMPTE_Dissolve",
                                                in_offset=_rt(2, self.rate), out_offset=_rt(2, self.rate)))
                prev_item = False
                continue
            t.append(self.item(depth, flat))
            prev_item = True
        if r.random() < 0.2:
            for _ in range(r.randrange(1, 4)):
                t.markers.append(self.marker(200))
        if r.random() < 0.1:
            t.source_range = _tr(r.randrange(0, 10), 5000, self.rate)
        return t

    def timeline(self) -> otio.schema.Timeline:
        r = self.r
        tl = otio.schema.Timeline(name="gen", global_start_time=_rt(86400, self.rate))
        for _ in range(r.randrange(1, 4)):
            tl.tracks.append(self.track(0, r.randrange(0, 40)))
        if r.random() < 0.5:
            tl.tracks.append(self.track(0, r.randrange(1, 10), kind="Audio"))
        if r.random() < 0.5:
            for _ in range(r.randrange(1, 4)):
                tl.tracks.markers.append(self.marker(400, gen=0.8))
        return tl


def _projection(res) -> tuple:
    return ([p.model_dump() for p in res.placeholders], res.warnings, res.stray)


def _same(tl: otio.schema.Timeline, tinfo) -> int:
    old = scan_before.scan_timeline(tl, tinfo)
    new = ph.scan_timeline(tl, tinfo)
    assert _projection(new) == _projection(old)
    return len(old.placeholders)


def test_generated_timelines_scan_as_before():
    found = stray = 0
    for seed in range(300):
        g = _Gen(seed)
        tl = g.timeline()
        res = scan_before.scan_timeline(tl, info(g.rate, 1000))
        found += len(res.placeholders)
        stray += len(res.stray)
        _same(tl, info(g.rate, 1000))
    # the generator makes both: timelines where nothing is found would prove nothing
    assert found > 300 and stray > 50


@pytest.mark.slow
def test_corpus_timelines_scan_as_before():
    from shotfill.timeline.read import read_timeline
    from test_timeline_io import CORPUS, MANIFEST
    if not MANIFEST:
        pytest.skip("../shared/corpus is not beside the checkout")
    compared = 0
    for row in MANIFEST:
        path = CORPUS / row["file"]
        try:
            read = read_timeline(path, rate=row["rate_if_known"] or "24")
        except Exception:  # noqa: BLE001 - files ShotFill refuses are test_corpus_scan's business
            continue
        tinfo = info(read.rate, read.start_frame, drop_frame=read.drop_frame, path=str(path))
        _same(read.timeline, tinfo)
        compared += 1
    assert compared > 20


def test_track_and_stack_markers_find_items_at_their_edges_on_a_long_track():
    """The bisection over a track's positions keeps the items at a range's edges: a zero-length
    gap on a marker's first frame (hit), a gap that starts where one marker ends and ends where
    another starts (not hit); and a track whose lengths go back (below zero) is walked in full."""
    rate = Fraction(24)
    track = otio.schema.Track(name="V1", kind="Video")
    for i in range(300):
        track.append(otio.schema.Clip(name=f"c{i}", media_reference=otio.schema.ExternalReference(
            target_url=f"file:///m/c{i}.mov"), source_range=_tr(0, 10, rate)))
    at = 10 * 150
    track.insert(150, otio.schema.Gap(source_range=_tr(0, 0, rate)))         # zero frames, at frame 1500
    track.insert(140, otio.schema.Gap(source_range=_tr(0, 4, rate)))         # frames 1400-1403
    track.markers.append(otio.schema.Marker(name="GEN: from the track", marked_range=_tr(at + 4, 1, rate)))
    tl = otio.schema.Timeline(name="edges")
    tl.tracks.append(track)
    tl.tracks.markers.append(otio.schema.Marker(name="GEN: from the stack", marked_range=_tr(at + 4, 20, rate)))
    tl.tracks.markers.append(otio.schema.Marker(name="GEN: ends on the gap", marked_range=_tr(1396, 4, rate)))
    tl.tracks.markers.append(otio.schema.Marker(name="GEN: starts past it", marked_range=_tr(1404, 2, rate)))
    found = _same(tl, info(rate))
    res = ph.scan_timeline(tl, info(rate))
    assert found == 1 and [(p.start, p.duration, p.marker_on) for p in res.placeholders] == [(1504, 0, "track")]
    track.insert(10, otio.schema.Gap(source_range=_tr(0, -3, rate)))
    _same(tl, info(rate))
    lanes: list = []
    ph._walk_lanes(tl.tracks, rate, Fraction(0), (), "", None, lanes, [])
    # (an item of negative length is hit on its first frame only, as before)
    assert [it.index for it in lanes[0].over(95, 100)] == [9, 11] and lanes[0].ordered is False
