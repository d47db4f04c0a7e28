"""EDL write-back by splicing: only the filled events' lines change."""

from fractions import Fraction

from shotfill.timeline.edl.splice import splice_edl
from shotfill.model import Placeholder, ShotOptions
from shotfill.model import Placement

R = Fraction(24000, 1001)

EDL = (
    "TITLE: Mixed Case Title\r\n"
    "FCM: NON-DROP FRAME\r\n"
    "\r\n"
    "001  SHOTA    V     C        00:00:11:00 00:00:13:00 01:00:00:00 01:00:02:00\r\n"
    "* FROM CLIP NAME: shot_a.mov\r\n"
    "002  BL       V     C        00:00:00:00 00:00:01:12 01:00:02:00 01:00:03:12\r\n"
    "* LOC: 01:00:02:12 PURPLE  GEN: a Fox | seed=7\r\n"
    "* keep this lower-case note\r\n"
    "007  SHOTB    V     C        00:00:20:12 00:00:22:12 01:00:03:12 01:00:05:12\r\n"
    "* FROM CLIP NAME: shot_b.mov\r\n"
    "008  SHOTC    V     C        00:00:30:00 00:00:32:12 01:00:06:12 01:00:09:00\r\n"
)


def ph(kind, record_frame, duration, pid="V1_x"):
    return Placeholder(id=pid, track="V1", track_index=0, item_path=(0, 1), kind=kind, start=record_frame - 86400,
                       duration=duration, rate=R, record_frame=record_frame, timecode="", prompt="p",
                       options=ShotOptions(), marker_name="GEN: p", marker_on="clip")


def test_filled_event_changes_and_everything_else_is_byte_identical(tmp_path):
    media = tmp_path / "gen one.mov"
    out = splice_edl(EDL, [Placement(ph("clip", 86448, 36), media, {})], rate=R, drop_frame=False,
                     source_name="x.edl")
    lines_in, lines_out = EDL.splitlines(keepends=True), out.splitlines(keepends=True)
    event = next(line for line in lines_out if line.startswith("002"))
    assert event == "002  GEN00001 V     C        01:00:02:00 01:00:03:12 01:00:02:00 01:00:03:12\r\n"
    assert f"* SOURCE FILE: {media.resolve()}\r\n" in lines_out
    assert "* FROM CLIP NAME: gen one.mov\r\n" in lines_out
    assert f"* FROM CLIP: {media.resolve()}\r\n" in lines_out     # what OTIO's CMX reader links media from
    untouched = [line for line in lines_in if not line.startswith("002")]
    for line in untouched:
        assert line in lines_out, line
    assert len(lines_out) == len(lines_in) + 3
    # columns of the event line line up with the others
    assert event.index("01:00:02:00") == lines_in[3].index("00:00:11:00")


def test_filled_gap_becomes_a_new_event_in_place(tmp_path):
    gap_start = 86400 + 5 * 24 + 12    # 01:00:05:12, up to 008's record in
    out = splice_edl(EDL, [Placement(ph("gap", gap_start, 24), tmp_path / "g.mov", {})], rate=R, drop_frame=False,
                     source_name="x.edl")
    lines = out.splitlines()
    i = lines.index("009  GEN00001 V     C        01:00:05:12 01:00:06:12 01:00:05:12 01:00:06:12")
    assert lines[i + 4].startswith("008  SHOTC")
    assert lines[i - 1] == "* FROM CLIP NAME: shot_b.mov"
    assert out.replace("\r\n", "\n").count("\n") == EDL.count("\r\n") + 4
    # the new lines use the file's own CRLF endings
    assert all(line.endswith("\r\n") for line in out.splitlines(keepends=True))


def test_no_placements_gives_the_same_bytes():
    assert splice_edl(EDL, [], rate=R, drop_frame=False, source_name="x.edl") == EDL
    no_trailing = EDL.rstrip("\r\n")
    assert splice_edl(no_trailing, [], rate=R, drop_frame=False, source_name="x.edl") == no_trailing
