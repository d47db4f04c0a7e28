"""Reading timelines: real adapters, real files.

Small timelines are written to tmp_path for the targeted cases; the corpus in
../shared/corpus (beside the checkout) is read in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from conftest import CORPUS
from shotfill.errors import TimelineError, UsageError
from shotfill.rates import parse_rate, timecode_to_frames
from shotfill.model import ReadResult
from shotfill.timeline.adapters import write_file as write_timeline_atomic
from shotfill.timeline.read import detect_format, read_timeline

R23 = Fraction(24000, 1001)
R29 = Fraction(30000, 1001)
R59 = Fraction(60000, 1001)



# --------------------------------------------------------------------------- helpers


def edl(*events: str, title: str = "TEST", fcm: str | None = "NON-DROP FRAME") -> str:
    head = [f"TITLE: {title}"]
    if fcm:
        head.append(f"FCM: {fcm}")
    return "\n".join(head + [""] + list(events)) + "\n"


def ev(num: int, reel: str, chan: str, src_in: str, src_out: str, rec_in: str, rec_out: str,
       *comments: str, edit: str = "C") -> str:
    line = f"{num:03d}  {reel:<8} {chan:<5} {edit:<8} {src_in} {src_out} {rec_in} {rec_out}"
    return "\n".join([line, *comments])


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def video(result: ReadResult) -> otio.schema.Track:
    return next(t for t in result.timeline.tracks if t.kind == otio.schema.TrackKind.Video)


def record_frame_of(result: ReadResult, track: otio.schema.Track, clip, marker) -> int:
    """Absolute record frame of a clip marker, computed the way ShotFill will:
    marker time -> clip's source range -> track time -> + timeline start."""
    rng = track.trimmed_range_of_child_at_index(track.index(clip))
    offset = marker.marked_range.start_time - clip.source_range.start_time
    track_time = rng.start_time + offset
    return result.start_frame + round(track_time.value / track_time.rate * float(result.rate))


def abs_start(result: ReadResult, track, item) -> int:
    rng = track.trimmed_range_of_child_at_index(track.index(item))
    return result.start_frame + round(rng.start_time.value)


def no_negative_ranges(timeline: otio.schema.Timeline) -> None:
    for track in timeline.tracks:
        assert track.source_range is None or track.source_range.start_time.value >= 0
        for i in range(len(track)):
            track.trimmed_range_of_child_at_index(i)  # raises on a negative offset


# --------------------------------------------------------------------------- EDL layout


def test_edl_negative_offset_becomes_global_start(tmp_path):
    p = write(tmp_path, "cut.edl", edl(
        ev(1, "A001", "V", "10:00:00:00", "10:00:02:00", "01:00:00:00", "01:00:02:00",
           "* FROM CLIP NAME:  shot_a"),
        ev(2, "A002", "V", "11:00:00:00", "11:00:01:00", "01:00:04:00", "01:00:05:00",
           "* FROM CLIP NAME:  shot_b"),
    ))
    r = read_timeline(p, rate=24)
    tl = r.timeline
    assert r.format == "edl" and r.rate == Fraction(24) and r.start_frame == 86400
    assert tl.global_start_time == otio.opentime.RationalTime(86400, 24)
    assert otio.opentime.to_timecode(tl.global_start_time) == "01:00:00:00"
    no_negative_ranges(tl)
    track = video(r)
    assert [type(i).__name__ for i in track] == ["Clip", "Gap", "Clip"]
    assert abs_start(r, track, track[0]) == 86400
    assert abs_start(r, track, track[2]) == timecode_to_frames("01:00:04:00", Fraction(24))
    assert track[1].duration().value == 48
    assert track[0].metadata["shotfill"]["edl_line"] == 4
    # the event tag used internally is gone from the clip's metadata
    assert "cmx_3600" not in track[0].metadata or not any(
        "SHOTFILL" in c for c in track[0].metadata["cmx_3600"].get("comments", []))
    assert r.source_text == p.read_text() and r.encoding == "utf-8"


