"""The EDL timeline built from ShotFill's own tokens is the one OTIO's cmx_3600 reader gave.

Every EDL in the repository and the corpus (read in place), and a set of
small EDLs for what editors write (drop frame, 23.976, V/A channels,
dissolves and wipes, M2 speed changes, freeze frames, FCM lines, comments,
CDLs, the Resolve marker flavour, LOC markers, overlaps, Latin-1 ...), is read
both ways: ``read_edl`` as it is (the builder, or OTIO's reader where the
builder says only the reader can decide) and ``read_edl(otio_reader=True)``
(the text cleaned as before, then OTIO's reader).  They must agree on the
tracks and items, names, source ranges, record positions, media references,
markers, transitions, effects and metadata (compared field by field for a
readable failure, then as whole OTIO JSON), the warnings and errors, and on
what the scan makes of them (placeholder ids, frames and timecodes).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from conftest import CORPUS
from shotfill.errors import ShotFillError
from shotfill.model import TimelineInfo
from shotfill.scan.placeholders import scan_timeline
from shotfill.timeline.edl import build as edl_build
from shotfill.timeline.edl import read as edl_read
from shotfill.timeline.metadata import to_plain

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(ROOT.glob("sample_timelines/**/*.edl")) + sorted(ROOT.glob("tests/**/*.edl"))
if CORPUS.is_dir():
    FILES += sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() == ".edl" and p.is_file())
RATES = [Fraction(24), Fraction(25), Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)]

R23, R29, R59 = Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)


def _item_rows(timeline: otio.schema.Timeline, rate: Fraction) -> list[tuple]:
    """Per track: its kind and name, then each item's kind, name, ranges, record frame, reference, effects."""
    rows: list[tuple] = []
    rf = float(rate)
    start = int(round(timeline.global_start_time.rescaled_to(rf).value)) if timeline.global_start_time else None
    rows.append(("timeline", timeline.name, start, to_plain(timeline.metadata)))
    for track in timeline.tracks:
        rows.append(("track", track.kind, track.name, track.source_range, to_plain(track.metadata)))
        for item in track:
            row: list = [type(item).__name__, item.name, to_plain(item.metadata)]
            if isinstance(item, otio.schema.Transition):
                row += [item.transition_type, item.in_offset, item.out_offset]
            else:
                row += [item.source_range, track.range_of_child(item).start_time.rescaled_to(rf).value,
                        [(type(e).__name__, e.effect_name, getattr(e, "time_scalar", None)) for e in item.effects]]
                for m in item.markers:
                    row.append(("marker", m.name, str(m.color), m.marked_range, m.comment, to_plain(m.metadata)))
            if isinstance(item, otio.schema.Clip):
                ref = item.media_reference
                row.append((type(ref).__name__, getattr(ref, "target_url", None),
                            getattr(ref, "generator_kind", None), ref.available_range))
            rows.append(tuple(row))
    return rows


def _scan_rows(read, path: Path) -> list[tuple]:
    info = TimelineInfo(path=str(path), format=read.format, name=path.stem, rate=read.rate,
                        drop_frame=read.drop_frame, start_frame=read.start_frame, width=1920, height=1080)
    res = scan_timeline(read.timeline, info)
    return [(p.id, p.track, p.start, p.duration, p.timecode, p.kind, p.prompt, p.marker_on) for p in res.placeholders] \
        + [("warning", w) for w in res.warnings]


def both_ways(path: Path, rate: Fraction) -> tuple:
    """(built, reader): each the whole outcome of reading ``path`` at ``rate`` (or its error)."""
    out = []
    for otio_reader in (False, True):
        try:
            res = edl_read.read_edl(path, path.name, rate, otio_reader=otio_reader)
        except ShotFillError as exc:
            out.append(("error", type(exc).__name__, str(exc), exc.hint))
            continue
        out.append((_item_rows(res.timeline, rate), _scan_rows(res, path), res.warnings,
                    {k: v for k, v in vars(res).items() if k not in ("timeline", "warnings")},
                    otio.adapters.write_to_string(res.timeline, "otio_json")))
    return out[0], out[1]


