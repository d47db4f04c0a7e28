"""Every writer honours the Placement's ranges: the file can be longer than the hole it fills.

A placement with ``source_in=H``, ``media_frames=hole+2H`` and ``media_start=record-H`` (what handles make:
a file starting H frames before the hole) is written in each format, read back with OTIO's adapters (through
ShotFill's readers), and checked: the record position and length are the hole's, the clip shows the file from
H frames in, and where the format has one, the available range (the file's duration and timecode) is the
whole file.  At 25 and at 29.97 drop frame, with the record timecode three frames past a minute boundary, so
that the file's first frame is on the other side of it (01:00:59;27 then 01:01:00;02 skipped frames).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fcpxml_dtd import dtd_valid
from shotfill.cli.app import main
from shotfill.model import Loaded, Placement, Take
from shotfill.pipeline import load
from shotfill.rates import frames_to_timecode
from shotfill.timeline.read import read_timeline
from shotfill.timeline.write import write_output
from timelines import clip, gap, marker, timeline

H = 6
HOLE = 24
#: (rate, drop frame, record frame of the hole): three frames past 01:01:00:00 / 01:01:00;02
CASES = {"25": (Fraction(25), False, 90000 + 1500 + 3),
         "2997DF": (Fraction(30000, 1001), True, 107892 + 1800 + 3)}
SUFFIX = {"edl": ".edl", "fcp7": ".xml", "fcpxml": ".fcpxml", "otio": ".otio"}


def tc(frame: int, rate: Fraction, drop: bool) -> str:
    return frames_to_timecode(frame, rate, drop)


def fcpxml_time(frames: int, rate: Fraction) -> str:
    fd = 1 / rate
    return f"{frames * fd.numerator * (2500 if rate == 25 else 1)}/{fd.denominator * (2500 if rate == 25 else 1)}s"


def source_doc(fmt: str, rate: Fraction, drop: bool, record: int) -> str:
    """shot_a (48 frames) | a 24-frame hole under a GEN: marker | shot_b (48 frames), in ``fmt``."""
    start = record - 48
    if fmt == "edl":
        t = lambda f: tc(f, rate, drop)  # noqa: E731
        return "\n".join([
            "TITLE: ranges", f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}", "",
            f"001  SHOTA    V     C        {t(0)} {t(48)} {t(start)} {t(record)}",
            "* FROM CLIP NAME: a.mov",
            f"* LOC: {t(record + 2)} PURPLE  GEN: a fox",
            f"002  SHOTB    V     C        {t(0)} {t(48)} {t(record + HOLE)} {t(record + HOLE + 48)}",
            "* FROM CLIP NAME: b.mov", ""])
    if fmt == "fcp7":
        tb, ntsc = (30, "TRUE") if rate.denominator == 1001 else (int(rate), "FALSE")
        r = f"<rate><timebase>{tb}</timebase><ntsc>{ntsc}</ntsc></rate>"

        def item(n: int, name: str, s: int) -> str:
            return (f"<clipitem id='clipitem-{n}'><name>{name}</name><duration>120</duration>{r}<start>{s}</start>"
                    f"<end>{s + 48}</end><in>0</in><out>48</out><file id='file-{n}'><name>{name}.mov</name>"
                    f"<pathurl>file://localhost/media/{name}.mov</pathurl>{r}<duration>120</duration></file>"
                    "</clipitem>")
        return (f"<?xml version='1.0' encoding='UTF-8'?>\n<!DOCTYPE xmeml>\n<xmeml version='5'><sequence id='s1'>"
                f"<name>ranges</name><duration>120</duration>{r}<media><video><format><samplecharacteristics>"
                "<width>320</width><height>180</height></samplecharacteristics></format><track>"
                f"{item(1, 'shot_a', 0)}{item(2, 'shot_b', 48 + HOLE)}</track></video></media>"
                f"<marker><name>GEN: a fox</name><in>50</in><out>51</out></marker>"
                f"<timecode>{r}<string>{tc(start, rate, drop)}</string><frame>{start}</frame>"
                f"<displayformat>{'DF' if drop else 'NDF'}</displayformat></timecode></sequence></xmeml>\n")
    if fmt == "fcpxml":
        ft = lambda f: fcpxml_time(f, rate)  # noqa: E731
        fd = ft(1)
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.10">
  <resources>
    <format id="r1" frameDuration="{fd}" width="320" height="180"/>
    <asset id="r2" name="shot_a" start="0s" duration="{ft(120)}" hasVideo="1" format="r1" videoSources="1">
      <media-rep kind="original-media" src="file:///media/shot_a.mov"/>
    </asset>
  </resources>
  <library>
    <event name="e">
      <project name="ranges">
        <sequence format="r1" duration="{ft(120)}" tcStart="{ft(start)}" tcFormat="{'DF' if drop else 'NDF'}">
          <spine>
            <asset-clip ref="r2" offset="{ft(start)}" name="shot_a" start="0s" duration="{ft(48)}"/>
            <gap name="Gap" offset="{ft(start + 48)}" start="3600s" duration="{ft(HOLE)}">
              <marker start="3600s" duration="{fd}" value="GEN: a fox"/>
            </gap>
            <asset-clip ref="r2" offset="{ft(record + HOLE)}" name="shot_b" start="{ft(60)}" duration="{ft(48)}"/>
          </spine>
        </sequence>
      </project>
    </event>
  </library>
</fcpxml>
"""
    tl = timeline(rate, [clip("shot_a", 48, rate, url="/media/shot_a.mov", avail=(0, 120)),
                         gap(HOLE, rate, marker("GEN: a fox", 2, 1, rate)),
                         clip("shot_b", 48, rate, url="/media/shot_b.mov", avail=(0, 120))], start_frame=start)
    return otio.adapters.write_to_string(tl, "otio_json")