def test_edl_tracks_starting_later_get_a_leading_gap(tmp_path):
    p = write(tmp_path, "av.edl", edl(
        ev(1, "SND", "A", "00:00:00:00", "00:00:05:00", "01:00:00:00", "01:00:05:00"),
        ev(2, "PIC", "V", "02:00:00:00", "02:00:02:00", "01:00:01:00", "01:00:03:00"),
    ))
    r = read_timeline(p, rate=25)
    assert r.start_frame == timecode_to_frames("01:00:00:00", Fraction(25))
    no_negative_ranges(r.timeline)
    v = video(r)
    assert isinstance(v[0], otio.schema.Gap) and v[0].duration().value == 25
    assert abs_start(r, v, v[1]) == timecode_to_frames("01:00:01:00", Fraction(25))


# --------------------------------------------------------------------------- LOC markers


def test_loc_marker_lands_on_its_record_frame_23976(tmp_path):
    p = write(tmp_path, "loc.edl", edl(
        ev(1, "A001", "V", "10:00:00:00", "10:00:02:00", "01:00:00:00", "01:00:02:00"),
        ev(2, "A002", "V", "12:00:05:00", "12:00:08:00", "01:00:05:00", "01:00:08:00",
           "* FROM CLIP NAME:  shot_b",
           "* LOC: 01:00:06:12 YELLOW  GEN: a red fox in snow seed=4"),
    ))
    r = read_timeline(p, rate="23.976")
    assert r.rate == R23
    track = video(r)
    clip = track[2]
    (marker,) = clip.markers
    assert marker.name == "GEN: a red fox in snow seed=4"      # as written, not upper-cased
    assert marker.color == "YELLOW"
    assert marker.metadata["cmx_3600"]["color"] == "YELLOW"
    # in the clip's own source time: 12:00:05:00 + 1s12f
    src = timecode_to_frames("12:00:05:00", R23) + 36
    assert marker.marked_range.start_time == otio.opentime.RationalTime(src, float(R23))
    assert record_frame_of(r, track, clip, marker) == timecode_to_frames("01:00:06:12", R23)
    assert r.warnings == []


def test_drop_frame_loc_read_and_mapped_2997(tmp_path):
    # the stock reader's LOC regex skips ';' timecodes entirely
    p = write(tmp_path, "df.edl", edl(
        ev(1, "A001", "V", "05:00:00;00", "05:00:20;00", "01:00:50;00", "01:01:10;02",
           "* LOC: 01:01:00;02 RED     GEN: first frame of minute one",
           "* LOC: 01:00:55;10 ResolveColorBlue note on blue"),
        fcm="DROP FRAME",
    ))
    r = read_timeline(p, rate=R29)
    assert r.rate == R29 and r.drop_frame is True
    assert r.start_frame == timecode_to_frames("01:00:50;00", R29)
    track = video(r)
    clip = track[0]
    got = {m.name: (m.color, record_frame_of(r, track, clip, m)) for m in clip.markers}
    assert got == {
        "GEN: first frame of minute one": ("RED", timecode_to_frames("01:01:00;02", R29)),
        "note on blue": ("BLUE", timecode_to_frames("01:00:55;10", R29)),
    }


def test_df_timecode_with_colons_under_fcm_drop_frame(tmp_path):
    p = write(tmp_path, "df_colons.edl", edl(
        ev(1, "A001", "V", "00:10:00:00", "00:10:10:00", "01:00:00:00", "01:00:10:00",
           "* LOC: 01:00:05:00 GREEN marker"),
        fcm="DROP FRAME",
    ))
    r = read_timeline(p, rate="29.97")
    assert r.drop_frame is True
    assert r.start_frame == timecode_to_frames("01:00:00;00", R29) == 107892
    clip = video(r)[0]
    assert record_frame_of(r, video(r), clip, clip.markers[0]) == timecode_to_frames("01:00:05;00", R29)


