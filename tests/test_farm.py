"""An exported Open Job Description bundle, checked and run by the real `openjd` CLI.

The job runs against the fake OpenAI service on 127.0.0.1, which counts every
create: the Submit step submits each hole once, the Media tasks only resume,
and a Media task run again pays nothing.  Its output places the same clips in
the same places as `shotfill fill` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest
import yaml

from fakes.openai import FakeOpenAI
from mediautil import decoded_frames
from shotfill.cli.app import main
from shotfill.errors import ConfigError
from shotfill.farm.bundle import job_template, validate
from test_paid import KEY, config, cut

OPENJD = str(Path(sys.executable).with_name("openjd"))
SHOTFILL = str(Path(sys.executable).with_name("shotfill"))


def test_template_is_valid_open_job_description():
    t = job_template(name="ShotFill: cut.otio", shotfill="shotfill", timelines=["/share/cut.otio"],
                     output="/share/out/cut.otio", state_dir="/share/out/.shotfill", options=["--rate", "24"],
                     keys=["V1_01000020", "V1_01000100"])
    assert validate(t) is None
    assert [s["name"] for s in t["steps"]] == ["Submit", "Media", "Place"]
    assert t["steps"][1]["dependencies"] == [{"dependsOn": "Submit"}]
    assert t["steps"][2]["dependencies"] == [{"dependsOn": "Media"}]
    space = t["steps"][1]["parameterSpace"]["taskParameterDefinitions"][0]
    assert space["range"] == ["V1_01000020", "V1_01000100"]
    # No placeholders: no Media step (a parameter space cannot be empty), Place right after Submit.
    empty = job_template(name="x", shotfill="shotfill", timelines=["/a.otio"], output="/o.otio", state_dir="/s",
                         options=[], keys=[])
    assert validate(empty) is None and [s["name"] for s in empty["steps"]] == ["Submit", "Place"]


def test_too_many_timelines_for_one_parameter_is_refused():
    with pytest.raises(ConfigError, match="more than an Open Job Description parameter holds"):
        job_template(name="x", shotfill="shotfill", timelines=[f"/share/ep{i:03}/cut.otio" for i in range(80)],
                     output="/o", state_dir="/s", options=[], keys=["a"])


def openjd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENJD, *args], capture_output=True, text=True, env=env, timeout=300)


def placed(path: Path) -> list[tuple[str, int, str]]:
    """What each item of the filled timeline is: kind, duration, and the media file's name."""
    tl = otio.adapters.read_from_file(str(path))
    rows = []
    for track in tl.video_tracks():
        for item in track:
            ref = getattr(item, "media_reference", None)
            url = getattr(ref, "target_url", "") or ""
            rows.append((type(item).__name__, item.source_range.duration.to_frames(), Path(url).name))
    return rows


