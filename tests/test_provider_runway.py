"""The Runway client against a fake Runway API on real sockets: bodies, headers, task life, failures."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Optional

import httpx
import pytest

from fakes.runway import FakeRunway
from mediautil import make_png
from provider_harness import KEY, ProviderHarness, fake_fixture, key_fixture
from provider_harness import png_of as data_uri_bytes
from shotfill.errors import DownloadError, JobFailed, Rejected
from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash
from shotfill.providers import runway as runway_mod
from shotfill.providers.runway import RunwayProvider

PROMPT = "a red fox trots through fresh snow, slow dolly in"


class Harness(ProviderHarness):
    provider_class = RunwayProvider


def request(*, w: int = 1920, h: int = 1080, frames: int = 72, first: Optional[Path] = None,
            last: Optional[Path] = None, model: Optional[str] = None, negative: Optional[str] = None,
            seed: int = 42, prompt: str = PROMPT) -> GenerationRequest:
    req = GenerationRequest(placeholder_id="V1_gap_1", provider="runway", model=model, prompt=prompt,
                            negative=negative, seed=seed, width=w, height=h, rate=24, frames=frames,
                            timecode="01:00:10:00", first_frame=str(first) if first else None,
                            last_frame=str(last) if last else None)
    return req.model_copy(update={"request_hash": request_hash(req)})


def posts(fake: FakeRunway) -> list:
    return [r for r in fake.requests if r.method == "POST"]


fake = fake_fixture(FakeRunway, key=KEY)


key = key_fixture("runway")


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("frames")
    return make_png(d / "before.png", 64, 36, "red"), make_png(d / "after.png", 64, 36, "blue")


# -- happy paths -------------------------------------------------------------------------------


@pytest.mark.slow
def test_text_only_gen45_sends_the_documented_body_and_downloads_the_video(fake, key, tmp_path, small_video):
    h = Harness(fake, tmp_path, model="gen4.5")
    req = request(frames=72)                                   # 3.0 s at 24 fps, 1920x1080
    media = h.run(req)

    [post] = posts(fake)
    assert post.path == "/v1/text_to_video"
    assert post.json == {"model": "gen4.5", "promptText": PROMPT, "ratio": "1280:720", "duration": 3, "seed": 42}
    assert isinstance(post.json["duration"], int)
    assert post.headers["authorization"] == f"Bearer {KEY}"
    assert post.headers["x-runway-version"] == "2024-11-06"
    assert post.headers["content-type"] == "application/json"
    task_id = next(iter(fake.jobs))
    assert media.job_id == task_id and media.model == "gen4.5" and media.provider == "runway"
    assert Path(media.path).read_bytes() == small_video
    # the output lives on the storage host: fetched there, without the key
    [dl] = fake.cdn.requests
    assert dl.path.startswith(f"/outputs/{task_id}/") and "authorization" not in dl.headers
    assert fake.count("GET /v1/tasks/*") == len(fake.sequence)
    assert [d for s, d in h.events if s == "progress"] == ["queued", "queued", "33%", "67%"]
    assert ("submitted", task_id) in h.events
    rec = h.journal.get(req.request_hash)
    assert (rec.state, rec.job_id, rec.media_path) == ("downloaded", task_id, media.path)
    assert rec.cost == pytest.approx(0.12 * 3)


@pytest.mark.slow
def test_gen4_turbo_without_a_shot_before_uses_gen45_text_to_video_and_says_so(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model="gen4_turbo")
    req = request(w=1080, h=1920, frames=100)                  # 4.17 s vertical
    plan = h.provider.plan(req)
    assert plan.model == "gen4.5" and plan.refused is None
    assert any("gen4_turbo makes video only from the shot before" in n for n in plan.notes)
    media = h.run(req)
    [post] = posts(fake)
    assert post.path == "/v1/text_to_video"
    assert post.json == {"model": "gen4.5", "promptText": PROMPT, "ratio": "720:1280", "duration": 5, "seed": 42}
    assert media.model == "gen4.5"


@pytest.mark.slow
def test_gen4_turbo_with_neighbours_sends_the_first_frame_only(fake, key, tmp_path, frames):
    first, last = frames
    h = Harness(fake, tmp_path)                                # default model: gen4_turbo
    req = request(first=first, last=last, frames=108)         # 4.5 s -> 5
    plan = h.provider.plan(req)
    assert "the shot after is not used: the model takes no last frame" in plan.notes
    h.run(req)
    [post] = posts(fake)
    assert post.path == "/v1/image_to_video"
    body = post.json
    assert {k: v for k, v in body.items() if k != "promptImage"} == {
        "model": "gen4_turbo", "promptText": PROMPT, "ratio": "1280:720", "duration": 5, "seed": 42}
    assert [img["position"] for img in body["promptImage"]] == ["first"]
    assert data_uri_bytes(body["promptImage"][0]["uri"]) == first.read_bytes()


@pytest.mark.slow
def test_veo31_vertical_with_first_and_last_frames_and_a_negative_prompt(fake, key, tmp_path, frames, small_video):
    first, last = frames
    h = Harness(fake, tmp_path, model="veo3.1")
    req = request(w=1080, h=1920, frames=120, first=first, last=last, negative="text, watermark")   # 5 s -> 6
    plan = h.provider.plan(req)
    assert any("seed not sent" in n for n in plan.notes)
    media = h.run(req)
    [post] = posts(fake)
    assert post.path == "/v1/image_to_video"
    body = post.json
    assert set(body) == {"model", "promptText", "ratio", "duration", "promptImage", "negativePrompt", "audio"}
    assert (body["model"], body["ratio"], body["duration"], body["negativePrompt"], body["audio"]) == (
        "veo3.1", "1080:1920", 6, "text, watermark", False)      # sound not asked for: said so (it is priced)
    assert [(i["position"], data_uri_bytes(i["uri"])) for i in body["promptImage"]] == [
        ("first", first.read_bytes()), ("last", last.read_bytes())]
    assert Path(media.path).read_bytes() == small_video


@pytest.mark.slow
def test_big_frames_are_scaled_to_the_output_size_before_inlining(fake, key, tmp_path, frames, monkeypatch):
    monkeypatch.setattr(runway_mod, "MAX_DATA_URI", 100)       # every frame is "too big"
    h = Harness(fake, tmp_path, model="gen4.5")
    h.run(request(first=frames[0]))
    png = data_uri_bytes(posts(fake)[0].json["promptImage"][0]["uri"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 720)


# -- retries and failures ------------------------------------------------------------------------


def test_cancelled_task_fails(fake, key, tmp_path):
    fake.sequence = ["PENDING", "CANCELLED"]
    h = Harness(fake, tmp_path, model="gen4.5")
    with pytest.raises(JobFailed, match="cancelled"):
        h.run(request())


@pytest.mark.slow
def test_expired_output_url_is_refreshed_once_from_the_task(fake, key, tmp_path, small_video):
    fake.expire_next_urls(1)
    h = Harness(fake, tmp_path, model="gen4.5")
    media = h.run(request())
    assert Path(media.path).read_bytes() == small_video
    assert fake.count("GET /v1/tasks/*") == len(fake.sequence) + 1
    first, second = fake.cdn.requests
    assert first.query["_jwt"] != second.query["_jwt"]


def test_output_gone_for_good_is_asked_for_afresh_once_and_its_token_stays_out_of_the_message(fake, key, tmp_path):
    fake.expire_downloads()
    h = Harness(fake, tmp_path, model="gen4.5")
    with pytest.raises(DownloadError, match="expire") as info:
        h.run(request())
    assert "_jwt" not in str(info.value)                       # signed tokens stay out of messages
    assert fake.count("GET /v1/tasks/*") == len(fake.sequence) + 1


def test_bad_duration_is_rejected_with_runways_message(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model="veo3.1", durations=[5])   # a configured duration veo3.1 does not take
    req = request(frames=96)
    assert h.provider.plan(req).seconds == 5
    with pytest.raises(Rejected, match=r"duration: must be one of \[4, 6, 8\]"):
        h.run(req)
    assert fake.count("POST *") == 1 and fake.jobs == {}
    assert h.journal.get(req.request_hash).state == "failed"


def test_unknown_model_of_a_known_family_is_sent_and_refused_by_runway(fake, key, tmp_path, frames):
    h = Harness(fake, tmp_path, model="gen4_aleph")
    with pytest.raises(Rejected, match="Invalid discriminator value"):
        h.run(request(first=frames[0]))
    assert fake.count("POST *") == 1


def test_model_of_no_known_family_is_refused_before_any_request(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model="sora-2")
    with pytest.raises(Rejected, match="unknown model 'sora-2'"):
        h.run(request())
    assert fake.requests == []


def test_too_long_prompt_is_refused_in_the_plan(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model="gen4.5")
    plan = h.provider.plan(request(prompt="x" * 1001))
    assert plan.refused and "at most 1000" in plan.refused


# -- the fake keeps to the contract ----------------------------------------------------------------


def test_fake_requires_the_version_header_and_refuses_unknown_fields(fake):
    base = {"model": "gen4.5", "promptText": "x", "ratio": "1280:720", "duration": 5}
    auth = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(fake.url + "/v1/text_to_video", json=base, headers=auth)
    assert r.status_code == 400 and "X-Runway-Version" in r.json()["error"]
    hdrs = {**auth, "X-Runway-Version": "2024-11-06"}
    r = httpx.post(fake.url + "/v1/text_to_video", json={**base, "negativePrompt": "x"}, headers=hdrs)
    assert r.status_code == 400 and "Unrecognized key 'negativePrompt'" in r.json()["error"]
    r = httpx.post(fake.url + "/v1/image_to_video", headers=hdrs, json={
        "model": "veo3.1", "ratio": "1280:720", "promptImage": [{"uri": "data:image/png;base64,AAAA",
                                                                 "position": "last"}]})
    assert r.status_code == 400 and "only a last frame" in r.json()["error"]
    r = httpx.get(fake.url + "/v1/tasks/nope", headers={"Authorization": "Bearer other"})
    assert r.status_code == 401
