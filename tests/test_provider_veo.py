"""The Veo client (Veo 3.1 GA on Vertex AI) against a fake Vertex AI on real sockets."""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Optional

import httpx
import pytest

from fakes.veo import FakeVeo
from mediautil import make_png
from provider_harness import KEY, ProviderHarness, fake_fixture, key_fixture
from shotfill.errors import JobFailed, Rejected
from shotfill.media.probe import probe
from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash
from shotfill.providers.veo import VeoProvider

PROMPT = "a paper boat drifts down a rainy street"
DEFAULT = "veo-3.1-generate-001"
PROJECT, LOCATION = "shotfill-test", "us-central1"
MODEL_PATH = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models"


class Harness(ProviderHarness):
    provider_class = VeoProvider

    def __init__(self, fake, tmp_path, clock=None, **settings):
        settings.setdefault("project", PROJECT)
        settings.setdefault("location", LOCATION)
        super().__init__(fake, tmp_path, clock, **settings)


def request(*, w: int = 1920, h: int = 1080, frames: int = 72, first: Optional[Path] = None,
            last: Optional[Path] = None, model: Optional[str] = None, negative: Optional[str] = None,
            seed: int = 42) -> GenerationRequest:
    req = GenerationRequest(placeholder_id="V1_gap_2", provider="veo", model=model, prompt=PROMPT,
                            negative=negative, seed=seed, width=w, height=h, rate=24, frames=frames,
                            timecode="01:00:20:00", first_frame=str(first) if first else None,
                            last_frame=str(last) if last else None)
    return req.model_copy(update={"request_hash": request_hash(req)})


def posts(fake: FakeVeo) -> list:
    return [r for r in fake.requests if r.method == "POST"]


def inline(path: Path) -> dict[str, str]:
    return {"bytesBase64Encoded": base64.b64encode(path.read_bytes()).decode(), "mimeType": "image/png"}


def png_dims(b64: str) -> tuple[int, int]:
    raw = base64.b64decode(b64)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


fake = fake_fixture(FakeVeo, key=KEY)


key = key_fixture("veo")


@pytest.fixture(scope="module")
def pngs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("frames")
    return {"wide_a": make_png(d / "wa.png", 64, 36, "red"), "wide_b": make_png(d / "wb.png", 64, 36, "blue"),
            "tall_a": make_png(d / "ta.png", 36, 64, "green"), "tall_b": make_png(d / "tb.png", 36, 64, "yellow")}


# -- happy paths -------------------------------------------------------------------------------


@pytest.mark.slow
def test_text_only_landscape_body_headers_inline_video_and_journal(fake, key, tmp_path, small_video):
    h = Harness(fake, tmp_path)
    req = request(frames=72, seed=42)                          # 3 s -> 4 s, 1920x1080 -> 16:9
    plan = h.provider.plan(req)
    assert (plan.frames, plan.fps, plan.seconds) == (96, 24, 4.0)     # Veo makes 24 fps
    media = h.run(req)

    [post] = [r for r in posts(fake) if r.path.endswith(":predictLongRunning")]
    assert post.path == f"{MODEL_PATH}/{DEFAULT}:predictLongRunning"
    assert post.json == {"instances": [{"prompt": PROMPT}],
                         "parameters": {"aspectRatio": "16:9", "durationSeconds": 4, "resolution": "720p",
                                        "seed": 42, "generateAudio": False, "sampleCount": 1}}
    assert post.headers["x-goog-api-key"] == KEY and "authorization" not in post.headers
    [op_name] = fake.jobs
    assert op_name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{DEFAULT}/")
    polls = [r for r in posts(fake) if r.path.endswith(":fetchPredictOperation")]
    assert len(polls) == fake.steps + 1 and all(r.json == {"operationName": op_name} for r in polls)
    assert all(r.path == f"{MODEL_PATH}/{DEFAULT}:fetchPredictOperation" for r in polls)
    assert media.job_id == op_name and media.model == DEFAULT and media.provider == "veo"
    # the video came inline in the operation: nothing else is fetched, nothing reaches a storage host
    assert Path(media.path).read_bytes() == small_video
    assert fake.storage.requests == [] and [r.method for r in fake.requests] == ["POST"] * len(fake.requests)
    info = probe(media.path)
    assert (media.fps, media.frames) == (info.rate, info.frames)     # what the file holds, recorded
    assert [d for s, d in h.events if s == "progress"] == ["running"] * fake.steps
    rec = h.journal.get(req.request_hash)
    assert (rec.state, rec.job_id, rec.media_path) == ("downloaded", op_name, media.path)
    assert rec.cost == pytest.approx(0.20 * 4)   # video only: sound (generateAudio) costs 0.40/s