def test_loc_on_multichannel_event_and_one_digit_hour(tmp_path):
    p = write(tmp_path, "b.edl", edl(
        ev(1, "A001", "B", "01:00:00:01", "01:00:02:01", "01:00:00:00", "01:00:02:00",
           "*LOC: 1:00:01:00  YELLOW  DRA_001_0001"),
    ))
    r = read_timeline(p, rate=24)
    for track in r.timeline.tracks:
        clip = track[0]
        (m,) = clip.markers
        assert m.name == "DRA_001_0001"
        assert record_frame_of(r, track, clip, m) == 86424


# --------------------------------------------------------------------------- compensations


def test_latin1_edl(tmp_path):
    text = edl(ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00",
                  "* FROM CLIP NAME:  Schönbrunn Palast"))
    p = write(tmp_path, "latin1.edl", text.encode("latin-1"))
    r = read_timeline(p, rate=25)
    assert video(r)[0].name == "Schönbrunn Palast"
    assert r.encoding == "cp1252"
    assert "Schönbrunn" in r.source_text
    assert any("latin1.edl" in w and "not UTF-8" in w for w in r.warnings)


def test_frame_24_at_24fps_is_carried(tmp_path):
    p = write(tmp_path, "f24.edl", edl(
        ev(1, "A001", "V", "00:00:10:00", "00:00:10:24", "01:00:00:00", "01:00:01:00"),
    ))
    r = read_timeline(p, rate=24)
    clip = video(r)[0]
    assert clip.source_range.duration.value == 24
    assert any("f24.edl" in w and "next second" in w for w in r.warnings)


def test_frame_beyond_the_rate_is_an_error(tmp_path):
    p = write(tmp_path, "f29.edl", edl(
        ev(1, "A001", "V", "00:00:10:00", "00:00:10:29", "01:00:00:00", "01:00:00:29"),
    ))
    with pytest.raises(TimelineError, match=r"f29\.edl.*frame 29") as exc:
        read_timeline(p, rate=24)
    assert "--rate" in str(exc.value)


def test_duration_mismatch_keeps_record_length_with_warning(tmp_path):
    p = write(tmp_path, "mismatch.edl", edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:24", "01:00:00:00", "01:00:01:22"),
        ev(2, "A002", "V", "00:00:00:00", "00:00:01:00", "01:00:01:22", "01:00:02:22"),
    ))
    r = read_timeline(p, rate=25)
    track = video(r)
    assert [c.duration().value for c in track] == [47, 25]
    assert abs_start(r, track, track[1]) == timecode_to_frames("01:00:01:22", Fraction(25))
    assert any("mismatch.edl" in w and "disagree" in w for w in r.warnings)


def test_transition_at_start_of_track_and_crlf(tmp_path):
    text = edl(
        ev(1, "BL", "V", "00:00:00:00", "00:00:00:00", "01:00:00:00", "01:00:00:00"),
        ev(1, "A001", "V", "00:00:00:00", "00:00:02:00", "01:00:00:00", "01:00:02:00",
           edit="D    012"),
        ev(2, "A002", "V", "00:00:00:00", "00:00:01:00", "01:00:02:00", "01:00:03:00"),
    ).replace("\n", "\r\n")
    p = write(tmp_path, "fadein.edl", text.encode("ascii"))
    r = read_timeline(p, rate=24)
    assert [c.name for c in video(r).find_clips()] == ["1", "2"] or len(video(r)) == 2
    assert r.start_frame == 86400
    assert "\r\n" in r.source_text
    assert any("fadein.edl" in w and "read as cuts" in w for w in r.warnings)


def test_overlapping_events_go_to_an_extra_track(tmp_path):
    p = write(tmp_path, "overlap.edl", edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:04:00", "01:00:00:00", "01:00:04:00"),
        ev(2, "A002", "V", "00:00:00:00", "00:00:02:00", "01:00:01:00", "01:00:03:00"),
        ev(3, "A003", "V", "00:00:00:00", "00:00:01:00", "01:00:04:00", "01:00:05:00"),
    ))
    r = read_timeline(p, rate=24)
    names = [t.name for t in r.timeline.tracks]
    assert names == ["V", "V_2"]
    v2 = r.timeline.tracks[1]
    assert abs_start(r, v2, v2[1]) == 86424
    assert any("overlap" in w for w in r.warnings)


