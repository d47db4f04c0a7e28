"""The Veo (Gemini API) client against a fake Gemini API on real sockets."""

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
from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash
from shotfill.providers.veo import VeoProvider

PROMPT = "a paper boat drifts down a rainy street"
DEFAULT = "veo-3.1-generate-preview"


class Harness(ProviderHarness):
    provider_class = VeoProvider


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
def test_text_only_landscape_body_headers_download_and_journal(fake, key, tmp_path, small_video):
    h = Harness(fake, tmp_path)
    req = request(frames=72)                                   # 3 s -> 4 s, 1920x1080 -> 16:9
    media = h.run(req)

    [post] = posts(fake)
    assert post.path == f"/v1beta/models/{DEFAULT}:predictLongRunning"
    assert post.json == {"instances": [{"prompt": PROMPT}],
                         "parameters": {"aspectRatio": "16:9", "durationSeconds": 4, "resolution": "720p"}}
    assert post.headers["x-goog-api-key"] == KEY and "authorization" not in post.headers
    [op_name] = fake.jobs
    assert media.job_id == op_name and media.model == DEFAULT and media.provider == "veo"
    assert Path(media.path).read_bytes() == small_video
    # the files route gets the key, the storage it redirects to never does
    [files] = [r for r in fake.requests if r.path.startswith("/v1beta/files/")]
    assert files.headers["x-goog-api-key"] == KEY and files.query["alt"] == ["media"]
    [stored] = fake.storage.requests
    assert "x-goog-api-key" not in stored.headers and "authorization" not in stored.headers
    assert fake.count("GET /v1beta/models/*/operations/*") == fake.steps + 1
    assert [d for s, d in h.events if s == "progress"] == ["running"] * fake.steps
    rec = h.journal.get(req.request_hash)
    assert (rec.state, rec.job_id, rec.media_path) == ("downloaded", op_name, media.path)
    assert rec.cost == pytest.approx(0.40 * 4)


@pytest.mark.slow
def test_vertical_first_and_last_frames_with_negative_prompt_and_no_seed(fake, key, tmp_path, pngs):
    first, last = pngs["tall_a"], pngs["tall_b"]
    h = Harness(fake, tmp_path)
    req = request(w=1080, h=1920, frames=120, first=first, last=last, negative="blurry, text")   # 5 s -> 6
    plan = h.provider.plan(req)
    assert plan.seed is None and any("seed not sent" in n for n in plan.notes)
    h.run(req)
    [post] = posts(fake)
    assert post.json == {
        "instances": [{"prompt": PROMPT, "image": inline(first), "lastFrame": inline(last)}],
        "parameters": {"aspectRatio": "9:16", "durationSeconds": 6, "resolution": "720p",
                       "negativePrompt": "blurry, text"}}
    assert isinstance(post.json["parameters"]["durationSeconds"], int)


@pytest.mark.slow
def test_frames_of_another_aspect_are_cropped_to_the_output_before_sending(fake, key, tmp_path, pngs):
    h = Harness(fake, tmp_path)
    h.run(request(w=1080, h=1920, first=pngs["wide_a"], last=pngs["wide_b"]))
    inst = posts(fake)[0].json["instances"][0]
    assert png_dims(inst["image"]["bytesBase64Encoded"]) == (720, 1280)
    assert png_dims(inst["lastFrame"]["bytesBase64Encoded"]) == (720, 1280)


@pytest.mark.slow
def test_veo3_takes_the_first_frame_only(fake, key, tmp_path, pngs):
    h = Harness(fake, tmp_path, model="veo-3.0-generate-001")
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
    assert posts(fake)[0].json["parameters"] == {"aspectRatio": "16:9", "durationSeconds": 8, "resolution": "1080p"}


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
    h = Harness(fake, tmp_path, model="veo-3.2-generate-preview")
    assert h.provider.plan(request()).model == "veo-3.2-generate-preview"
    with pytest.raises(Rejected, match="is not found for API version v1beta"):
        h.run(request())
    assert fake.count("POST *") == 1


def test_model_of_no_known_family_is_refused_before_any_request(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model="gen4_turbo")
    with pytest.raises(Rejected, match="unknown model 'gen4_turbo'"):
        h.run(request())
    assert fake.requests == []


# -- the fake keeps to the contract ----------------------------------------------------------------


def test_fake_refuses_seed_and_accepts_inline_data(fake, pngs):
    url = f"{fake.url}/v1beta/models/{DEFAULT}:predictLongRunning"
    hdrs = {"x-goog-api-key": KEY}
    r = httpx.post(url, headers=hdrs, json={"instances": [{"prompt": "x"}],
                                            "parameters": {"durationSeconds": 8, "seed": 1}})
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "`seed` isn't supported" in r.json()["error"]["message"]
    data = base64.b64encode(pngs["wide_a"].read_bytes()).decode()
    image = {"inlineData": {"mimeType": "image/png", "data": data}}
    r = httpx.post(url, headers=hdrs, json={"instances": [{"prompt": "x", "image": image}],
                                            "parameters": {"durationSeconds": 4}})
    assert r.status_code == 200 and r.json()["name"].startswith(f"models/{DEFAULT}/operations/")
    r = httpx.post(url, json={"instances": [{"prompt": "x"}]})
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