def assert_same(path: Path, rate: Fraction) -> None:
    built, reader = both_ways(path, rate)
    if built[0] == "error" or reader[0] == "error":
        assert built == reader, rate
        return
    for part, (a, b) in zip(("items", "scan", "warnings", "fields", "otio json"), zip(built, reader)):
        if isinstance(a, list) and isinstance(b, list):
            for k, (x, y) in enumerate(zip(a, b)):
                assert x == y, f"{part} row {k} at {rate}"
        assert a == b, f"{part} at {rate}"


def built_by_builder(path: Path, rate: Fraction) -> bool:
    """True when the builder made the timeline (not OTIO's reader, as a fallback)."""
    built = []
    real = edl_read.build_timeline

    def spy(*a, **k):
        tl = real(*a, **k)   # raises Unsupported where the reader is to read it
        built.append(tl)
        return tl

    mp = pytest.MonkeyPatch()
    mp.setattr(edl_read, "build_timeline", spy)
    try:
        edl_read.read_edl(path, path.name, rate)
    except ShotFillError:
        pass
    finally:
        mp.undo()
    return bool(built)


# --------------------------------------------------------------------------- files


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS if CORPUS in p.parents else ROOT)))
def test_every_edl_file_reads_the_same_both_ways(path):
    for rate in RATES:
        assert_same(path, rate)


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus")
def test_the_builder_reads_most_of_the_corpus_itself():
    """The reader is a fallback for a few files, not the way EDLs are read."""
    files = [p for p in FILES if CORPUS in p.parents]
    built = [p.name for p in files if built_by_builder(p, Fraction(24))]
    assert len(files) >= 20 and len(built) >= len(files) - 3, sorted(set(p.name for p in files) - set(built))


# --------------------------------------------------------------------------- small EDLs


def edl(*events: str, title: str = "BUILD", fcm: str | None = "NON-DROP FRAME") -> str:
    head = [f"TITLE: {title}"] + ([f"FCM: {fcm}"] if fcm else [])
    return "\n".join(head + [""] + list(events)) + "\n"


def ev(num: int | str, reel: str, chan: str, si: str, so: str, ri: str, ro: str, *comments: str,
       edit: str = "C") -> str:
    num = f"{num:03d}" if isinstance(num, int) else num
    return "\n".join([f"{num}  {reel:<8} {chan:<5} {edit:<8} {si} {so} {ri} {ro}", *comments])