@pytest.mark.slow
def test_vertical_first_and_last_frames_with_negative_prompt_and_seed(fake, key, tmp_path, pngs):
    first, last = pngs["tall_a"], pngs["tall_b"]
    h = Harness(fake, tmp_path)
    req = request(w=1080, h=1920, frames=120, first=first, last=last, negative="blurry, text", seed=7)   # 5 s -> 6
    h.run(req)
    [post] = [r for r in posts(fake) if r.path.endswith(":predictLongRunning")]
    assert post.json == {
        "instances": [{"prompt": PROMPT, "image": inline(first), "lastFrame": inline(last)}],
        "parameters": {"aspectRatio": "9:16", "durationSeconds": 6, "resolution": "720p",
                       "negativePrompt": "blurry, text", "seed": 7, "generateAudio": False, "sampleCount": 1}}
    assert isinstance(post.json["parameters"]["durationSeconds"], int)


@pytest.mark.slow
def test_frames_of_another_aspect_are_cropped_to_the_output_before_sending(fake, key, tmp_path, pngs):
    h = Harness(fake, tmp_path)
    h.run(request(w=1080, h=1920, first=pngs["wide_a"], last=pngs["wide_b"]))
    inst = posts(fake)[0].json["instances"][0]
    assert png_dims(inst["image"]["bytesBase64Encoded"]) == (720, 1280)
    assert png_dims(inst["lastFrame"]["bytesBase64Encoded"]) == (720, 1280)


@pytest.mark.slow
def test_lite_takes_the_first_frame_only(fake, key, tmp_path, pngs):
    h = Harness(fake, tmp_path, model="veo-3.1-lite-generate-001")
    req = request(first=pngs["wide_a"], last=pngs["wide_b"])
    assert "the shot after is not used: the model takes no last frame" in h.provider.plan(req).notes
    h.run(req)
    inst = posts(fake)[0].json["instances"][0]
    assert set(inst) == {"prompt", "image"} and inst["image"] == inline(pngs["wide_a"])


@pytest.mark.slow
def test_1080p_from_settings_makes_8_second_clips(fake, key, tmp_path):
    h = Harness(fake, tmp_path, extra={"resolution": "1080p"})
    req = request(frames=72)
    plan = h.provider.plan(req)
    assert (plan.seconds, plan.size, plan.size_label) == (8.0, (1920, 1080), "16:9")
    h.run(req)
    assert posts(fake)[0].json["parameters"] == {"aspectRatio": "16:9", "durationSeconds": 8, "resolution": "1080p",
                                                 "seed": 42, "generateAudio": False, "sampleCount": 1}


@pytest.mark.slow
def test_express_mode_without_a_project_and_an_oauth_token_as_bearer(fake, key, tmp_path, monkeypatch):
    h = Harness(fake, tmp_path, project=None, location=None)
    h.run(request())
    assert posts(fake)[0].path == f"/v1/publishers/google/models/{DEFAULT}:predictLongRunning"
    token = "ya29.a0-fake-oauth-access-token"
    fake.key = token
    monkeypatch.setenv("GEMINI_API_KEY", token)
    Harness(fake, tmp_path / "b").run(request(seed=9))
    last = [r for r in posts(fake) if r.path.endswith(":predictLongRunning")][-1]
    assert last.headers["authorization"] == f"Bearer {token}" and "x-goog-api-key" not in last.headers
    # a token needs a project to say where it runs
    assert "needs a project" in (Harness(fake, tmp_path / "c", project=None).provider.plan(request()).refused or "")