def test_resolve_marker_edl_reads(tmp_path):
    # Resolve's "Timeline markers to EDL": a note that starts with a digit
    # makes the stock reader fail on an "event line" of the wrong shape.
    text = (
        "TITLE: Timeline 1\r\nFCM: NON-DROP FRAME\r\n\r\n"
        "001  001      V     C        01:00:02:03 01:00:02:04 01:00:02:03 01:00:02:04  \r\n"
        "GEN: a red fox in snow |C:ResolveColorPurple |M:Marker 1 |D:48\r\n\r\n"
        "002  001      V     C        01:00:05:00 01:00:05:01 01:00:05:00 01:00:05:01  \r\n"
        "3 foxes 01:00:00:00 |C:ResolveColorBlue |M:Marker 2 |D:24\r\n"
    )
    p = write(tmp_path, "Timeline.edl", text.encode("ascii"))
    r = read_timeline(p, rate=24)
    clips = list(r.timeline.find_clips())
    assert len(clips) == 2
    assert clips[0].metadata["cmx_3600"]["comments"][0].startswith("GEN: a red fox")


def test_broken_event_line_is_kept_as_a_comment_with_a_warning(tmp_path):
    p = write(tmp_path, "short.edl", edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00"),
        "002  A002     V     C        00:00:00:00 00:00:01:00 01:00:01:00",
        ev(3, "A003", "V", "00:00:00:00", "00:00:01:00", "01:00:02:00", "01:00:03:00"),
    ))
    r = read_timeline(p, rate=24)
    assert len(list(r.timeline.find_clips())) == 2
    assert any("short.edl" in w and "line 5" in w and "not one" in w for w in r.warnings)


def test_pathological_line_is_refused_fast(tmp_path):
    p = write(tmp_path, "huge.edl", "TITLE: x\n001  A  V  C  " + "9" * 100_000 + "\n")
    with pytest.raises(TimelineError, match="huge.edl"):
        read_timeline(p, rate=24)