CASES: dict[str, tuple[str | bytes, list[Fraction], bool]] = {
    # name: (text, rates, built by the builder at the first rate)
    "cuts, names, references, gaps": (edl(
        ev(1, "A001", "V", "00:00:10:00", "00:00:12:00", "01:00:00:00", "01:00:02:00",
           "* FROM CLIP NAME: shot_a.mov", "* SOURCE FILE: media/shot_a.mov"),
        ev(2, "BL", "V", "00:00:00:00", "00:00:01:00", "01:00:02:00", "01:00:03:00",
           "* LOC: 01:00:02:12 PURPLE  GEN: a fox in snow | seed=7", "* a slug"),
        ev(3, "A002", "V", "00:00:20:00", "00:00:21:00", "01:00:05:00", "01:00:06:00",
           "* FROM CLIP: /media/shots/b.mov", "* TO CLIP NAME: b_new"),
        ev(4, "BARS", "V", "00:00:00:00", "00:00:01:00", "01:00:06:00", "01:00:07:00"),
        ev(5, "AX", "V", "00:00:00:00", "00:00:01:00", "01:00:07:00", "01:00:08:00",
           "* FROM FILE: C:\\media\\c.mxf"),
        ev(6, "BLACK", "V", "00:00:00:00", "00:00:00:12", "01:00:08:00", "01:00:08:12",
           "* FROM CLIP NAME: slug", "*  GEN: clouds over a ridge"),
        ev(7, "OTIO", "V", "00:00:00:00", "00:00:00:12", "01:00:08:12", "01:00:09:00",
           "* OTIO REFERENCE EXTERNAL: file:///media/d%20e.mov", "comment with no star"),
    ), RATES, True),
    "drop frame 29.97": (edl(
        ev(1, "A001", "V", "00:59:59;28", "01:00:00;10", "00:09:59;20", "00:10:00;02",
           "* LOC: 00:09:59;24 RED GEN: drop frame hole"),
        ev(2, "BL", "V", "00:00:00;00", "00:00:02;00", "00:10:00;02", "00:10:02;02",
           "* LOC: 00:10:00;10 PURPLE GEN: second hole"),
        fcm="DROP FRAME"), [R29, R59], True),
    "drop frame 59.94 and a carried frame": (edl(
        ev(1, "A001", "V", "01:00:00;04", "01:00:01;00", "01:00:00;04", "01:00:01;00"),
        ev(2, "A002", "V", "00:00:00:00", "00:00:00:60", "01:00:01;00", "01:00:02;00"),
        fcm="DROP FRAME"), [R59], True),
    "23.976, frame counts and a mismatch": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00"),
        ev(2, "A002", "V", "00:00:05:00", "00:00:05:20", "01:00:01:00", "01:00:02:00",
           "* FROM CLIP NAME: short source"),
        ev(3, "A003", "V", "100", "124", "86496", "86520"),
    ), [R23, Fraction(24)], True),
    "video and audio channels": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00"),
        ev(2, "A001", "A", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00"),
        ev(3, "A002", "AA", "00:00:01:00", "00:00:02:00", "01:00:01:00", "01:00:02:00",
           "* LOC: 01:00:01:05 BLUE on both audio tracks"),
        ev(4, "A003", "B", "00:00:02:00", "00:00:03:00", "01:00:02:00", "01:00:03:00"),
        ev(5, "A004", "AA/V", "00:00:03:00", "00:00:04:00", "01:00:03:00", "01:00:04:00",
           "* FROM CLIP NAME: three tracks"),
        ev(6, "A005", "A2/V", "00:00:04:00", "00:00:05:00", "01:00:04:00", "01:00:05:00"),
        ev(7, "A006", "A3", "00:00:04:00", "00:00:05:00", "01:00:06:00", "01:00:07:00"),
        ev(8, "A007", "V2", "00:00:04:00", "00:00:05:00", "01:00:00:12", "01:00:01:12"),
    ), [Fraction(24), Fraction(25)], True),
    "dissolves and wipes": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:02:00", "01:00:00:00", "01:00:02:00",
           "* FROM CLIP NAME: first"),
        "002  A001     V     C        00:00:02:00 00:00:02:00 01:00:02:00 01:00:02:00\n"
        "002  A002     V     D    024 00:00:10:00 00:00:12:00 01:00:02:00 01:00:04:00\n"
        "* FROM CLIP NAME: first\n* TO CLIP NAME: second",
        "003  A002     V     C        00:00:12:00 00:00:12:00 01:00:04:00 01:00:04:00\n"
        "003  A003     V     W001 012 00:00:20:00 00:00:22:00 01:00:04:00 01:00:06:00\n"
        "* FROM CLIP NAME: third",
        "004  A003     V     C        00:00:22:00 00:00:22:00 01:00:06:00 01:00:06:00\n"
        "004  BL       V     D    010 00:00:00:00 00:00:01:00 01:00:06:00 01:00:07:00\n"
        "* LOC: 01:00:06:12 PURPLE GEN: dissolve into the hole",
        "005  A004     V     C        00:00:00:00 00:00:00:00 01:00:07:00 01:00:07:00\n"
        "005  A005     V     K    010 00:00:00:00 00:00:01:00 01:00:07:00 01:00:08:00",
    ), [Fraction(24), R29], True),
    "a transition opening a track": (edl(
        "001  A001     V     C        00:00:00:00 00:00:00:00 01:00:00:00 01:00:00:00\n"
        "001  A002     V     D    024 00:00:10:00 00:00:12:00 01:00:00:00 01:00:02:00",
        ev(2, "A003", "V", "00:00:00:00", "00:00:01:00", "01:00:02:00", "01:00:03:00"),
    ), [Fraction(24)], True),
    "speed changes and freeze frames": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:02:00",
           "M2   A001       012.0                00:00:00:00", "* FROM CLIP NAME: slow"),
        ev(2, "A002", "V", "00:00:00:00", "00:00:02:00", "01:00:02:00", "01:00:03:00",
           "M2   A002       048.0                00:00:00:00"),
        ev(3, "A003", "V", "00:00:00:00", "00:00:00:01", "01:00:03:00", "01:00:04:00",
           "* * FREEZE FRAME", "* FROM CLIP NAME: held FF"),
        ev(4, "A004", "V", "00:00:10:00", "00:00:09:00", "01:00:04:00", "01:00:05:00",
           "M2   A004       -024.0               00:00:10:00"),
        ev(5, "A005", "V", "00:00:00:00", "00:00:01:00", "01:00:05:00", "01:00:06:00",
           "M2   A005       024.0                00:00:00:00"),
        ev(6, "A006", "V", "00:00:00:00", "00:00:01:00", "01:00:06:00", "01:00:07:00",
           "M2   broken line"),
        "007  A006     V     C        00:00:01:00 00:00:01:00 01:00:07:00 01:00:07:00\n"
        "007  A007     V     D    012 00:00:00:00 00:00:00:01 01:00:07:00 01:00:08:00\n"
        "* * FREEZE FRAME\n* FROM CLIP NAME: dissolve to a hold FF",
    ), [Fraction(24), Fraction(25)], True),
    "FCM lines between events, comments, CDL": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00",
           "FCM: DROP FRAME", "* ASC_SOP (1.1 1.0 0.9)(0.01 0.0 -0.01)(1.0 1.0 1.0)", "* ASC_SAT 0.9"),
        ev(2, "A002", "V", "00:00:00;00", "00:00:01;00", "01:00:01:00", "01:00:02:00",
           "FCM: NON-DROP FRAME", "* ASC_SAT 1.2", "* 12 a comment that starts with a digit",
           "SPLIT: AUDIO DELAY = 00:00:00:04"),
        ev(3, "A003", "V", "00:00:00:00", "00:00:01:00", "01:00:02:00", "01:00:03:00",
           "* ASC_SOP (1.1, 1.0, 0.9)(0.0 0.0 0.0)(1 1 1)", "TITLE: not the title", "*", "* "),
        "* a comment before nothing",
        fcm="NON-DROP FRAME"), [R29, Fraction(24)], True),
    "header notes and a title with TITLE: in it": (
        "TITLE: TITLE: REEL 1 TITLE: v2\n* a note in the header\nSPLIT: VIDEO DELAY = 00:00:00:01\n"
        "FCM: NON-DROP FRAME\n\n"
        + ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "00:00:00:00", "00:00:01:00") + "\n", [Fraction(24)], True),
    "LOC lines: source timecode, outside, colours, drop frame": (edl(
        ev(1, "A001", "V", "00:10:00:00", "00:10:02:00", "01:00:00:00", "01:00:02:00",
           "* LOC: 00:10:01:00 GREEN source timecode", "* LOC: 02:00:00:00 RED outside",
           "* LOC: 01:00:00:05 ResolveColorSand GEN: sand colour", "* LOC: 01:00:01:00 nocolour word",
           "* LOC: 01:00:01:10", "* LOC: not a timecode", "*LOC 01:00:01:12 FUCHSIA GEN: tight"),
        ev(2, "BL", "V", "00:00:00:00", "00:00:01:00", "01:00:02:00", "01:00:03:00",
           "* LOC: 01:00:02:00 PURPLE GEN: at the first frame", "* LOC: 01:00:02:23 PURPLE GEN: at the last"),
    ), [Fraction(24)], True),
    "overlap onto another track": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:02:00", "01:00:00:00", "01:00:02:00"),
        ev(2, "A002", "V", "00:00:00:00", "00:00:01:00", "01:00:01:00", "01:00:02:00"),
        ev(3, "A003", "V", "00:00:00:00", "00:00:01:00", "01:00:02:00", "01:00:03:00"),
        ev(4, "A004", "V", "00:00:00:00", "00:00:01:00", "01:00:01:12", "01:00:02:12"),
    ), [Fraction(24)], True),
    "an overlap on a shared channel (the reader shifts it)": (edl(
        ev(1, "A001", "AA", "00:00:00:00", "00:00:02:00", "01:00:00:00", "01:00:02:00"),
        ev(2, "A002", "AA", "00:00:00:00", "00:00:01:00", "01:00:01:00", "01:00:02:00"),
    ), [Fraction(24)], False),
    "an image sequence (the reader decides)": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00",
           "* FROM CLIP: /renders/shot.[1001-1024].exr"),
    ), [Fraction(24)], False),
    "a bad CDL (the reader refuses)": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00", "* ASC_SOP nonsense"),
    ), [Fraction(24)], False),
    "a transition number written another way (the reader refuses)": (edl(
        "001  A001     V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00",
        "002  A001     V     C        00:00:01:00 00:00:01:00 01:00:01:00 01:00:01:00\n"
        "2  A002     V     D    012 00:00:10:00 00:00:11:00 01:00:01:00 01:00:02:00",
    ), [Fraction(24)], False),
    "a rate timecode cannot have": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00"),
    ), [Fraction(12), Fraction(100)], False),
    "lower-case fcm (the reader refuses)": (
        "TITLE: x\nfcm: drop frame\n\n" + ev(1, "A001", "V", "00:00:00:00", "00:00:01:00",
                                             "01:00:00:00", "01:00:01:00") + "\n", [R29], False),
    "empty and header only": ("TITLE: nothing\nFCM: NON-DROP FRAME\n", [Fraction(24)], True),
    "Resolve's timeline markers to EDL": (
        "TITLE: Timeline 1\r\nFCM: NON-DROP FRAME\r\n\r\n"
        "001  001      V     C        01:00:02:03 01:00:02:04 01:00:02:03 01:00:02:04  \r\n"
        "GEN: a red fox in snow |C:ResolveColorPurple |M:Marker 1 |D:48\r\n\r\n"
        "002  001      V     C        01:00:05:00 01:00:05:01 01:00:05:00 01:00:05:01  \r\n"
        "3 foxes 01:00:00:00 |C:ResolveColorBlue |M:Marker 2 |D:24\r\n", [Fraction(24)], True),
    "Latin-1 names": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00",
           "* FROM CLIP NAME: caf\xe9 cr\xe8me.mov", "* LOC: 01:00:00:05 RED GEN: \xe9t\xe9 \xe0 Paris"),
    ).encode("latin-1"), [Fraction(24)], True),
    "UTF-8 and quotes in names": (edl(
        ev(1, "A001", "V", "00:00:00:00", "00:00:01:00", "01:00:00:00", "01:00:01:00",
           '* FROM CLIP NAME: "quoted" \\ back\tslash \u65e5\u672c \U0001f98a.mov'),
    ), [Fraction(24)], True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_small_edls_read_the_same_both_ways(name, tmp_path):
    text, rates, by_builder = CASES[name]
    p = tmp_path / "cut.edl"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8", newline="")
    for rate in rates:
        assert_same(p, rate)
    assert built_by_builder(p, rates[0]) is by_builder


def test_the_builder_is_what_reads_an_edl(tmp_path):
    """New behaviour: no second parse by OTIO's reader for an ordinary EDL."""
    p = tmp_path / "cut.edl"
    p.write_text(CASES["cuts, names, references, gaps"][0])
    assert built_by_builder(p, Fraction(24))
    res = edl_read.read_edl(p, p.name, Fraction(24))
    clips = list(res.timeline.find_clips())
    assert [c.name for c in clips] == ["shot_a.mov", "002", "b_new", "004", "C:\\media\\c", "slug", "d%20e"]
    assert clips[1].markers[0].name == "GEN: a fox in snow | seed=7"
    assert clips[1].metadata["shotfill"]["edl_line"] == 7


def test_the_builder_refuses_what_only_the_reader_should_decide():
    from shotfill.timeline.edl import text as edl_text
    prep = edl_text.prepare_edl(CASES["an image sequence (the reader decides)"][0], Fraction(24))
    with pytest.raises(edl_build.Unsupported, match="image-sequence"):
        edl_build.build_timeline(prep, Fraction(24), "x.edl", [])