# -- retries and failures ------------------------------------------------------------------------


def test_operation_error_fails_with_the_status_message(fake, key, tmp_path):
    fake.fail_next(13, "Video generation failed due to an internal error.")
    h = Harness(fake, tmp_path)
    with pytest.raises(JobFailed, match=r"internal error\. \(INTERNAL, code 13\)"):
        h.run(request())


def test_bad_duration_is_rejected_with_googles_message(fake, key, tmp_path):
    h = Harness(fake, tmp_path, durations=[5])
    with pytest.raises(Rejected, match=r"out of bound\. Supported values are 4, 6, 8"):
        h.run(request(frames=96))
    assert fake.count("POST *") == 1 and fake.jobs == {}


def test_unknown_veo_model_is_sent_and_refused_by_the_service(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model="veo-3.1-ultra-generate-002")
    assert h.provider.plan(request()).model == "veo-3.1-ultra-generate-002"
    with pytest.raises(Rejected, match="was not found or your project does not have access"):
        h.run(request())
    assert fake.count("POST *") == 1


@pytest.mark.parametrize("gone", ["veo-3.1-generate-preview", "veo-3.0-generate-001", "veo-2.0-generate-001"])
def test_a_shut_down_model_is_refused_before_any_request_and_not_listed(fake, key, tmp_path, gone):
    h = Harness(fake, tmp_path, model=gone)
    with pytest.raises(Rejected, match=f"model '{gone}' was shut down by the service on 2026-"):
        h.run(request())
    assert fake.requests == []
    assert gone not in {m.name for m in h.provider.models}


def test_model_of_no_known_family_is_refused_before_any_request(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model="gen4_turbo")
    with pytest.raises(Rejected, match="unknown model 'gen4_turbo'"):
        h.run(request())
    assert fake.requests == []


def test_storage_uri_is_refused_in_the_plan(fake, key, tmp_path):
    h = Harness(fake, tmp_path, extra={"storageUri": "gs://bucket/out/"})
    assert "storageUri" in (h.provider.plan(request()).refused or "")


# -- the fake keeps to the contract ----------------------------------------------------------------


def test_fake_follows_vertex(fake, pngs):
    url = f"{fake.url}{MODEL_PATH}/{DEFAULT}:predictLongRunning"
    hdrs = {"x-goog-api-key": KEY}
    r = httpx.post(url, headers=hdrs, json={"instances": [{"prompt": "x"}], "parameters": {"durationSeconds": 8}})
    assert r.status_code == 400 and "generateAudio is required" in r.json()["error"]["message"]
    r = httpx.post(url, headers=hdrs, json={"instances": [{"prompt": "x"}],
                                            "parameters": {"durationSeconds": 8, "generateAudio": False,
                                                           "seed": -1}})
    assert r.status_code == 400 and "seed" in r.json()["error"]["message"]
    data = base64.b64encode(pngs["wide_a"].read_bytes()).decode()
    image = {"bytesBase64Encoded": data, "mimeType": "image/png"}
    r = httpx.post(url, headers=hdrs, json={"instances": [{"prompt": "x", "image": image}],
                                            "parameters": {"durationSeconds": 4, "generateAudio": True}})
    name = r.json()["name"]
    assert r.status_code == 200 and name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/")
    fetch = url.replace(":predictLongRunning", ":fetchPredictOperation")
    for _ in range(fake.steps + 1):
        op = httpx.post(fetch, headers=hdrs, json={"operationName": name}).json()
    assert op["done"] is True and base64.b64decode(op["response"]["videos"][0]["bytesBase64Encoded"]) == fake.video
    r = httpx.post(url, json={"instances": [{"prompt": "x"}]})
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = httpx.post(url.replace(DEFAULT, "veo-3.1-generate-preview"), headers=hdrs, json={})
    assert r.status_code == 404
