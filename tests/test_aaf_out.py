"""AAF out: `-o cut.aaf` through otio-aaf-adapter's writer, read back by OTIO's AAF reader and by pyaaf2.

Generated clips are linked as external essence: a MasterMob -> file SourceMob
whose descriptor's NetworkLocator is the conformed file's URL -> tape SourceMob
whose timecode is the record timecode.  Checked in the AAF itself with pyaaf2,
not only through OTIO's reader of the same adapter.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlparse

import aaf2
import opentimelineio as otio
import pytest

from mediautil import decoded_frames, make_test_clip, video_stream
from shotfill.cli.app import main
from shotfill.timeline.aaf.prepare import mob_id_for, prepare_for_aaf
from timelines import clip, gap, marker, slug, tr

R24 = Fraction(24000, 1001)


def _path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def aaf_picture_clips(path: Path) -> list[dict]:
    """Every SourceClip on the top-level composition's picture slots, with its position, as pyaaf2 sees it."""
    found = []
    with aaf2.open(str(path), "r") as f:
        comp = next(f.content.toplevel())
        for slot in comp.slots:
            seg = slot.segment
            if not isinstance(seg, aaf2.components.Sequence) or seg.media_kind != "Picture":
                continue
            pos = 0
            for comp_clip in seg.components:
                if isinstance(comp_clip, aaf2.components.SourceClip):
                    master = comp_clip.mob
                    file_mob = master.slot_at(comp_clip.slot_id).segment.mob
                    tape = file_mob.slots[0].segment.mob
                    tc = [s.segment for s in tape.slots if isinstance(s.segment, aaf2.components.Timecode)]
                    found.append({
                        "track": slot.name, "position": pos, "length": comp_clip.length, "start": comp_clip.start,
                        "name": master.name, "comments": dict(master.comments.items()),
                        "urls": [loc["URLString"].value for loc in file_mob.descriptor["Locator"]],
                        "stored": (file_mob.descriptor["StoredWidth"].value,
                                   file_mob.descriptor["StoredHeight"].value),
                        "tape_tc": tc[0].start if tc else None,
                    })
                pos += comp_clip.length
    return found


@pytest.fixture
def cut(tmp_path: Path) -> Path:
    """23.976 at 01:00:00:00: V1 a | gap (GEN) | b ; V2 gap | slug named GEN: ..."""
    for n in ("a", "b"):
        make_test_clip(tmp_path / f"{n}.mov", rate="24000/1001", frames=40, source="counter", codec="h264_lossless")
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(86400, float(R24)))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 20, R24, src=10, url="a.mov", avail=(0, 40)))
    v1.append(gap(12, R24, marker("GEN: a fox in snow | seed=5", 0, 12, R24)))
    v1.append(clip("b", 20, R24, src=4, url="b.mov", avail=(0, 40)))
    v1[2].markers.append(marker("the editor's note", 5, 1, R24, comment="keep this take"))
    v2 = otio.schema.Track(name="V2", kind="Video")
    v2.append(gap(30, R24))
    v2.append(slug("GEN: lower third, white text", 8, R24))
    tl.tracks.append(v1)
    tl.tracks.append(v2)
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(path))
    return path