def test_reversed_record_times_are_an_error(tmp_path):
    p = write(tmp_path, "rev.edl", edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:01:00", "01:00:00:00")))
    with pytest.raises(TimelineError, match=r"rev\.edl: line 4: .*record out"):
        read_timeline(p, rate=24)


# --------------------------------------------------------------------------- rates


@pytest.mark.parametrize("given, fcm, sep, expect, drop", [
    ("23.976", "NON-DROP FRAME", ":", R23, False),
    ("25", "NON-DROP FRAME", ":", Fraction(25), False),
    ("29.97", "DROP FRAME", ";", R29, True),
    ("29.97", "NON-DROP FRAME", ":", R29, False),
    ("59.94", "DROP FRAME", ";", R59, True),
    ("30000/1001", None, ";", R29, True),
    ("30000/1001", None, ":", R29, False),
])
def test_edl_rates_are_exact(tmp_path, given, fcm, sep, expect, drop):
    def tc(s):
        return s[:8] + sep + s[9:]
    p = write(tmp_path, "rate.edl", edl(
        ev(1, "A001", "V", tc("00:00:00:00"), tc("00:00:10:00"), tc("01:00:00:00"), tc("01:00:10:00")),
        fcm=fcm))
    r = read_timeline(p, rate=given)
    assert r.rate == expect and isinstance(r.rate, Fraction)
    assert r.drop_frame is drop
    clip = video(r)[0]
    assert clip.source_range.duration.rate == float(expect)
    assert r.timeline.global_start_time.rate == float(expect)
    assert r.start_frame == timecode_to_frames(tc("01:00:00:00"), expect)


def test_missing_rate_for_an_edl_is_a_usage_error(tmp_path):
    p = write(tmp_path, "norate.edl", edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00")))
    with pytest.raises(UsageError) as exc:
        read_timeline(p)
    assert "norate.edl" in str(exc.value) and "--rate 23.976" in str(exc.value)


FCP7 = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4"><sequence id="seq-1"><name>Seq</name><duration>48</duration>
<rate><timebase>{tb}</timebase><ntsc>{ntsc}</ntsc></rate>
<timecode><rate><timebase>{tb}</timebase><ntsc>{ntsc}</ntsc></rate>
<string>01:00:00{sep}00</string><frame>{frame}</frame><displayformat>{df}</displayformat></timecode>
<media><video><format><samplecharacteristics><width>1920</width><height>1080</height>
<rate><timebase>{tb}</timebase><ntsc>{ntsc}</ntsc></rate></samplecharacteristics></format>
<track><clipitem id="c1"><name>a</name><duration>48</duration>
<rate><timebase>{tb}</timebase><ntsc>{ntsc}</ntsc></rate><start>0</start><end>48</end><in>0</in><out>48</out>
<file id="f1"><name>a.mov</name><pathurl>file:///a.mov</pathurl>
<rate><timebase>{tb}</timebase><ntsc>{ntsc}</ntsc></rate><duration>100</duration></file>
</clipitem></track></video></media></sequence></xmeml>
"""


@pytest.mark.parametrize("tb, ntsc, df, expect, drop, frame", [
    (24, "TRUE", "NDF", R23, False, 86400),
    (30, "TRUE", "DF", R29, True, 107892),
    (30, "TRUE", "NDF", R29, False, 108000),
    (25, "FALSE", "NDF", Fraction(25), False, 90000),
])
def test_fcp7_xml_rate_drop_frame_and_size(tmp_path, tb, ntsc, df, expect, drop, frame):
    p = write(tmp_path, "seq.xml", FCP7.format(tb=tb, ntsc=ntsc, df=df, frame=frame,
                                             sep=";" if df == "DF" else ":"))
    r = read_timeline(p)
    assert (r.format, r.rate, r.drop_frame) == ("fcp_xml", expect, drop)
    assert r.start_frame == frame
    assert (r.width, r.height) == (1920, 1080)
    assert r.timeline.global_start_time.rate == float(expect)


FCPX = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.9">
  <resources>
    <format id="r1" name="FFVideoFormat1080p2398" frameDuration="1001/24000s" width="1920" height="1080"/>
    <asset id="r2" name="A" start="0s" duration="240240/24000s" hasVideo="1" format="r1" src="file:///a.mov"/>
  </resources>
  <library><event name="E"><project name="P">
    <sequence format="r1" duration="120120/24000s" tcStart="86486400/24000s" tcFormat="NDF">
      <spine>
        <asset-clip ref="r2" offset="86486400/24000s" name="one" duration="48048/24000s" format="r1"/>
        <gap offset="86534448/24000s" name="Gap" duration="24024/24000s" start="86486400/24000s">
          <marker start="86498412/24000s" duration="1001/24000s" value="GEN: fox"/>
        </gap>
        <asset-clip ref="r2" offset="86558472/24000s" name="two" start="24024/24000s" duration="48048/24000s" format="r1"/>
      </spine>
    </sequence>
  </project></event></library>
</fcpxml>
"""


def test_fcpx_reads_at_the_exact_ntsc_rate(tmp_path):
    # the stock adapter reads 23.976 as 23 fps and leaves the 1h start in a Gap
    p = write(tmp_path, "cut.fcpxml", FCPX)
    r = read_timeline(p)
    assert (r.format, r.rate, r.drop_frame) == ("fcpx_xml", R23, False)
    assert r.start_frame == 86400 and (r.width, r.height) == (1920, 1080)
    track = r.timeline.tracks[0]
    assert [type(i).__name__ for i in track] == ["Clip", "Gap", "Clip"]
    assert [round(i.duration().value) for i in track] == [48, 24, 48]
    assert {i.duration().rate for i in track} == {float(R23)}
    assert abs_start(r, track, track[2]) == 86400 + 72
    # a <gap>'s marker (dropped by the stock reader) is on the Gap, in its own time
    (marker,) = track[1].markers
    assert marker.name == "GEN: fox"
    assert marker.marked_range.start_time == otio.opentime.RationalTime(12, float(R23))


def test_otio_json_start_is_normalised_to_the_exact_rate(tmp_path):
    clip = otio.schema.Clip(name="c", source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 23.976), otio.opentime.RationalTime(48, 23.976)))
    tl = otio.schema.Timeline(name="t", tracks=[otio.schema.Track(children=[clip])],
                              global_start_time=otio.opentime.RationalTime(86400, 23.976))
    p = write(tmp_path, "t.otio", otio.adapters.write_to_string(tl))
    r = read_timeline(p)
    assert r.rate == R23 and r.start_frame == 86400
    assert r.timeline.global_start_time == otio.opentime.RationalTime(86400, float(R23))