def loaded_source(tmp_path: Path, fmt: str, case: str) -> Loaded:
    rate, drop, record = CASES[case]
    src = tmp_path / f"in{SUFFIX[fmt]}"
    src.write_text(source_doc(fmt, rate, drop, record))
    loaded = load(src, rate=rate if fmt == "edl" else None)
    [ph] = loaded.scan.placeholders
    assert (ph.record_frame, ph.duration, ph.rate, loaded.info.drop_frame) == (record, HOLE, rate, drop)
    return loaded


def handles(pl: Placement) -> Placement:
    """The placement as handles make it: the file starts H frames before the hole and runs H after it."""
    ph = pl.placeholder
    return replace(pl, source_in=H, media_frames=ph.duration + 2 * H, media_start=ph.record_frame - H)


def run_on(pl: Placement) -> Placement:
    """The placement a neighbour's own media makes: frames 48.. of a 120-frame file stamped 00:00:00:00."""
    return replace(pl, source_in=48, media_frames=120, media_start=0)


SHAPES = {"handles": handles, "runon": run_on}


def with_takes(pl: Placement, n: int, folder: Path) -> Placement:
    if n == 1:
        return pl
    takes = tuple(Take(k, folder / f"take{k}.mov", {"seed": 10 + k, "take": k}) for k in range(1, n + 1))
    return replace(pl, media_path=takes[0].media_path, provenance=takes[0].provenance, takes=takes, active=1)


def written(tmp_path: Path, fmt: str, case: str, *, takes: int = 1, out_fmt: str | None = None,
            ranged: bool = True, shape: str = "handles") -> tuple[Path, Placement]:
    loaded = loaded_source(tmp_path, fmt, case)
    [ph] = loaded.scan.placeholders
    pl = with_takes(Placement(ph, tmp_path / "gen.mov", {"seed": 1}), takes, tmp_path)
    pl = SHAPES[shape](pl) if ranged else pl
    out = tmp_path / f"out{SUFFIX[out_fmt or fmt]}"
    adapter = {"edl": "cmx_3600", "fcp7": "fcp_xml", "fcpxml": "fcpx_xml", "otio": "otio_json"}[out_fmt or fmt]
    assert write_output(loaded, [pl], out, adapter, relative_paths=False) == []
    return out, pl


def gen_clip(path: Path, rate: Fraction) -> tuple[otio.schema.Clip, otio.opentime.TimeRange]:
    tl = read_timeline(path, rate=rate if path.suffix == ".edl" else None).timeline
    gen_clip.keep = tl      # the clips die with their timeline
    [c] = [c for c in tl.find_clips() if c.name.startswith("GEN ") or "gen" in c.name or "take" in c.name]
    return c, c.range_in_parent()


def frames(t: otio.opentime.RationalTime, rate: Fraction) -> int:
    """A time as whole frames at ``rate`` (OTIO's readers keep NTSC rates as floats)."""
    return round(t.value / t.rate * float(rate))


