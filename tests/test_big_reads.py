"""What keeps big timelines cheap: OTIO's own file reader for plain JSON, whole-frame times without Fractions."""

from __future__ import annotations

import codecs
from fractions import Fraction

import opentimelineio as otio
import pytest

from shotfill.rates import to_frames
from shotfill.timeline.otio import read as otio_read
from shotfill.timeline.read import read_timeline


def _timeline() -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name="t", global_start_time=otio.opentime.RationalTime(86400, 24))
    track = otio.schema.Track(name="V1", kind="Video")
    track.append(otio.schema.Clip(name="a", source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(24, 24))))
    tl.tracks.append(track)
    return tl


def test_plain_json_is_read_from_disk_by_otio_and_a_bom_file_the_same(tmp_path, monkeypatch):
    plain, bom = tmp_path / "plain.otio", tmp_path / "bom.otio"
    text = otio.adapters.write_to_string(_timeline(), "otio_json")
    plain.write_text(text, encoding="utf-8")
    bom.write_bytes(codecs.BOM_UTF8 + text.encode())
    from_bom = read_timeline(bom)

    def no_string_read(*a, **kw):
        raise AssertionError("a plain .otio is handed to OTIO's file reader, not copied into a string")

    monkeypatch.setattr(otio_read, "read_string", no_string_read)
    from_plain = read_timeline(plain)
    assert otio.adapters.write_to_string(from_plain.timeline, "otio_json") == \
        otio.adapters.write_to_string(from_bom.timeline, "otio_json")


def test_not_utf8_is_still_refused_by_name(tmp_path):
    bad = tmp_path / "bad.otio"
    bad.write_bytes(otio.adapters.write_to_string(_timeline(), "otio_json").encode().replace(b'"t"', b'"\xff"'))
    with pytest.raises(Exception, match="bad.otio: is not UTF-8"):
        read_timeline(bad)


@pytest.mark.parametrize("chunk", [7, 64, 1024 * 1024])
def test_the_ascii_check_reads_in_chunks_and_sees_every_byte(tmp_path, monkeypatch, chunk):
    """A bad byte anywhere (the last chunk, a chunk's edge) is refused; UTF-8 past ASCII is read."""
    monkeypatch.setattr(otio_read, "_CHUNK", chunk)
    tl = _timeline()
    for i in range(40):
        tl.tracks[0].append(otio.schema.Clip(name=f"c{i}", source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(24, 24))))
    text = otio.adapters.write_to_string(tl, "otio_json")
    late = text.rindex('"c39"')
    good, bad = tmp_path / "good.otio", tmp_path / "bad.otio"
    good.write_bytes((text[:late] + '"cé39"' + text[late + 5:]).encode("utf-8"))
    assert read_timeline(good).timeline.tracks[0][-1].name == "cé39"
    for at in (late + 2, len(text) - 3, chunk - 1 if chunk < late else late + 1):
        raw = bytearray(text.encode())
        raw[at:at] = b"\xff"          # inside a string or in the layout: not UTF-8 either way
        bad.write_bytes(bytes(raw))
        with pytest.raises(Exception, match="bad.otio: is not UTF-8"):
            read_timeline(bad)


@pytest.mark.parametrize("rate", [Fraction(24), Fraction(25), Fraction(24000, 1001), Fraction(30000, 1001),
                                  Fraction(60000, 1001), Fraction(50)])
def test_whole_frame_shortcut_agrees_with_exact_arithmetic(rate):
    for value in (0, 1, 23, 24, 1001, 86400, 86486, 10**7, -5):
        for t_rate in (float(rate), 24.0, 25.0, 30.0, 48.0):
            t = otio.opentime.RationalTime(value, t_rate)
            assert to_frames(t, rate) == round(Fraction(value) / Fraction(t_rate) * rate), (value, t_rate)
    half = otio.opentime.RationalTime(10.5, float(rate))    # not whole: the exact way
    assert to_frames(half, rate) == round(Fraction(10.5) / Fraction(float(rate)) * rate)
