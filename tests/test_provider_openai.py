"""The OpenAI-style Videos client against a fake /v1/videos on real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.openai import FakeOpenAI, image_size, oai_error, parse_multipart
from mediautil import make_png
from provider_harness import KEY, ProviderHarness, fake_fixture, key_fixture, request_factory
from shotfill.errors import Rejected, SubmitUncertain
from shotfill.jobs.journal import Journal
from shotfill.providers.openai import OpenAIProvider

HASH = "0f" * 32


fake = fake_fixture(FakeOpenAI, key=KEY)


key = key_fixture("openai")


#: what a gateway serving Sora declares in shotfill.toml: OpenAI's own Sora API was shut down on
#: 2026-09-24, so the catalog ships no /v1/videos model (the first one declared is the default)
GATEWAY_MODELS = {
    "sora-2": {"durations": [4, 8, 12], "sizes": ["1280x720", "720x1280"], "first_frame": True,
               "price_per_second": 0.10},
    "sora-2-pro": {"durations": [4, 8, 12], "sizes": ["1280x720", "720x1280", "1792x1024", "1024x1792"],
                   "first_frame": True, "price_per_second": {"1280x720": 0.30, "720x1280": 0.30,
                                                             "1792x1024": 0.50, "1024x1792": 0.50}},
}


class Harness(ProviderHarness):
    provider_class = OpenAIProvider

    def __init__(self, fake, tmp_path, clock=None, **settings):
        settings.setdefault("models", GATEWAY_MODELS)
        super().__init__(fake, tmp_path, clock, **settings)


request = request_factory(placeholder_id="V1-0001", provider="openai", prompt="a red fox trots through fresh snow",
                          seed=7, width=1920, height=1080, rate="24", frames=120, timecode="01:00:10:00",
                          request_hash=HASH)


def creates(fake: FakeOpenAI):
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/videos"]


# -- happy paths --------------------------------------------------------------------------


@pytest.mark.slow
def test_text_only_landscape_sends_the_sdk_form_and_downloads_the_video(fake, key, tmp_path, small_video):
    h = Harness(fake, tmp_path)
    media = h.run(request())

    [post] = creates(fake)
    assert post.headers["authorization"] == f"Bearer {KEY}"
    assert post.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields, files = parse_multipart(post)
    # 5 s hole -> the nearest allowed length not shorter: "8", sent as a string; 16:9 -> 1280x720
    assert fields == {"prompt": "a red fox trots through fresh snow", "model": "sora-2", "seconds": "8",
                      "size": "1280x720"}
    assert files == {}

    job_id = next(iter(fake.jobs))
    assert media.job_id == job_id and media.provider == "openai" and media.model == "sora-2"
    assert Path(media.path).read_bytes() == small_video
    [content] = [r for r in fake.requests if r.path.endswith("/content")]
    assert content.path == f"/v1/videos/{job_id}/content" and content.query == {"variant": ["video"]}
    assert content.headers["authorization"] == f"Bearer {KEY}"
    assert h.stages("progress") == ["0%", "40%", "80%"]
    assert h.stages("submitted") == [job_id]
    row = h.journal.get(HASH)
    assert (row.state, row.job_id, row.media_path, row.cost) == ("downloaded", job_id, media.path, 0.8)
    assert row.data == {"model": "sora-2", "seconds": "8", "size": "1280x720"}


@pytest.mark.slow
def test_portrait_with_neighbour_frames_sends_the_first_resized_and_honours_poll_hints(fake, key, tmp_path):
    first = make_png(tmp_path / "before.png", 360, 640, "red")
    last = make_png(tmp_path / "after.png", 360, 640, "blue")
    fake.poll_after_ms = 1500
    h = Harness(fake, tmp_path, model="sora-2-pro")
    req = request(width=1080, height=1920, frames=60, first_frame=str(first), last_frame=str(last))
    plan = h.provider.plan(req)
    assert (plan.size_label, plan.seconds, plan.use_first, plan.use_last) == ("720x1280", 4.0, True, False)
    assert any("shot after is not used" in n for n in plan.notes)
    assert plan.estimated_cost == 1.2

    media = h.run(req)
    fields, files = parse_multipart(creates(fake)[0])
    assert fields == {"prompt": req.prompt, "model": "sora-2-pro", "seconds": "4", "size": "720x1280"}
    assert list(files) == ["input_reference"]
    name, ctype, data = files["input_reference"]
    assert (name, ctype, image_size(data)) == ("first_frame.png", "image/png", (720, 1280))
    # the fake would have refused a wrongly sized image; the poll hint (1.5 s) replaced poll_interval
    assert media.job_id in fake.jobs
    assert h.sleeps == [1.5, 1.5, 1.5]


@pytest.mark.slow
def test_a_unicode_prompt_arrives_intact(fake, key, tmp_path):
    h = Harness(fake, tmp_path)
    h.run(request(prompt="café au lait — slow dolly, 35 mm"))
    assert parse_multipart(creates(fake)[0])[0]["prompt"] == "café au lait — slow dolly, 35 mm"


@pytest.mark.slow
def test_base_url_with_v1_and_gateway_model_aliases(fake, key, tmp_path):
    h = Harness(fake, tmp_path, base_url=fake.url + "/v1/")
    assert h.provider.base_url == fake.url
    h.run(request())
    assert creates(fake)[0].path == "/v1/videos"
    alias = Harness(fake, tmp_path, model="openai/sora-2-pro").provider.plan(request(width=1792, height=1024))
    assert (alias.model, alias.size_label, alias.estimated_cost) == ("openai/sora-2-pro", "1792x1024", 4.0)
    assert any("not declared in the catalog or shotfill.toml" in n for n in alias.notes)


@pytest.mark.slow
def test_request_preview_shows_the_form_without_image_bytes(fake, key, tmp_path):
    first = make_png(tmp_path / "before.png", 64, 36, "green")
    preview = Harness(fake, tmp_path).provider.request_preview(request(first_frame=str(first)))
    body = preview.body
    assert body["seconds"] == "8" and body["size"] == "1280x720"
    assert body["input_reference"][0] == "first_frame.png" and body["input_reference"][1].endswith("KB of data>")
    assert fake.requests == []


# -- failures -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_create_whose_answer_was_lost_is_recovered_from_the_listing(fake, key, tmp_path, small_video):
    fake.lose_next_create_reply()
    h = Harness(fake, tmp_path)
    media = h.run(request())
    assert len(creates(fake)) == 1 and len(fake.jobs) == 1
    [job_id] = fake.jobs
    assert media.job_id == job_id and h.stages("recovered") == [job_id]
    assert Path(media.path).read_bytes() == small_video
    assert h.journal.get(HASH).state == "downloaded"


@pytest.mark.slow
def test_recover_does_not_claim_someone_elses_job(fake, key, tmp_path):
    other = Harness(fake, tmp_path / "other")
    other.run(request(prompt="a different shot entirely", request_hash="1a" * 32))
    fake.reset("POST /v1/videos")
    h = Harness(fake, tmp_path)
    with pytest.raises(SubmitUncertain):
        h.run(request())
    assert len(fake.jobs) == 1


def test_bad_duration_and_unknown_model_are_rejected_with_the_services_words(fake, key, tmp_path):
    with pytest.raises(Rejected, match=r"Invalid value: '5'\. Supported values are: '4', '8', and '12'"):
        Harness(fake, tmp_path, durations=[5]).run(request())
    with pytest.raises(Rejected, match=r"Invalid value: 'sora-3'"):
        Harness(fake, tmp_path, model="sora-3").run(request())
    assert len(creates(fake)) == 2 and fake.jobs == {}
    assert Journal(tmp_path / "j.sqlite").get(HASH).state == "failed"


def test_the_fake_refuses_what_the_service_refuses(fake, key, tmp_path):
    """The fake's own checks, so the tests above can fail: wrong size image, unknown field, JSON bodies."""
    import httpx

    png = make_png(tmp_path / "x.png", 640, 360, "red").read_bytes()
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=fake.url) as c:
        r = c.post("/v1/videos", headers=auth, files=[("prompt", (None, "x")), ("size", (None, "1280x720")),
                                                       ("input_reference", ("a.png", png, "image/png"))])
        assert r.status_code == 400 and r.json()["error"]["param"] == "input_reference"
        r = c.post("/v1/videos", headers=auth, files=[("prompt", (None, "x")), ("seed", (None, "1"))])
        assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_parameter"
        r = c.post("/v1/videos", headers=auth, json={"prompt": "x", "seconds": 8})
        assert r.status_code == 400 and r.json()["error"]["param"] == "seconds"
        r = c.post("/v1/videos", headers=auth, json={"prompt": "x", "model": "sora-2", "size": "1792x1024"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "size"
        r = c.post("/v1/videos", json={"prompt": "x"})
        assert r.status_code == 401
    assert oai_error(400, "m").body["error"]["message"] == "m"
