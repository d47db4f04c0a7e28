"""Several takes per placeholder: the option, one generation per take, the budget, and OTIO placement."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from mediautil import decoded_frames
from hash_before import hash_before_later_fields
from shotfill.cli.app import main
from shotfill.config import load_settings
from shotfill.errors import ConfigError
from shotfill.jobs import takes
from shotfill.model import JobSpec, Outcome
from shotfill.plan.requests import PlanSettings, default_seed, preview_request, request_hash
from shotfill.scan.notes import parse_note
from timelines import gap, generated, info, marker
from timelines import holes_timeline as holes

R25 = Fraction(25)
KEY = "sk-takes-test-key"




# --------------------------------------------------------------------------- the option


def test_takes_option_is_read_and_bad_values_are_problems():
    assert parse_note("a fox | takes=3 seed=4").options.takes == 3
    assert parse_note("a fox").options.takes is None
    for bad in ("0", "9", "two", "-1"):
        note = parse_note(f"a fox | takes={bad}")
        assert note.options.takes is None
        assert any("takes=" in p and "1 to 8" in p for p in note.problems), note.problems


def test_config_takes_is_checked(tmp_path):
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text("takes = 3\n")
    assert load_settings(cfg, cwd=tmp_path).takes == 3
    cfg.write_text("takes = 9\n")
    with pytest.raises(ConfigError, match="takes"):
        load_settings(cfg, cwd=tmp_path)


@pytest.mark.parametrize("value", ["0", "9", "x"])
def test_bad_takes_flag_is_refused_by_scan_and_fill(tmp_path, capsys, value):
    src = holes(tmp_path / "cut.otio", ["a fox"])
    assert main(["scan", str(src), "--takes", value]) == 2
    out = tmp_path / "out.otio"
    assert main(["fill", str(src), "-o", str(out), "--takes", value, "--resolution", "320x180"]) == 2
    err = capsys.readouterr().err
    assert "--takes" in err and "1 to 8" in err and "Traceback" not in err
    assert not out.exists()


def test_fill_refuses_a_bad_takes_note_and_writes_nothing(tmp_path, capsys):
    src = holes(tmp_path / "cut.otio", ["a fox | takes=12"])
    out = tmp_path / "o" / "out.otio"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180"]) == 2
    assert "takes='12'" in capsys.readouterr().err
    assert not out.parent.exists()
    # scan shows it instead
    assert main(["scan", str(src)]) == 0
    assert "PROBLEM: option takes='12'" in capsys.readouterr().out


# --------------------------------------------------------------------------- one generation per take


def _ph(note: str):
    from shotfill.scan.placeholders import scan_timeline
    tl = otio.adapters.read_from_string(holes_text(note), "otio_json")
    return scan_timeline(tl, info(R25)).placeholders[0]


def holes_text(note: str) -> str:
    tl = otio.schema.Timeline(name="t")
    t = otio.schema.Track(name="V1", kind="Video")
    t.append(gap(10, R25, marker(f"GEN: {note}", 0, 1, R25)))
    tl.tracks.append(t)
    return otio.adapters.write_to_string(tl)


def test_each_take_has_its_own_seed_and_hash_and_take_one_hashes_as_before():
    ps = PlanSettings(width=320, height=180)
    ph = _ph("a fox | seed=40 takes=3")
    reqs = [preview_request(ph, ps, take=k) for k in (1, 2, 3)]
    assert [r.seed for r in reqs] == [40, 41, 42]
    hashes = [request_hash(r) for r in reqs]
    assert len(set(hashes)) == 3
    # take 1 hashes exactly as a request did before takes existed: earlier caches still serve it
    assert hashes[0] == hash_before_later_fields(reqs[0])
    # without seed=, the default seed + k - 1
    ph = _ph("a hare | takes=2")
    assert [preview_request(ph, ps, take=k).seed for k in (1, 2)] == [default_seed(ph), default_seed(ph) + 1]


def test_expand_and_merge_keep_one_outcome_per_placeholder():
    a, b = _ph("a fox | takes=3"), _ph("a hare")
    specs = [JobSpec("A", info(R25), a, Path("/m")), JobSpec("B", info(R25), b, Path("/m"))]
    jobs = takes.expand(specs, default=1)
    assert [(j.key, j.take, j.takes) for j in jobs] == [("A take 1", 1, 3), ("A take 2", 2, 3),
                                                        ("A take 3", 3, 3), ("B", 1, 1)]
    assert [j.takes for j in takes.expand(specs, default=2)] == [3, 3, 3, 2, 2]
    outs = [Outcome(jobs[0], "filled", media=Path("/m/1.mov"), provenance={"seed": 1}, estimated_cost=0.4),
            Outcome(jobs[1], "filled", media=Path("/m/2.mov"), provenance={"seed": 2}, estimated_cost=0.4),
            Outcome(jobs[2], "skipped", error="over budget: ...", estimated_cost=0.4),
            Outcome(jobs[3], "filled", media=Path("/m/b.mov"), provenance={})]
    merged = takes.merge(specs, outs)
    assert len(merged) == 2 and merged[1] is outs[3]
    m = merged[0]
    assert m.status == "filled" and m.media == Path("/m/1.mov") and m.spec.key == "A"
    assert m.estimated_cost == pytest.approx(0.8)
    assert m.warnings[0] == "2 of 3 takes made" and "take 3 of 3 not made: over budget" in m.warnings[1]
    pl = takes.placement(m)
    assert [t.number for t in pl.takes] == [1, 2] and pl.active == 1
    assert pl.takes[1].provenance == {"seed": 2, "take": 2, "take_count": 3}


# --------------------------------------------------------------------------- real fills


def _frame_png(path: Path, index: int, out: Path) -> bytes:
    from shotfill.media.frames import extract_frame
    return extract_frame(path, index, out).read_bytes()


@pytest.mark.slow
def test_three_takes_are_three_generations_placed_as_otio_media_references(tmp_path):
    src = holes(tmp_path / "cut.otio", ["a fox in snow | takes=3 seed=40", "a hare"], frames=12)
    out = tmp_path / "out" / "cut.otio"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180", "-q"]) == 0
    three, one = generated(out)
    refs = three.media_references()
    assert sorted(refs) == ["take1", "take2", "take3"] and three.active_media_reference_key == "take1"
    files = [Path(otio.url_utils.filepath_from_url(refs[f"take{k}"].target_url)) for k in (1, 2, 3)]
    assert len(set(files)) == 3 and all(decoded_frames(f) == 12 for f in files)
    md = three.metadata["shotfill"]
    assert [t["seed"] for t in md["takes"]] == [40, 41, 42] and [t["take"] for t in md["takes"]] == [1, 2, 3]
    assert len({t["request_hash"] for t in md["takes"]}) == 3 and md["active_take"] == 1
    # the burn-in differs (take number and seed): the frames are not the same pictures
    pics = {_frame_png(f, 0, tmp_path / f"{i}.png") for i, f in enumerate(files)}
    assert len(pics) == 3
    # one take: a plain clip, no take references
    assert list(one.media_references()) == [otio.schema.Clip.DEFAULT_MEDIA_KEY] and "takes" not in one.metadata["shotfill"]
    cache = [p for p in (tmp_path / "out" / ".shotfill" / "cache").rglob("*") if p.is_file() and not p.suffix]
    assert len(cache) == 4
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [len(p.get("takes") or []) for p in report["placeholders"]] == [3, 0]


@pytest.mark.slow
def test_budget_counts_every_take_and_fills_as_many_as_it_can(openai_fake, tmp_path, capsys):
    src = holes(tmp_path / "cut.otio", ["one | takes=3", "two"])
    out = tmp_path / "out" / "cut.otio"
    base = ["fill", str(src), "-o", str(out), "--config", str(openai_fake.config), "--resolution", "320x180"]
    # 4 s a take at 0.1/s: 0.40 a take; four takes in all
    assert main([*base, "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["estimated_total"] == pytest.approx(1.6)
    assert [p["takes"] for p in dry["placeholders"]] == [3, 1]
    assert main([*base, "--dry-run"]) == 0
    assert "x 3 takes" in capsys.readouterr().out
    assert main(["scan", str(src), "--config", str(openai_fake.config), "--resolution", "320x180"]) == 0
    assert "3 takes, est. 1.20 (0.40 a take)" in capsys.readouterr().out

    assert main([*base, "--max-cost", "0.8", "--json", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert openai_fake.count("POST /v1/videos") == 2
    first, second = summary["placeholders"]
    assert first["result"] == "filled" and second["result"] == "skipped"
    assert first["warnings"][0] == "2 of 3 takes made"
    assert any(w.startswith("take 3 of 3 not made: over budget") for w in first["warnings"])
    [clip] = generated(out)
    assert sorted(clip.media_references()) == ["take1", "take2"]
    # each take is its own paid job: its own journal row, under its own request hash
    import sqlite3
    with sqlite3.connect(tmp_path / "out" / ".shotfill" / "journal.sqlite") as db:
        rows = db.execute("SELECT request_hash, job_id FROM jobs").fetchall()
    md = clip.metadata["shotfill"]["takes"]
    assert sorted(h for h, _ in rows) == sorted(t["request_hash"] for t in md)
    assert len({j for _, j in rows}) == 2 and {t["job_id"] for t in md} == {j for _, j in rows}
    # a second run pays for nothing again, and fills the third take once the budget allows
    seen = openai_fake.count("POST /v1/videos")
    assert main([*base, "--max-cost", "0.4", "--json", "-q"]) == 0
    capsys.readouterr()
    assert openai_fake.count("POST /v1/videos") == seen + 1
    [clip] = generated(out)
    assert sorted(clip.media_references()) == ["take1", "take2", "take3"]


@pytest.mark.slow
def test_an_otioz_bundle_holds_every_take_and_pick_keeps_them(tmp_path):
    import zipfile
    src = holes(tmp_path / "cut.otio", ["a fox | takes=2"])
    out = tmp_path / "out" / "cut.otioz"
    assert main(["fill", str(src), "-o", str(out), "--resolution", "320x180", "-q", "--no-report"]) == 0
    with zipfile.ZipFile(out) as z:
        media = sorted(n for n in z.namelist() if n.startswith("media/"))
        content = json.loads(z.read("content.otio"))
    assert len(media) == 2 and "_take2_" in media[1]
    picked = tmp_path / "picked.otioz"
    assert main(["pick", str(out), "V1_01000000=2", "-o", str(picked)]) == 0
    with zipfile.ZipFile(picked) as z, zipfile.ZipFile(out) as before:
        assert sorted(z.namelist()) == sorted(before.namelist())
        assert all(z.read(n) == before.read(n) for n in media)
        tl = otio.adapters.read_from_string(z.read("content.otio").decode(), "otio_json")
    [clip] = [c for c in tl.find_clips() if "shotfill" in c.metadata]
    assert clip.active_media_reference_key == "take2"
    assert clip.media_reference.target_url == f"media/{Path(media[1]).name}"
    assert clip.media_references()["take1"].target_url == f"media/{Path(media[0]).name}"
    assert content   # the fill's own bundle was read whole