# --------------------------------------------------------------------------- detection


def test_edl_saved_as_txt_and_cdl_is_sniffed(tmp_path):
    text = edl(ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00"))
    for name in ("cut.txt", "cut.cdl", "cut"):
        p = write(tmp_path, name, text)
        assert detect_format(p) == "edl"
        assert read_timeline(p, rate=24).format == "edl"


def test_otio_saved_as_json_is_sniffed_and_bare_track_wrapped(tmp_path):
    track = otio.schema.Track(name="V1", children=[otio.schema.Clip(
        name="c", source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(10, 25)))])
    p = write(tmp_path, "track.json", otio.adapters.write_to_string(track))
    assert detect_format(p) == "otio_json"
    r = read_timeline(p)
    assert isinstance(r.timeline, otio.schema.Timeline)
    assert r.rate == 25 and r.start_frame == 0
    assert [c.name for c in r.timeline.find_clips()] == ["c"]


def test_bare_clip_is_wrapped_and_newer_marker_schema_is_downgraded(tmp_path):
    clip = otio.schema.Clip(name="c", source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 30), otio.opentime.RationalTime(30, 30)),
        markers=[otio.schema.Marker(name="GEN: sky", marked_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(5, 30), otio.opentime.RationalTime(0, 30)))])
    doc = json.loads(otio.adapters.write_to_string(clip))
    # as OTIO 0.19 writes it: Marker.3 with a Color object
    doc["markers"][0]["OTIO_SCHEMA"] = "Marker.3"
    doc["markers"][0]["color"] = {"OTIO_SCHEMA": "Color.1", "r": 0.0, "g": 1.0, "b": 0.0,
                                  "a": 1.0, "name": "GREEN"}
    p = write(tmp_path, "clip.otio", json.dumps(doc))
    r = read_timeline(p)
    (c,) = r.timeline.find_clips()
    assert (c.markers[0].name, c.markers[0].color) == ("GEN: sky", "GREEN")
    assert any("clip.otio" in w and "Marker.3" in w for w in r.warnings)


def test_fcpxml_saved_as_xml_is_sniffed(tmp_path):
    p = write(tmp_path, "cut.xml", FCPX)
    assert detect_format(p) == "fcpx_xml"
    assert read_timeline(p).rate == R23


def test_unknown_format_is_a_timeline_error(tmp_path):
    p = write(tmp_path, "notes.txt", "just some notes\nnothing like a timeline\n")
    with pytest.raises(TimelineError, match=r"notes\.txt: is not a timeline") as exc:
        read_timeline(p, rate=24)
    assert exc.value.hint
    with pytest.raises(TimelineError, match=r"data\.json: is JSON that is not OpenTimelineIO"):
        read_timeline(write(tmp_path, "data.json", json.dumps({"a": 1})))
    with pytest.raises(TimelineError, match="no such file"):
        read_timeline(tmp_path / "missing.edl", rate=24)
    with pytest.raises(TimelineError, match="Resolve"):
        read_timeline(write(tmp_path, "x.drt", b"\x00\x01binary"))


def test_unknown_adapter_name_is_a_usage_error(tmp_path):
    p = write(tmp_path, "a.edl", "TITLE: x\n")
    with pytest.raises(UsageError):
        read_timeline(p, adapter="premiere_project", rate=24)
    assert read_timeline(p, adapter="cmx_3600", rate=24).format == "edl"


def test_broken_xml_is_a_timeline_error(tmp_path):
    p = write(tmp_path, "broken.xml", "<?xml version='1.0'?><xmeml><sequence><name>x</sequ")
    with pytest.raises(TimelineError, match=r"broken\.xml: could not be read as Final Cut Pro 7 XML"):
        read_timeline(p)