@pytest.mark.slow
def test_fill_to_aaf_links_each_generated_clip_at_its_record_frame(cut: Path, tmp_path: Path):
    out = tmp_path / "out" / "cut.aaf"
    assert main(["fill", str(cut), "-o", str(out), "-q", "--no-report"]) == 0
    assert out.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

    # OTIO's own AAF reader
    back = otio.adapters.read_from_file(str(out), adapter_name="AAF")
    assert back.global_start_time.to_frames() == 86400
    got = {}
    for track in back.video_tracks():
        for item in track:
            if isinstance(item, otio.schema.Clip) and "ShotFill prompt" in item.metadata["AAF"].get("UserComments", {}):
                rng = item.range_in_parent()
                got[item.metadata["AAF"]["UserComments"]["ShotFill prompt"]] = (
                    track.name, rng.start_time.to_frames(), rng.duration.to_frames(), item.media_reference.target_url)
    assert {k: v[:3] for k, v in got.items()} == {"a fox in snow": ("V1", 20, 12),
                                                  "lower third, white text": ("V2", 30, 8)}
    for _, start, frames, url in got.values():
        media = _path(url)
        assert media.is_file() and media.parent == out.parent / "cut_media"
        assert decoded_frames(media) == frames
        assert Fraction(video_stream(media)["r_frame_rate"]) == R24

    # the markers OTIO's writer drops come back through ShotFill's post-write hook, at their record frames
    marks = {}
    for track in back.video_tracks():
        for item in track:
            for m in item.markers:
                at = item.range_in_parent().start_time + (m.marked_range.start_time - item.trimmed_range().start_time)
                marks[m.name] = (track.name, at.to_frames())
    # the editor's marker: source frame 5 of b, which plays from its frame 4 at record frame 32
    assert marks == {"GEN: a fox in snow | seed=5": ("V1", 20), "the editor's note keep this take": ("V1", 33)}

    # pyaaf2, on the composition itself
    clips = {c["comments"].get("ShotFill prompt", c["name"]): c for c in aaf_picture_clips(out)}
    fox, third = clips["a fox in snow"], clips["lower third, white text"]
    assert (fox["track"], fox["position"], fox["length"], fox["start"]) == ("V1", 20, 12, 0)
    assert (third["track"], third["position"], third["length"]) == ("V2", 30, 8)
    assert fox["tape_tc"] == 86400 + 20 and third["tape_tc"] == 86400 + 30
    assert fox["stored"] == (320, 180)
    assert fox["name"] == _path(fox["urls"][0]).name
    assert fox["urls"][0].startswith("file:///") and _path(fox["urls"][0]).is_file()
    assert fox["comments"]["ShotFill provider"] == "local" and fox["comments"]["ShotFill seed"] == "5"
    assert len(fox["comments"]["ShotFill request hash"]) == 64
    # the editor's shots are where they were
    assert (clips["a"]["position"], clips["a"]["length"], clips["a"]["start"]) == (0, 20, 10)
    assert (clips["b"]["position"], clips["b"]["length"], clips["b"]["start"]) == (32, 20, 4)


@pytest.mark.slow
def test_aaf_in_comes_out_as_aaf_in_a_batch(tmp_path: Path):
    for n in ("a", "b"):
        make_test_clip(tmp_path / f"{n}.mov", rate="24000/1001", frames=40, source="counter", codec="h264_lossless")
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(86400, float(R24)))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 20, R24, src=10, url=(tmp_path / "a.mov").as_uri(), avail=(0, 40)))
    v1.append(gap(12, R24))
    v1.append(clip("b", 20, R24, src=4, url=(tmp_path / "b.mov").as_uri(), avail=(0, 40)))
    tl.tracks.append(v1)
    (tmp_path / "in").mkdir()
    otio.adapters.write_to_file(tl, str(tmp_path / "in" / "cut.aaf"), use_empty_mob_ids=True)
    # OTIO's AAF writer writes no markers: the GEN: note comes as a timeline marker from a second file.
    marks = otio.schema.Timeline(name="m", global_start_time=otio.opentime.RationalTime(86400, float(R24)))
    marks.tracks.append(otio.schema.Track(kind="Video"))
    marks.tracks.markers.append(marker("GEN: a fox in snow | seed=5", 22, 1, R24))
    otio.adapters.write_to_file(marks, str(tmp_path / "markers.otio"))
    out = tmp_path / "out"
    assert main(["fill", str(tmp_path / "in"), "-o", str(out), "-q", "--no-report",
                 "--markers", str(tmp_path / "markers.otio"), "--resolution", "320x180"]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["cut.aaf"]
    clips = aaf_picture_clips(out / "cut.aaf")
    assert [(c["position"], c["length"]) for c in clips] == [(0, 20), (20, 12), (32, 20)]
    gen = clips[1]
    assert gen["comments"]["ShotFill prompt"] == "a fox in snow"
    assert decoded_frames(_path(gen["urls"][0])) == 12


def test_prepare_makes_a_timeline_of_any_source_writable(tmp_path: Path):
    """No Mob IDs, no available ranges, a 25 fps range in a 24 fps cut, a slug, a plain dissolve."""
    r24, r25 = Fraction(24), Fraction(25)
    tl = otio.schema.Timeline(name="t", global_start_time=otio.opentime.RationalTime(0, 24))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 24, r24, url="file:///media/a.mov"))                 # no available_range
    v1.append(otio.schema.Transition(in_offset=tr(0, 6, r24).duration, out_offset=tr(0, 6, r24).duration))
    c = clip("b", 25, r25, src=50, url="file:///media/b.mov", avail=(0, 250))  # one second at 25 fps
    v1.append(c)
    v1.append(slug("an unfilled slug", 12, r24))
    v1.append(clip("offline", 10, r24))                                       # MissingReference
    tl.tracks.append(v1)
    with pytest.raises(Exception):
        otio.adapters.write_to_file(tl.deepcopy(), str(tmp_path / "raw.aaf"), adapter_name="AAF")
    tl.tracks[0][0].markers.append(marker("not asked for", 2, 1, r24))
    warnings = prepare_for_aaf(tl, r24)
    assert any("transition" in w for w in warnings) and any("filler" in w for w in warnings)
    otio.adapters.write_to_file(tl, str(tmp_path / "t.aaf"), adapter_name="AAF")
    clips = aaf_picture_clips(tmp_path / "t.aaf")
    assert [(c["name"], c["position"], c["length"]) for c in clips] == [("a", 0, 24), ("b", 24, 24),
                                                                        ("offline", 60, 10)]
    assert clips[1]["start"] == 48   # frame 50 at 25 fps is frame 48 at 24
    # ShotFill's marker hook stays out of an AAF write that did not ask for it
    with aaf2.open(str(tmp_path / "t.aaf"), "r") as f:
        assert not [s for s in next(f.content.toplevel()).slots if isinstance(s, aaf2.mobslots.EventMobSlot)]


