"""Reference images: ref= in a note and references in shotfill.toml, mapped to each service's own field."""

from __future__ import annotations

import base64
import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fakes.veo import FakeVeo
from mediautil import make_png
from provider_harness import KEY, fake_fixture, key_fixture
from shotfill.cli.app import main
from shotfill.config import load_settings
from shotfill.errors import UsageError
from shotfill.model import GenerationRequest, Placeholder
from shotfill.plan.requests import PlanSettings, references_for, request_hash
from shotfill.providers import get_provider
from shotfill.providers.base import ProviderContext
from shotfill.scan.notes import parse_note
from test_provider_veo import Harness as VeoHarness
from timelines import clip, gap, marker

R24 = Fraction(24)
fake = fake_fixture(FakeVeo, key=KEY)
key = key_fixture("veo")


@pytest.fixture
def refs(tmp_path):
    return [make_png(tmp_path / "hero.png", 32, 32, "red"), make_png(tmp_path / "style.png", 32, 32, "blue")]


def request(provider: str, model: str | None, references: tuple[str, ...] = ()) -> GenerationRequest:
    req = GenerationRequest(placeholder_id="V1-0001", provider=provider, model=model, prompt="the hero walks in",
                            seed=3, width=1280, height=720, rate="24", frames=96, timecode="01:00:00:00",
                            references=references)
    return req.model_copy(update={"request_hash": request_hash(req)})


def test_ref_in_a_note_is_a_comma_list_and_an_empty_one_is_refused():
    note = parse_note("GEN: the hero walks in | ref=hero.png,style.png seed=3")
    assert note.options.ref == "hero.png,style.png" and not note.problems
    assert any("image paths separated by commas" in p for p in parse_note("GEN: x | ref=,").problems)


def test_references_come_from_the_note_else_from_shotfill_toml_relative_to_it(tmp_path, refs):
    cfg = tmp_path / "proj" / "shotfill.toml"
    cfg.parent.mkdir()
    cfg.write_text('references = ["../hero.png"]\n')
    settings = load_settings(cfg)
    assert settings.references == [str(refs[0])]
    ps = PlanSettings(width=1280, height=720, references=tuple(settings.references))
    note = parse_note(f"GEN: x | ref={refs[1]}")
    ph = Placeholder.model_construct(options=note.options)
    assert references_for(ph, ps) == (str(refs[1]),)
    assert references_for(Placeholder.model_construct(options=parse_note("GEN: x").options), ps) == (str(refs[0]),)


def test_the_request_hash_covers_the_reference_bytes_and_a_non_image_is_refused(tmp_path, refs):
    plain, with_ref = request("veo", None), request("veo", None, (str(refs[0]),))
    assert plain.request_hash != with_ref.request_hash
    make_png(refs[0], 32, 32, "green")                     # same path, other picture: another clip
    assert request("veo", None, (str(refs[0]),)).request_hash != with_ref.request_hash
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    with pytest.raises(UsageError, match="V1-0001: reference image .*notes.txt is not a PNG, JPEG or WebP"):
        request("veo", None, (str(bad),))


@pytest.mark.slow
def test_veo_sends_references_inline_as_asset_images(fake, key, tmp_path, refs):
    h = VeoHarness(fake, tmp_path)
    req = request("veo", None, tuple(str(r) for r in refs))
    plan = h.provider.plan(req)
    assert plan.references == [str(r) for r in refs] and any("hero.png, style.png" in n for n in plan.notes)
    h.run(req)
    [post] = [r for r in fake.requests if r.path.endswith(":predictLongRunning")]
    sent = post.json["instances"][0]["referenceImages"]
    assert [s["referenceType"] for s in sent] == ["asset", "asset"]
    assert [base64.b64decode(s["image"]["bytesBase64Encoded"]) for s in sent] == [r.read_bytes() for r in refs]
    assert all(s["image"]["mimeType"] == "image/png" for s in sent)


def test_a_model_that_takes_fewer_or_none_says_so(fake, key, tmp_path, refs):
    four = tuple(str(refs[i % 2]) for i in range(4))
    plan = VeoHarness(fake, tmp_path).provider.plan(request("veo", None, four))
    assert len(plan.references) == 3 and any("only the first 3 of 4 reference images" in n for n in plan.notes)
    lite = VeoHarness(fake, tmp_path, model="veo-3.1-lite-generate-001").provider
    req = request("veo", "veo-3.1-lite-generate-001", four)
    assert lite.plan(req).references == [] and "referenceImages" not in lite.build_body(req, lite.plan(req))["instances"][0]
    assert any("reference images not sent: veo veo-3.1-lite-generate-001 takes none" in n
               for n in lite.plan(req).notes)


def test_a_model_generic_client_maps_references_to_the_models_own_input(tmp_path, refs):
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text('[providers.fal.models."acme/ref-video"]\ndurations = [4, 8]\nreferences = 2\n'
                   'inputs = { prompt = "prompt", duration = "duration", references = "reference_image_urls" }\n')
    fal = get_provider("fal", ProviderContext(settings=load_settings(cfg)))
    req = request("fal", "acme/ref-video", tuple(str(r) for r in refs))
    body = fal.build_body(req, fal.plan(req))
    assert [base64.b64decode(u.split(",", 1)[1]) for u in body["reference_image_urls"]] == [r.read_bytes() for r in refs]
    assert all(u.startswith("data:image/png;base64,") for u in body["reference_image_urls"])


def test_scan_says_which_references_each_service_takes(tmp_path, refs, capsys):
    tl = otio.schema.Timeline(name="cut")
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 24, R24))
    v1.append(gap(48, R24, marker(f"GEN: the hero walks in | ref={refs[0]}", 0, 48, R24)))
    v1.append(clip("b", 24, R24))
    tl.tracks.append(v1)
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(src))
    assert main(["scan", str(src), "--resolution", "1280x720", "--provider", "runway"]) == 0
    assert "reference images not sent: runway gen4.5 takes none" in capsys.readouterr().out
    assert main(["scan", str(src), "--resolution", "1280x720", "--provider", "veo", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["plan"]["references"] == [str(refs[0])]
