"""Takes in every format: 1 and 3 takes placed, and `shotfill pick` making another one active.

Each output is read back with OTIO (through ShotFill's readers); XML outputs are parsed as XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

import test_edl_splice as edl_t
import test_fcp7_splice as fcp7_t
import test_fcpxml_splice as fcpx_t
from shotfill.cli.app import main
from shotfill.errors import UsageError
from shotfill.model import Placement, Take
from shotfill.timeline.edl.splice import splice_edl
from shotfill.timeline.fcp7.splice import splice_fcp7
from shotfill.timeline.fcpxml.splice import splice_fcpxml
from shotfill.timeline.pick import parse_choices, pick
from shotfill.timeline.place import place_clips
from shotfill.timeline.read import read_timeline
from timelines import gap, marker, timeline


def with_takes(pl: Placement, n: int, folder: Path) -> Placement:
    if n == 1:   # one take: a placement as a fill without takes= makes it
        return replace(pl, media_path=folder / "take 1.mov")
    takes = tuple(Take(k, folder / f"take {k}.mov", {**pl.provenance, "seed": 10 + k, "take": k})
                  for k in range(1, n + 1))
    return replace(pl, media_path=takes[0].media_path, provenance=takes[0].provenance,
                   takes=takes if n > 1 else (), active=1)


def url_path(url: str) -> Path:
    return Path(otio.url_utils.filepath_from_url(url))


def gen_clips(path: Path, **kw) -> list[otio.schema.Clip]:
    tl = read_timeline(path, **kw).timeline
    gen_clips.keep = tl     # the clips die with their timeline
    return [c for c in tl.find_clips() if c.name.startswith("GEN ")]


# --------------------------------------------------------------------------- OTIO


def _otio_source(tmp_path: Path) -> tuple[otio.schema.Timeline, Placement]:
    r = Fraction(25)
    tl = timeline(r, [gap(10, r, marker("GEN: a fox", 0, 1, r))], start_frame=90000)
    import test_fcpxml_splice as x
    p = x.ph("gap", 0, 0, 10, rate=r, origin=90000, path=(0, 0))
    return tl, Placement(p, tmp_path / "one.mov", {"seed": 4, "request_hash": "a" * 64})


@pytest.mark.parametrize("n", [1, 3])
def test_otio_places_every_take_as_a_media_reference(tmp_path, n):
    tl, pl = _otio_source(tmp_path)
    out = place_clips(tl, [with_takes(pl, n, tmp_path)])
    [clip] = [c for c in out.find_clips() if "shotfill" in c.metadata]
    refs = clip.media_references()
    if n == 1:
        assert list(refs) == [otio.schema.Clip.DEFAULT_MEDIA_KEY]
        assert url_path(clip.media_reference.target_url) == (tmp_path / "take 1.mov").resolve()
        return
    assert list(refs) == ["take1", "take2", "take3"] and clip.active_media_reference_key == "take1"
    assert [url_path(refs[f"take{k}"].target_url).name for k in (1, 2, 3)] == ["take 1.mov", "take 2.mov",
                                                                              "take 3.mov"]
    assert all(r.available_range == clip.source_range for r in refs.values())
    md = clip.metadata["shotfill"]
    assert [t["seed"] for t in md["takes"]] == [11, 12, 13] and md["active_take"] == 1
    assert [m.name for m in clip.markers] == ["GEN: a fox"]

    src = tmp_path / "filled.otio"
    otio.adapters.write_to_file(out, str(src))
    dst = tmp_path / "picked.otio"
    assert main(["pick", str(src), f"{pl.placeholder.id}=3", "-o", str(dst)]) == 0
    [back] = gen_clips(dst)
    assert back.active_media_reference_key == "take3"
    assert url_path(back.media_reference.target_url).name == "take 3.mov"
    assert back.metadata["shotfill"]["seed"] == 13 and back.metadata["shotfill"]["active_take"] == 3
    assert sorted(back.media_references()) == ["take1", "take2", "take3"]


# --------------------------------------------------------------------------- EDL


def _edl(tmp_path: Path, n: int) -> tuple[str, str]:
    pl = with_takes(Placement(edl_t.ph("clip", 86448, 36, pid="V1_01000200"), tmp_path / "x.mov", {}), n, tmp_path)
    return splice_edl(edl_t.EDL, [pl], rate=edl_t.R, drop_frame=False, source_name="x.edl"), pl.placeholder.id


@pytest.mark.parametrize("n", [1, 3])
def test_edl_lists_the_other_takes_in_comment_lines_and_pick_swaps_them(tmp_path, n):
    text, pid = _edl(tmp_path, n)
    takes = [ln for ln in text.splitlines() if ln.startswith("* SHOTFILL ")]
    if n == 1:
        assert takes == [] and len(text.splitlines()) == len(edl_t.EDL.splitlines()) + 3
        return
    assert takes == [f"* SHOTFILL {pid} TAKE 1 (ACTIVE): {(tmp_path / 'take 1.mov').resolve()}",
                     f"* SHOTFILL {pid} TAKE 2: {(tmp_path / 'take 2.mov').resolve()}",
                     f"* SHOTFILL {pid} TAKE 3: {(tmp_path / 'take 3.mov').resolve()}"]
    src = tmp_path / "filled.edl"
    src.write_bytes(text.encode())
    dst = tmp_path / "picked.edl"
    assert main(["pick", str(src), f"{pid}=2", "-o", str(dst)]) == 0
    out = dst.read_bytes().decode()
    assert out.count("\r\n") == text.count("\r\n") and "\n" not in out.replace("\r\n", "")
    changed = [(a, b) for a, b in zip(text.splitlines(), out.splitlines()) if a != b]
    assert len(changed) == 5      # clip name, FROM CLIP and SOURCE FILE paths, two take lines; all else as it was
    tl = read_timeline(dst, rate=edl_t.R).timeline
    # OTIO's EDL reader names the clip after its * FROM CLIP NAME:
    [clip] = [c for c in tl.find_clips() if "take" in c.name]
    assert clip.name == "take 2.mov" and clip.range_in_parent().start_time.to_frames() == 48
    assert f"* SHOTFILL {pid} TAKE 2 (ACTIVE): " in out


# --------------------------------------------------------------------------- FCP 7 XML


@pytest.mark.parametrize("n", [1, 3])
def test_fcp7_lists_the_takes_in_the_log_note_and_pick_swaps_the_file(tmp_path, n):
    p = fcp7_t.ph("gap", 0, 45, 15)
    pl = with_takes(fcp7_t.placement(p, tmp_path / "x.mov"), n, tmp_path)
    text = splice_fcp7(fcp7_t.DOC, [pl], rate=fcp7_t.R2997, drop_frame=True, source_name="small.xml")
    root = ET.fromstring(text.encode())
    [item] = [c for c in root.iter("clipitem") if c.findtext("name") == f"GEN {p.id}"]
    note = item.findtext("logginginfo/lognote")
    lines = note.splitlines()
    if n == 1:
        assert len(lines) == 1 and "take=" not in lines[0] and not item.findtext("logginginfo/shottake")
        return
    assert "take=1" in lines[0] and [ln.split(":")[0] for ln in lines[1:]] == ["take 1 (active)", "take 2", "take 3"]
    assert item.findtext("logginginfo/shottake") == "take 1"
    src = fcp7_t.write(tmp_path, text, "filled.xml")
    dst = tmp_path / "picked.xml"
    assert main(["pick", str(src), f"{p.id}=3", "-o", str(dst)]) == 0
    picked = ET.fromstring(dst.read_bytes())
    [item] = [c for c in picked.iter("clipitem") if c.findtext("name") == f"GEN {p.id}"]
    assert item.findtext("file/name") == "take 3.mov" and item.findtext("logginginfo/shottake") == "take 3"
    assert "take 3 (active): " in item.findtext("logginginfo/lognote")
    [clip] = gen_clips(dst)
    assert url_path(clip.media_reference.target_url).name == "take 3.mov"
    assert fcp7_t.track_layout(dst) == fcp7_t.track_layout(src)


# --------------------------------------------------------------------------- FCPXML

#: the DTD's rule (FCPXML 1.8 - 1.11): <!ELEMENT audition (audio | video | title | ref-clip | asset-clip | clip |
#: sync-clip)+ >, attributes %ao_attrs; (lane, offset) and modDate
_AUDITION_CHILDREN = {"audio", "video", "title", "ref-clip", "asset-clip", "clip", "sync-clip"}


def _fcpxml(tmp_path: Path, n: int, kind: str = "gap") -> tuple[str, str]:
    p = fcpx_t.ph("gap", 0, 24, 12) if kind == "gap" else fcpx_t.ph("gap", 1, 50, 6)
    pl = with_takes(fcpx_t.placement(p, tmp_path / "x.mov"), n, tmp_path)
    return splice_fcpxml(fcpx_t.DOC, [pl], rate=fcpx_t.R24, drop_frame=False, source_name="small.fcpxml"), p.id


@pytest.mark.parametrize("n", [1, 3])
def test_fcpxml_puts_the_takes_in_an_audition_active_first(tmp_path, n):
    text, pid = _fcpxml(tmp_path, n)
    root = ET.fromstring(text.encode())
    spine = root.find(".//sequence/spine")
    if n == 1:
        assert root.find(".//audition") is None and spine[1].tag == "asset-clip"
        return
    aud = spine[1]
    assert aud.tag == "audition" and set(aud.attrib) <= {"lane", "offset", "modDate"}
    assert aud.get("offset") == fcpx_t.t(fcpx_t.START + 24)
    assert {c.tag for c in aud} <= _AUDITION_CHILDREN and len(aud) == 3
    assert [c.get("name") for c in aud] == [f"GEN {pid} take {k}" for k in (1, 2, 3)]
    assert all(c.get("offset") is None and c.get("lane") is None for c in aud)
    assets = {a.get("id"): a for a in root.findall("./resources/asset")}
    srcs = [Path(assets[c.get("ref")].find("media-rep").get("src")).name for c in aud]
    assert srcs == ["take%201.mov", "take%202.mov", "take%203.mov"]
    # the editor's note, marker and connected clip stay on the active take
    first = aud[0]
    assert first.find("note").text.startswith("keep this note\nShotFill") and first.find("marker") is not None
    assert first.find("asset-clip").get("lane") == "1" and fcpx_t.dtd_order_ok(first)
    assert [c.find("note").text.split(" seed=")[1].split()[0] for c in aud] == ["11", "12", "13"]
    # OTIO's reader plays the first child
    src = fcpx_t.write(tmp_path, text, "filled.fcpxml")
    assert fcpx_t.layout(src)[0][1] == ("Clip", f"GEN {pid} take 1", 24, 12)

    dst = tmp_path / "picked.fcpxml"
    assert main(["pick", str(src), f"{pid}=2", "-o", str(dst)]) == 0
    aud = ET.fromstring(dst.read_bytes()).find(".//sequence/spine")[1]
    assert [c.get("name") for c in aud] == [f"GEN {pid} take {k}" for k in (2, 1, 3)]
    assert Path(assets[aud[0].get("ref")].find("media-rep").get("src")).name == "take%202.mov"
    assert " seed=12 " in aud[0].find("note").text and aud[0].find("note").text.startswith("keep this note\n")
    assert aud[0].find("marker") is not None and aud[1].find("marker") is None
    after = fcpx_t.layout(dst)
    assert after[0][1] == ("Clip", f"GEN {pid} take 2", 24, 12) and after[1:] == fcpx_t.layout(src)[1:]
    [clip] = [c for c in gen_clips(dst) if c.name.startswith(f"GEN {pid}")]
    assert url_path(clip.media_reference.target_url).name == "take 2.mov"
    # picking take 1 again gives back the filled document byte for byte
    again = tmp_path / "again.fcpxml"
    assert main(["pick", str(dst), f"{pid}=1", "-o", str(again)]) == 0
    assert again.read_bytes() == src.read_bytes()


def test_fcpxml_connected_hole_gets_a_connected_audition(tmp_path):
    text, pid = _fcpxml(tmp_path, 3, kind="lane")
    aud = next(ET.fromstring(text.encode()).iter("audition"))
    assert aud.get("lane") == "1" and aud.get("offset") is not None and len(aud) == 3


@pytest.mark.slow
def test_takes_documents_are_well_formed_for_libxml2(tmp_path):
    from lxml import etree

    for name, text in (("a.fcpxml", _fcpxml(tmp_path, 3)[0]),
                       ("b.xml", splice_fcp7(fcp7_t.DOC, [with_takes(fcp7_t.placement(fcp7_t.ph("gap", 0, 45, 15),
                                                                                     tmp_path / "x.mov"), 3, tmp_path)],
                                             rate=fcp7_t.R2997, drop_frame=True, source_name="s.xml"))):
        path = tmp_path / name
        path.write_text(text)
        etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))   # raises if not


# --------------------------------------------------------------------------- refusals


def test_pick_refuses_unknown_ids_and_takes_and_writes_nothing(tmp_path, capsys):
    text, pid = _fcpxml(tmp_path, 3)
    src = fcpx_t.write(tmp_path, text, "filled.fcpxml")
    dst = tmp_path / "picked.fcpxml"
    for words, says in (([f"{pid}=4"], f"{pid} has no take 4 (its takes: 1, 2, 3)"),
                        (["V9_01000000=1"], "no placeholder V9_01000000 with takes"),
                        ([f"{pid}=0"], "is not a pick"), ([f"{pid}"], "is not a pick"),
                        ([f"{pid}=2", f"{pid}=3"], "picked twice")):
        assert main(["pick", str(src), *words, "-o", str(dst)]) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err
        assert not dst.exists()
    assert main(["pick", str(src), f"{pid}=2", "-o", str(tmp_path / "p.edl")]) == 2
    assert "written in the format it was read in" in capsys.readouterr().err
    assert main(["pick", str(src), f"{pid}=2", "-o", str(src)]) == 2
    with pytest.raises(UsageError):
        parse_choices(["x=y"])
    with pytest.raises(UsageError):
        pick(src, {}, dst)