def test_mob_ids_are_stable_per_file():
    assert mob_id_for("file:///m/a.mov") == mob_id_for("file:///m/a.mov") != mob_id_for("file:///m/b.mov")
    assert mob_id_for("x").startswith("urn:smpte:umid:")


def aaf_timecodes(path: Path) -> dict[str, tuple[int, int, bool]]:
    """Mob name (the composition: "<comp>") -> (start, fps, drop) of its Timecode."""
    found = {}
    with aaf2.open(str(path), "r") as f:
        for mob in f.content.mobs:
            for slot in mob.slots:
                seg = slot.segment
                if isinstance(seg, aaf2.components.Timecode):
                    key = "<comp>" if isinstance(mob, aaf2.mobs.CompositionMob) else mob.name
                    found[key] = (seg.start, seg.fps, bool(seg.drop))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("rate,start,drop", [(Fraction(24000, 1001), 86400, False),
                                             (Fraction(30000, 1001), 107892, True)])
def test_aaf_timecodes_count_as_the_timeline_does(tmp_path: Path, rate: Fraction, start: int, drop: bool):
    """23.976 is never drop frame (the writer's tapes said it was); 29.97 DF stays DF (the writer wrote NDF)."""
    r = f"{rate.numerator}/{rate.denominator}"
    make_test_clip(tmp_path / "a.mov", rate=r, frames=40, source="counter", codec="h264_lossless")
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(start, float(rate)))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 20, rate, src=0, url="a.mov", avail=(0, 40)))
    v1.append(gap(10, rate, marker("GEN: a crow", 0, 10, rate)))
    tl.tracks.append(v1)
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(src))
    out = tmp_path / "out" / "cut.aaf"
    assert main(["fill", str(src), "-o", str(out), "-q", "--no-report"]) == 0
    tcs = aaf_timecodes(out)
    assert tcs.pop("<comp>") == (start, 24 if rate.numerator == 24000 else 30, drop)
    (gen,) = [c for c in aaf_picture_clips(out) if c["comments"]]
    assert tcs[gen["name"]] == (start + 20, 24 if rate.numerator == 24000 else 30, drop)
    assert all(d == drop for _, _, d in tcs.values())