# --------------------------------------------------------------------------- writing


def test_write_timeline_atomic(tmp_path):
    tl = otio.schema.Timeline(name="t", tracks=[otio.schema.Track(children=[otio.schema.Clip(
        name="c", source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(10, 24)))])])
    out = tmp_path / "out.otio"
    out.write_text("old")
    write_timeline_atomic(tl, out)
    assert read_timeline(out).timeline.name == "t"
    assert sorted(os.listdir(tmp_path)) == ["out.otio"]

    # a failure leaves the old file and no temporary file behind
    two_video = otio.schema.Timeline(name="t2", tracks=[otio.schema.Track(), otio.schema.Track()])
    edl_out = tmp_path / "out.edl"
    edl_out.write_text("keep me")
    with pytest.raises(TimelineError, match=r"out\.edl: could not be written"):
        write_timeline_atomic(two_video, edl_out)
    assert edl_out.read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["out.edl", "out.otio"]


# --------------------------------------------------------------------------- corpus


def _manifest() -> list[dict[str, str]]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    lines = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    keys = lines[0].split("\t")
    return [dict(zip(keys, ln.split("\t"))) for ln in lines[1:] if ln.strip()]


MANIFEST = _manifest()
STOCK_OK = re.compile(r"otio(?: \(rate [\d.]+\))?: ok")

#: Read by stock OTIO without an error, but not a timeline: read as an empty one, with a warning.
NOT_A_TIMELINE = {
    "otio/srt_example.otio": "an OTIO Subtitles.1 object (UnknownSchema to OTIO 0.18)",
}

#: Formats whose adapter is optional; a file needing a missing one is skipped.
OPTIONAL_ADAPTERS = {"kdenlive": "kdenlive"}


@contextmanager
def time_limit(seconds: int):
    def alarm(signum, frame):
        raise TimeoutError(f"read took longer than {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _fingerprint(p: Path):
    st = p.stat()
    return st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.skipif(not MANIFEST, reason="../shared/corpus is not beside the checkout")
@pytest.mark.parametrize("row", MANIFEST, ids=[r["file"] for r in MANIFEST])
def test_corpus_reads(row):
    path = CORPUS / row["file"]
    is_edl = row["format"] == "cmx3600_edl"
    rate = (parse_rate(row["rate_if_known"]) if row["rate_if_known"] else Fraction(24)) if is_edl else None
    before = _fingerprint(path)
    try:
        with time_limit(20):
            result = read_timeline(path, rate=rate)
    except TimelineError as exc:
        result = exc
    assert _fingerprint(path) == before, "reading changed the file"
    if isinstance(result, ReadResult):
        assert isinstance(result.timeline, otio.schema.Timeline)
        assert isinstance(result.rate, Fraction) and result.rate > 0
        assert all(row["file"].split("/")[-1] in w for w in result.warnings)
        if is_edl:
            no_negative_ranges(result.timeline)
        return
    message = str(result)
    assert row["file"].split("/")[-1] in message, "the error must name the file"
    if STOCK_OK.search(row["notes"]):
        adapter = OPTIONAL_ADAPTERS.get(row["format"])
        if adapter and adapter not in otio.adapters.available_adapter_names():
            pytest.skip(f"the optional '{adapter}' OTIO adapter is not installed")
        pytest.fail(f"stock OTIO reads this file, ShotFill did not: {message}")


@pytest.mark.slow
def test_fcpxml_media_rep_source_is_read(tmp_path):
    """FCPXML 1.9+ keeps the file in <media-rep>; clips must not read as offline."""
    from conftest import CORPUS

    src = CORPUS / "dawfilekit" / "24.fcpxml"
    if not src.exists():
        pytest.skip("corpus not present")
    tl = read_timeline(src).timeline
    refs = [c.media_reference for c in tl.find_clips()]
    assert refs and all(isinstance(r, otio.schema.ExternalReference) for r in refs)
    assert refs[0].target_url.endswith("TestVideo.mp4")