def check_ranges(path: Path, pl: Placement, *, available: bool) -> otio.schema.Clip:
    """Record position and length are the hole's; the clip shows the file from source_in; the file is all there."""
    ph = pl.placeholder
    c, rec = gen_clip(path, ph.rate)
    assert (frames(rec.start_time, ph.rate), frames(rec.duration, ph.rate)) == (48, HOLE)
    src = c.source_range
    assert (frames(src.start_time, ph.rate), frames(src.duration, ph.rate)) == (pl.available[0] + pl.source_in, HOLE)
    if available:
        av = c.media_reference.available_range
        assert (frames(av.start_time, ph.rate), frames(av.duration, ph.rate)) == pl.available
    return c


# --------------------------------------------------------------------------- every format, both rates


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("fmt", ["edl", "fcp7", "fcpxml", "otio"])
def test_the_clip_shows_the_file_from_source_in_and_the_file_is_all_there(tmp_path, fmt, case, shape):
    out, pl = written(tmp_path, fmt, case, shape=shape)
    check_ranges(out, pl, available=fmt != "edl")     # an EDL names no file length


@pytest.mark.parametrize("case", list(CASES))
def test_edl_event_has_the_source_timecodes_of_the_frames_shown(tmp_path, case):
    rate, drop, record = CASES[case]
    t = lambda f: tc(f, rate, drop)  # noqa: E731
    out, _ = written(tmp_path, "edl", case)
    [event] = [ln for ln in out.read_text().splitlines() if ln.startswith("003")]
    # handles: the file's timecode (record - H) plus H is the hole's own; record in/out: the hole
    assert event.split()[1:] == ["GEN00001", "V", "C", t(record), t(record + HOLE), t(record), t(record + HOLE)]
    out, _ = written(tmp_path, "edl", case, shape="runon")
    [event] = [ln for ln in out.read_text().splitlines() if ln.startswith("003")]
    # a neighbour's file stamped 00:00:00:00, shown from frame 48
    assert event.split()[-4:] == [t(48), t(48 + HOLE), t(record), t(record + HOLE)]


@pytest.mark.parametrize("case", list(CASES))
def test_fcp7_file_is_the_whole_file_and_in_out_pick_the_hole(tmp_path, case):
    rate, drop, record = CASES[case]
    out, _ = written(tmp_path, "fcp7", case)
    [item] = [c for c in ET.fromstring(out.read_bytes()).iter("clipitem") if c.findtext("name", "").startswith("GEN")]
    assert [item.findtext(k) for k in ("start", "end", "in", "out", "duration")] == \
        ["48", str(48 + HOLE), str(H), str(H + HOLE), str(HOLE + 2 * H)]
    f = item.find("file")
    assert f.findtext("duration") == f.findtext("media/video/duration") == str(HOLE + 2 * H)
    assert f.findtext("timecode/frame") == str(record - H)
    assert f.findtext("timecode/string") == tc(record - H, rate, drop)
    assert f.findtext("timecode/displayformat") == ("DF" if drop else "NDF")
    if drop:     # the file starts before the minute boundary, the hole after the two dropped frame numbers
        assert (tc(record - H, rate, drop), tc(record, rate, drop)) == ("01:00:59;27", "01:01:00;05")


@pytest.mark.parametrize("case", list(CASES))
def test_fcpxml_asset_is_the_whole_file_and_the_clip_starts_h_in(tmp_path, case):
    rate, drop, record = CASES[case]
    out, _ = written(tmp_path, "fcpxml", case, takes=3)
    root = ET.fromstring(out.read_bytes())
    aud = root.find(".//spine/audition")
    assets = {a.get("id"): a for a in root.findall("./resources/asset")}
    assert len(aud) == 3
    for c in aud:
        a = assets[c.get("ref")]
        assert (a.get("start"), a.get("duration")) == (fcpxml_time(record - H, rate), fcpxml_time(HOLE + 2 * H, rate))
        assert (c.get("start"), c.get("duration")) == (fcpxml_time(record, rate), fcpxml_time(HOLE, rate))


