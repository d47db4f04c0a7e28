"""The model catalog as data: shipped rules merged with shotfill.toml, planned in the model's own units."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from fakes.fal import FakeFal, _image, _int_range, _str
from provider_harness import KEY, ProviderHarness, neighbour_frames, png_of
from shotfill.cli.app import main
from shotfill.config import load_settings
from shotfill.errors import Rejected
from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash
from shotfill.providers import catalog, get_provider
from shotfill.providers.base import ProviderContext
from shotfill.providers.fal import FalProvider

#: a model that shipped today: ShotFill has never heard of it
NEW_FAL = "acme/ltx-9/image-to-video"
DECLARED = f'''
[providers.fal.models."{NEW_FAL}"]
min_seconds = 1
max_seconds = 20
frames = "8n+1"
rates = [24, 25, 48, 50]
sizes = ["1920x1080", "1080x1920"]
first_frame = true
price_per_second = 0.05
inputs = {{ prompt = "prompt", first_frame = "image_url", num_frames = "num_frames", fps = "fps" }}
extra = {{ quality = "high" }}
source = "acme.example/docs/ltx-9"
date = "2026-12-01"

[providers.replicate.models."acme/clip-9"]
durations = [3, 6]
sizes = ["1280x720", "720x1280"]
first_frame = true
last_frame = true
duration_type = "int"
inputs = {{ prompt = "prompt", first_frame = "start", last_frame = "end", duration = "secs", aspect_ratio = "ar" }}

[providers.runway.models."gen5"]
durations = [5, 10]
sizes = ["1280:720", "720:1280"]
first_frame = true
seed = true
price_per_second = 0.2

[providers.openai.models."vertex_ai/veo-3.1-generate-001"]
durations = [4, 6, 8]
sizes = ["1280x720", "720x1280"]
first_frame = true
price_per_second = 0.4
'''


def write_config(tmp_path: Path, text: str = DECLARED) -> Path:
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text(text)
    return cfg


def request(provider: str, model: str, *, rate: str = "25", frames: int = 60, first: str | None = None,
            last: str | None = None, w: int = 1920, h: int = 1080) -> GenerationRequest:
    req = GenerationRequest(placeholder_id="V1-0001", provider=provider, model=model, prompt="a lighthouse in fog",
                            seed=11, width=w, height=h, rate=rate, frames=frames, timecode="01:00:00:00",
                            first_frame=first, last_frame=last)
    return req.model_copy(update={"request_hash": request_hash(req)})


def provider(tmp_path: Path, name: str, cfg: Path | None = None):
    settings = load_settings(cfg or write_config(tmp_path))
    return get_provider(name, ProviderContext(settings=settings))


# -- declared in shotfill.toml: listed, planned, estimated, sent ----------------------------------------


def test_a_declared_model_is_listed_with_its_rules(tmp_path, capsys):
    cfg = write_config(tmp_path)
    assert main(["providers", "--config", str(cfg), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    [new] = [m for m in rows["fal"]["models"] if m["name"] == NEW_FAL]
    assert new["builtin"] is False and new["frames"] == "8n+1" and new["rates"] == [24, 25, 48, 50]
    assert (new["min_seconds"], new["max_seconds"], new["first_frame"], new["price_per_second"]) == (1, 20, True, 0.05)
    assert new["source"] == "acme.example/docs/ltx-9" and "inputs" not in new
    assert any(m["name"] == "gen5" and not m["builtin"] for m in rows["runway"]["models"])
    # a gateway's model is the openai provider's only (and so default) one
    assert rows["openai"]["default_model"] == "vertex_ai/veo-3.1-generate-001"
    assert rows["veo"]["default_model"] == "veo-3.1-generate-001"
    assert main(["providers", "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert f"{NEW_FAL}" in text and "frames 8n+1; rates 24, 25, 48, 50" in text and "(shotfill.toml)" in text


def test_a_declared_model_is_planned_by_its_rules_in_its_own_units(tmp_path):
    fal = provider(tmp_path, "fal")
    first, _ = neighbour_frames(tmp_path)
    # 60 frames at 25 fps: 2.4 s.  8n+1 frames at 25: 65 frames (2.6 s) is the smallest that covers it.
    plan = fal.plan(request("fal", NEW_FAL, rate="25", frames=60, first=first))
    assert (plan.frames, plan.fps, plan.seconds) == (65, 25, 2.6)
    assert plan.estimated_cost == pytest.approx(0.05 * 2.6) and plan.use_first and plan.refused is None
    # 23.976: the nearest rate it can be asked for is 24; 48 frames there last 48.048 frames at 24 -> 49 (8n+1)
    plan = fal.plan(request("fal", NEW_FAL, rate="23.976", frames=48, first=first))
    assert (plan.frames, plan.fps) == (49, 24) and plan.seconds == pytest.approx(49 / 24)
    assert Fraction(plan.frames, 1) / plan.fps >= Fraction(48 * 1001, 24000)
    assert any("made at 24 fps" in n for n in plan.notes)
    # 50 fps asks for 50; longer than 20 s is refused with the longest clip it makes
    assert fal.plan(request("fal", NEW_FAL, rate="50", frames=100, first=first)).fps == 50
    long = fal.plan(request("fal", NEW_FAL, rate="25", frames=25 * 21, first=first))
    assert long.refused and "longest clip (497 frames at 25 fps, 19.88 s)" in long.refused


def test_each_model_generic_client_builds_its_body_for_a_declared_model(tmp_path):
    cfg = write_config(tmp_path)
    first, last = neighbour_frames(tmp_path)
    fal = provider(tmp_path, "fal", cfg).request_preview(request("fal", NEW_FAL, frames=60, first=first))
    assert {k: v for k, v in fal.body.items() if k != "image_url"} == {
        "prompt": "a lighthouse in fog", "num_frames": 65, "fps": 25, "quality": "high"}
    rep = provider(tmp_path, "replicate", cfg).request_preview(
        request("replicate", "acme/clip-9", rate="24", frames=96, first=first, last=last))
    assert rep.plan.seconds == 6 and rep.plan.use_last
    assert {k: v for k, v in rep.body["input"].items() if k not in ("start", "end")} == {
        "prompt": "a lighthouse in fog", "secs": 6, "ar": "16:9"}
    run = provider(tmp_path, "runway", cfg).request_preview(request("runway", "gen5", rate="24", frames=72,
                                                                     first=first))
    assert {k: v for k, v in run.body.items() if k != "promptImage"} == {
        "model": "gen5", "promptText": "a lighthouse in fog", "ratio": "1280:720", "duration": 5, "seed": 11}
    assert run.plan.estimated_cost == pytest.approx(1.0)
    gw = provider(tmp_path, "openai", cfg).request_preview(request("openai", "", rate="24", frames=100))
    assert gw.body["model"] == "vertex_ai/veo-3.1-generate-001" and gw.body["seconds"] == "6"
    assert gw.plan.estimated_cost == pytest.approx(2.4)


@pytest.mark.slow                                   # the download is checked with ffprobe
def test_a_declared_fal_model_is_sent_like_a_built_in_one(tmp_path, small_video, monkeypatch):
    from fakes.fal import FakeCdn

    monkeypatch.setenv("FAL_KEY", KEY)
    with FakeCdn(small_video) as cdn, FakeFal(small_video, key=KEY, cdn=cdn) as fake:
        fake.models[NEW_FAL] = ({"prompt": _str, "image_url": _image, "num_frames": _int_range(9, 481),
                                 "fps": _int_range(24, 50), "quality": _str}, ("prompt", "image_url"))

        class Harness(ProviderHarness):
            provider_class = FalProvider

        rules = load_settings(write_config(tmp_path)).provider("fal").models
        h = Harness(fake, tmp_path, models=rules)
        first, _ = neighbour_frames(tmp_path)
        media = h.run(request("fal", NEW_FAL, frames=60, first=first))
        [sub] = [r for r in fake.requests if r.method == "POST"]
        assert sub.path == f"/{NEW_FAL}" and sub.json["num_frames"] == 65 and sub.json["fps"] == 25
        assert png_of(sub.json["image_url"]) == Path(first).read_bytes()
        assert media.model == NEW_FAL and Path(media.path).read_bytes() == small_video
        assert h.journal.get(media.request_hash).cost == pytest.approx(0.05 * 2.6)


# -- merging and refusing ---------------------------------------------------------------------------


def test_a_table_changes_one_key_of_a_built_in_model_and_keeps_the_rest(tmp_path):
    cfg = write_config(tmp_path, '[providers.runway.models."gen4.5"]\nprice_per_second = 0.2\n'
                                 '[providers.fal.models."fal-ai/ltx-2/image-to-video"]\ndurations = [6, 8, 10, 12]\n')
    runway = provider(tmp_path, "runway", cfg)
    spec = runway.spec("gen4.5")
    assert spec.price_per_second == 0.2 and spec.durations == tuple(float(d) for d in range(2, 11))
    assert spec.builtin and spec.first_frame
    ltx = provider(tmp_path, "fal", cfg).spec("fal-ai/ltx-2/image-to-video")
    assert ltx.durations == (6.0, 8.0, 10.0, 12.0) and ltx.rates == (25, 50) and ltx.inputs["fps"] == "fps"
    # a table that gives a range replaces the listed durations it is laid over
    merged = catalog.merge(catalog.builtin()["runway"][1]["gen4.5"],
                           load_settings(write_config(tmp_path, '[providers.runway.models."gen4.5"]\n'
                                                                'min_seconds = 2\nmax_seconds = 12\n'))
                           .provider("runway").models["gen4.5"])
    assert merged.durations is None and (merged.min_seconds, merged.max_seconds) == (2, 12)


@pytest.mark.parametrize("table, named", [
    ('frame = "8n+1"\ndurations = [5]', 'providers.fal.models.acme/x.frame: unknown key'),
    ('durations = [5]\nframes = "8x+1"', "providers.fal.models.acme/x.frames: Value error, '8x+1' is not a frame rule"),
    ('durations = [5]\nrates = [0]', "providers.fal.models.acme/x.rates"),
    ('durations = [5]\nsizes = ["wide"]', "'wide' is not a size"),
    ('durations = [5]\nmin_seconds = 2', "give either durations or min_seconds/max_seconds"),
    ('min_seconds = 9\nmax_seconds = 3', "min_seconds: 9 is more than max_seconds 3"),
    ('durations = [5]\nprice_per_second = -1', "providers.fal.models.acme/x.price_per_second"),
    ('durations = [5]\nfirst_frame = "yes"', "providers.fal.models.acme/x.first_frame"),
    ('durations = [0]', "providers.fal.models.acme/x.durations.0"),
    ('durations = [5]\nreferences = -2', "providers.fal.models.acme/x.references"),
    ('durations = [5]\ndate = "yesterday"', "'yesterday' is not a date"),
])
def test_bad_catalog_keys_are_refused_with_their_name(tmp_path, capsys, table, named):
    cfg = write_config(tmp_path, f'[providers.fal.models."acme/x"]\n{table}\n')
    assert main(["providers", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert named.replace("Value error, ", "") in err and "Traceback" not in err


def test_a_declared_model_that_says_nothing_of_length_is_refused_by_name(tmp_path):
    fal = provider(tmp_path, "fal", write_config(tmp_path, '[providers.fal.models."acme/y"]\nfirst_frame = true\n'))
    with pytest.raises(Rejected, match="says nothing of how long its clips are") as info:
        fal.plan(request("fal", "acme/y"))
    assert '[providers.fal.models."acme/y"]' in info.value.hint


def test_a_model_that_picks_its_own_rate_is_planned_in_seconds(tmp_path):
    cfg = write_config(tmp_path, '[providers.runway.models."gen5"]\ndurations = [5, 10]\n')
    plan = provider(tmp_path, "runway", cfg).plan(request("runway", "gen5", rate="24", frames=130))
    assert (plan.seconds, plan.frames, plan.fps) == (10.0, None, None)


# -- the shipped catalog ----------------------------------------------------------------------------


def test_the_shipped_catalog_has_a_source_and_date_for_every_entry_and_no_shut_down_model(capsys):
    for name, (default, models) in catalog.builtin().items():
        assert default is None or default in models, name
        for mid, rules in models.items():
            assert rules.source and rules.date, f"{name} {mid}"
            assert mid not in catalog.retired(name)
    assert main(["providers", "--json"]) == 0
    for row in json.loads(capsys.readouterr().out):
        listed = {m["name"] for m in row["models"]} | {row["default_model"]}
        assert not listed & set(catalog.retired(row["name"])), row["name"]
    assert "veo-3.1-generate-preview" in catalog.retired("veo")


def test_a_shut_down_model_is_refused_with_the_date_and_the_current_ones(tmp_path):
    runway = provider(tmp_path, "runway", write_config(tmp_path, ""))
    with pytest.raises(Rejected, match="model 'veo3' was shut down by the service on 2026-06-30") as info:
        runway.plan(request("runway", "veo3"))
    assert "gen4.5" in info.value.hint