@pytest.mark.slow
def test_exported_bundle_runs_with_openjd(tmp_path, small_video, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    src = cut(tmp_path / "in", [(12, "a drone shot over fog"), (18, "a fox in snow"), (10, "rain on glass")],
              tmp_path / "media")
    with FakeOpenAI(small_video, key=KEY) as fake:
        cfg = config(tmp_path, fake.url)
        out = tmp_path / "farm" / "cut.otio"
        bundle = tmp_path / "bundle"
        assert main(["farm", "export", str(src), "-o", str(out), "--config", str(cfg), "--bundle", str(bundle)]) == 0
        assert fake.count("POST /v1/videos") == 0   # exporting sends nothing
        template = yaml.safe_load((bundle / "template.yaml").read_text())
        values = yaml.safe_load((bundle / "parameter_values.yaml").read_text())
        assert template["specificationVersion"] == "jobtemplate-2023-09"
        assert {v["name"]: v["value"] for v in values["parameterValues"]}["Output"] == str(out)
        keys = template["steps"][1]["parameterSpace"]["taskParameterDefinitions"][0]["range"]
        assert len(keys) == 3

        env = {**os.environ, "PATH": f"{Path(SHOTFILL).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        check = openjd("check", str(bundle / "template.yaml"), env=env)
        assert check.returncode == 0, check.stdout + check.stderr
        run = openjd("run", str(bundle / "template.yaml"), env=env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert fake.count("POST /v1/videos") == 3   # Submit sent each hole once; the Media tasks resumed them
        assert KEY not in run.stdout + run.stderr

        rows = json.loads((out.parent / "report.json").read_text())["placeholders"]
        assert [r["result"] for r in rows] == ["filled"] * 3
        for r in rows:
            assert decoded_frames(Path(r["media"])) == r["duration"]

        # A Media task run again (a farm's retry) resumes from the journal and cache: nothing is paid again.
        again = openjd("run", str(bundle / "template.yaml"), "--step", "Media", "--task-param",
                       f"Placeholder={keys[1]}", "--no-run-dependencies", env=env)
        assert again.returncode == 0, again.stdout[-3000:]
        assert fake.count("POST /v1/videos") == 3

        # `shotfill fill` places the same clips, of the same names, in the same places.
        direct = tmp_path / "direct" / "cut.otio"
        assert main(["fill", str(src), "-o", str(direct), "--config", str(cfg), "--quiet"]) == 0
    assert placed(out) == placed(direct)
    assert sum(1 for kind, _, name in placed(out) if name.startswith("cut_V1_")) == 3


@pytest.mark.slow
def test_export_refuses_resubmit_and_bad_input(tmp_path, capsys):
    src = cut(tmp_path / "in", [(12, "shot")], tmp_path / "media")
    bundle = tmp_path / "bundle"
    assert main(["farm", "export", str(src), "-o", str(tmp_path / "o.otio"), "--bundle", str(bundle),
                 "--resubmit"]) == 2
    assert "--resubmit cannot go into a farm job" in capsys.readouterr().err
    assert main(["farm", "export", str(src), "-o", str(src), "--bundle", str(bundle)]) == 2
    assert "refusing to overwrite the input timeline" in capsys.readouterr().err
    assert not bundle.exists()


#: fill options a farm job does not take from the export, and why
NOT_FORWARDED = {
    "timeline": "the Timelines parameter", "output": "the Output parameter", "state_dir": "the StateDir parameter",
    "quiet": "output only", "json": "output only", "dry_run": "export sends nothing anyway",
    "resubmit": "refused in a farm job",
}


def _fill_parser():
    from shotfill.cli.app import build_parser
    [sub] = [a for a in build_parser()._actions if getattr(a, "choices", None) and "fill" in a.choices]
    return sub.choices["fill"]


def test_farm_export_forwards_every_fill_option_that_changes_the_result(tmp_path):
    """Every fill option set away from its default comes back the same in the tasks' command line.

    A fill option added later that is neither forwarded nor listed in NOT_FORWARDED fails here.
    """
    from shotfill.cli.farm import fill_options
    from shotfill.cli.app import build_parser
    p = tmp_path
    given = {"--config": str(p / "s.toml"), "--provider": "runway", "--model": "gen4_turbo", "--rate": "25",
             "--resolution": "320x180", "--media-search": str(p / "m"), "--takes": "3", "--prefer-handles": None,
             "--handles": "12", "--match": "off", "--markers": str(p / "k.edl"), "--audio": None,
             "--format": "edl", "--media-dir": str(p / "md"), "--codec": "h264", "--relative-paths": None,
             "--absolute-media": None, "--concurrency": "7", "--allow-long": None, "--allow-stray-markers": None,
             "--max-cost": "12.5", "--no-report": None, "--executor": "dask"}
    dests = {a.dest for a in _fill_parser()._actions if a.dest != "help"}
    tested = {next(a.dest for a in _fill_parser()._actions if flag in a.option_strings) for flag in given}
    assert dests - tested - set(NOT_FORWARDED) == set(), "a fill option neither forwarded nor listed as not"
    words = [w for flag, value in given.items() for w in ([flag] if value is None else [flag, value])]
    base = ["fill", str(p / "cut.otio"), "-o", str(p / "out.otio")]
    exported = build_parser().parse_args(base + words)
    default = vars(build_parser().parse_args(base))
    forwarded = vars(build_parser().parse_args(base + fill_options(exported)))
    for dest in dests - set(NOT_FORWARDED):
        assert forwarded[dest] == vars(exported)[dest] != default[dest], dest


@pytest.mark.slow
def test_farm_job_fills_a_hole_from_the_neighbours_media_with_no_job(tmp_path, small_video, monkeypatch):
    """--prefer-handles at export: the first hole (8 frames, shot a runs on for 10) is shot a's own file,
    no Media task and no create; the second (18 frames, nothing covers it) is generated as usual."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    src = cut(tmp_path / "in", [(8, "the street"), (18, "a fox in snow")], tmp_path / "media")
    with FakeOpenAI(small_video, key=KEY) as fake:
        cfg = config(tmp_path, fake.url)
        out = tmp_path / "farm" / "cut.otio"
        bundle = tmp_path / "bundle"
        assert main(["farm", "export", str(src), "-o", str(out), "--config", str(cfg), "--bundle", str(bundle),
                     "--prefer-handles"]) == 0
        template = yaml.safe_load((bundle / "template.yaml").read_text())
        assert "--prefer-handles" in json.dumps(template)
        keys = template["steps"][1]["parameterSpace"]["taskParameterDefinitions"][0]["range"]
        assert keys == ["V1_01000200"], "a Media task only for the hole that is generated"
        env = {**os.environ, "PATH": f"{Path(SHOTFILL).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        run = openjd("run", str(bundle / "template.yaml"), env=env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert fake.count("POST /v1/videos") == 1
        # A Media step run by hand for the free hole (the job has no such task) does nothing either.
        values = {v["name"]: v["value"] for v in yaml.safe_load((bundle / "parameter_values.yaml").read_text())
                  ["parameterValues"]}
        assert main(["farm", "step", "media", "--timelines", values["Timelines"], "--output", values["Output"],
                     "--state-dir", values["StateDir"], "--options", values["FillOptions"],
                     "--placeholder", "V1_01000020"]) == 0
        assert fake.count("POST /v1/videos") == 1
        direct = tmp_path / "direct" / "cut.otio"
        assert main(["fill", str(src), "-o", str(direct), "--config", str(cfg), "--quiet", "--prefer-handles"]) == 0
    rows = json.loads((out.parent / "report.json").read_text())["placeholders"]
    assert [(r["result"], r.get("source"), r["estimated_cost"]) for r in rows][0] == ("filled", "handles", 0.0)
    assert rows[1]["result"] == "filled" and rows[1].get("source") != "handles"
    assert placed(out) == placed(direct)
    tl = otio.adapters.read_from_file(str(out))
    [c] = [i for i in tl.video_tracks()[0] if i.range_in_parent().start_time.to_frames() == 20]
    assert Path(c.media_reference.target_url).name == "a.mov"
    assert (c.source_range.start_time.to_frames(), c.source_range.duration.to_frames()) == (30, 8)