@pytest.mark.slow
@pytest.mark.parametrize("takes", [1, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_fcpxml_with_ranges_stays_dtd_valid(tmp_path, case, takes):
    out, _ = written(tmp_path, "fcpxml", case, takes=takes)
    ok, said = dtd_valid(out, tmp_path)
    assert ok, said


@pytest.mark.parametrize("out_fmt", ["fcp7", "edl"])
def test_otio_writers_honour_the_ranges_too(tmp_path, out_fmt):
    """An OTIO timeline written as .xml or .edl goes through OTIO's own writers (no splice)."""
    out, pl = written(tmp_path, "otio", "25", out_fmt=out_fmt)
    check_ranges(out, pl, available=out_fmt != "edl")


def test_fcp7_replaced_slug_keeps_its_markers_at_their_sequence_frame(tmp_path):
    """Clip markers count from the media's first frame: with source_in they move by it."""
    import test_fcp7_splice as fcp7_t
    from shotfill.timeline.fcp7.splice import splice_fcp7

    p = fcp7_t.ph("clip", 0, 30, 15)
    pl = handles(fcp7_t.placement(p, tmp_path / "s.mov"))
    out = splice_fcp7(fcp7_t.DOC, [pl], rate=fcp7_t.R2997, drop_frame=True, source_name="small.xml")
    slug = ET.fromstring(out.encode()).find("./sequence/media/video/track").findall("clipitem")[1]
    assert [slug.findtext(k) for k in ("start", "end", "in", "out")] == ["30", "45", str(H), str(H + 15)]
    # the slug showed its frame 12 at in=10, i.e. 2 frames in; the new clip shows frame H first
    assert slug.find("marker").findtext("in") == str(H + 2)
    c, _ = gen_clip(fcp7_t.write(tmp_path, out), fcp7_t.R2997)
    [m] = c.markers
    # OTIO's reader counts the marker from the file's first frame (its timecode left out): H + 2 - H = 2 in
    shown = frames(c.source_range.start_time, fcp7_t.R2997) - frames(c.media_reference.available_range.start_time,
                                                                     fcp7_t.R2997)
    assert shown == H and frames(m.marked_range.start_time, fcp7_t.R2997) - shown == 2


def test_fcpxml_replaced_generator_keeps_its_marker_at_its_sequence_time(tmp_path):
    import test_fcpxml_splice as fcpx_t
    from shotfill.timeline.fcpxml.splice import seconds, splice_fcpxml

    p = fcpx_t.ph("clip", 0, 36, 10)
    pl = handles(fcpx_t.placement(p, tmp_path / "s.mov"))
    out = splice_fcpxml(fcpx_t.DOC, [pl], rate=fcpx_t.R24, drop_frame=False, source_name="small.fcpxml")
    root = ET.fromstring(out.encode())
    c = root.find(f".//spine/asset-clip[@name='GEN {p.id}']")
    a = root.find(f"./resources/asset[@id='{c.get('ref')}']")
    assert seconds(a.get("start")) == (p.record_frame - H) * fcpx_t.FD and seconds(c.get("start")) == \
        p.record_frame * fcpx_t.FD and seconds(a.get("duration")) == (10 + 2 * H) * fcpx_t.FD
    # the generator's marker was 1 frame into it; it still is
    assert fcpx_t.seq_time(c, c.find("marker").get("start")) == fcpx_t.seq_time(c, c.get("start")) + fcpx_t.FD


# --------------------------------------------------------------------------- takes and pick


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("fmt", ["edl", "fcp7", "fcpxml", "otio"])
def test_three_takes_and_pick_keep_the_ranges(tmp_path, fmt, case, shape):
    out, pl = written(tmp_path, fmt, case, takes=3, shape=shape)
    check_ranges(out, pl, available=fmt != "edl")
    picked = tmp_path / f"picked{SUFFIX[fmt]}"
    assert main(["pick", str(out), f"{pl.placeholder.id}=2", "-o", str(picked)]) == 0
    c = check_ranges(picked, pl, available=fmt != "edl")
    shown = c.name if fmt == "edl" else c.media_reference.target_url
    assert "take2" in shown
    if fmt == "otio":
        assert all(r.available_range == c.media_reference.available_range for r in c.media_references().values())


# --------------------------------------------------------------------------- the defaults


@pytest.mark.parametrize("fmt", ["edl", "fcp7", "fcpxml", "otio"])
def test_default_placement_writes_the_file_as_long_as_the_hole(tmp_path, fmt):
    """source_in=0 and no lengths: the file is the hole, as before; spelt out, it writes the same bytes."""
    out, pl = written(tmp_path, fmt, "2997DF", ranged=False)
    ph = pl.placeholder
    c, _ = gen_clip(out, ph.rate)
    assert frames(c.source_range.start_time, ph.rate) == ph.record_frame
    if fmt != "edl":
        av = c.media_reference.available_range
        assert (frames(av.start_time, ph.rate), frames(av.duration, ph.rate)) == (ph.record_frame, HOLE)
    text = out.read_bytes()
    loaded = load(tmp_path / f"in{SUFFIX[fmt]}", rate=ph.rate if fmt == "edl" else None)
    again = tmp_path / f"again{SUFFIX[fmt]}"
    explicit = replace(pl, source_in=0, media_frames=HOLE, media_start=ph.record_frame)
    adapter = {"edl": "cmx_3600", "fcp7": "fcp_xml", "fcpxml": "fcpx_xml", "otio": "otio_json"}[fmt]
    write_output(loaded, [explicit], again, adapter, relative_paths=False)
    assert again.read_bytes() == text


# --------------------------------------------------------------------------- Resolve


def _python_place(tmp_path: Path):
    from resolve_cases import load_launcher
    from shotfill.resolve import install

    launcher = load_launcher(install.install(dest=tmp_path / "Scripts", launcher="python")[0])

    def place(tl, pool, clip, result, clips):
        return launcher.place(tl, pool, clip, result, {}, {launcher._norm(k): v for k, v in clips.items()})
    return place


def _lua_place(tmp_path: Path):
    from lua_bridge import LuaProxy, from_lua, lua_runtime
    from shotfill.resolve import install

    lua = lua_runtime()
    if lua is None:
        pytest.skip("lupa is not installed")
    (written,) = install.install(dest=tmp_path / "Scripts", launcher="lua")
    lua.execute("SHOTFILL_NO_AUTORUN = true")
    # the launcher's own local functions, reached from the end of its chunk
    lua.execute(written.read_text() + "\nShotFillTestPlace = place\nShotFillTestNorm = norm\n")
    g = lua.globals()

    def place(tl, pool, clip, result, clips):
        table = lua.table_from({g.ShotFillTestNorm(k): LuaProxy(lua, v) for k, v in clips.items()})
        r = lua.table_from({k: lua.table_from(v) if isinstance(v, list) else v for k, v in result.items()})
        target, err = g.ShotFillTestPlace(LuaProxy(lua, tl), LuaProxy(lua, pool), LuaProxy(lua, clip), r,
                                          lua.table_from({}), table)
        return from_lua(target), err
    return place


@pytest.mark.parametrize("launcher", ["python", "lua"])
def test_resolve_launcher_appends_and_adds_takes_from_source_in(tmp_path, launcher):
    """place(): startFrame = source_in, endFrame one past the last frame shown (Resolve 21), every take alike."""
    from resolve_cases import fake_module

    fake = fake_module()
    place = (_python_place if launcher == "python" else _lua_place)(tmp_path)
    r = fake.Resolve()
    tl = r.project.new_timeline("Cut", rate="25", start_frame=90000, start_timecode="01:00:00:00", tracks=1)
    paths = [str(tmp_path / f"take{k}.mov") for k in (1, 2, 3)]
    clips = {p: fake.MediaPoolItem(p, HOLE + 2 * H, "25") for p in paths}
    result = {"id": "V1_x", "record_frame": 90048, "duration": HOLE, "track_index": 1, "source_in": H,
              "takes": paths}
    target, err = place(tl, r.project.pool, clips[paths[0]], result, clips)
    assert err is None and target == 1
    [append] = [c[2] for c in r.calls if c[1] == "AppendToTimeline"]
    assert (append["startFrame"], append["endFrame"], append["recordFrame"]) == (H, H + HOLE, 90048)
    [item] = tl.tracks[0]["items"]
    assert (item.start, item.end, item.GetLeftOffset(), item.GetRightOffset()) == (90048, 90048 + HOLE, H, H)
    assert [c[4:] for c in r.calls if c[1] == "AddTake"] == [(H, H + HOLE)] * 2
    assert [(t["startFrame"], t["endFrame"]) for t in map(item.GetTakeByIndex, (1, 2, 3))] == [(H, H + HOLE)] * 3
    # without source_in (an older engine's results), the file is the hole, as before
    tl2 = r.project.new_timeline("Cut2", rate="25", start_frame=90000, start_timecode="01:00:00:00", tracks=1)
    short = fake.MediaPoolItem(paths[0], HOLE, "25")
    old = {k: v for k, v in result.items() if k not in ("source_in", "takes")}
    assert place(tl2, r.project.pool, short, old, {})[1] is None
    assert [c[2] for c in r.calls if c[1] == "AppendToTimeline"][-1]["startFrame"] == 0
