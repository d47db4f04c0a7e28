"""The fal.ai queue client against a fake queue and a fake CDN on real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.fal import FakeFal, _int_range, _str
from provider_harness import (KEY, ProviderHarness, fakes_with_cdn, key_fixture, neighbour_frames, png_of,
                              request_factory)
from shotfill.errors import JobFailed, Rejected
from shotfill.providers.fal import FalProvider, percent_in

HASH = "a1" * 32
WAN = "fal-ai/wan/v2.2-a14b/image-to-video"
WAN_T2V = "fal-ai/wan/v2.2-a14b/text-to-video"
KLING = "fal-ai/kling-video/v2.1/standard/image-to-video"
LTX = "fal-ai/ltx-2/image-to-video"


servers, cdn, fake = fakes_with_cdn(FakeFal)
key = key_fixture("fal")


@pytest.fixture
def frames(tmp_path):
    return neighbour_frames(tmp_path)


class Harness(ProviderHarness):
    provider_class = FalProvider


request = request_factory(placeholder_id="V1-0002", provider="fal",
                          prompt="waves break on black volcanic rocks at dusk", seed=4242, width=1920, height=1080,
                          rate="24", frames=84, timecode="01:00:20:00", request_hash=HASH)


def submits(fake: FakeFal) -> list:
    return [r for r in fake.requests if r.method == "POST"]


# -- happy paths --------------------------------------------------------------------------


@pytest.mark.slow
def test_text_only_hole_uses_the_wan_text_model_and_downloads_from_the_cdn(fake, cdn, key, tmp_path, small_video):
    h = Harness(fake, tmp_path)
    media = h.run(request())                                    # 84 frames at 24 = 3.5 s, no neighbours
    [sub] = submits(fake)
    assert sub.path == "/" + WAN_T2V
    assert sub.headers["authorization"] == f"Key {KEY}"
    assert sub.headers["content-type"] == "application/json"
    assert sub.json == {"prompt": "waves break on black volcanic rocks at dusk", "seed": 4242,
                        "aspect_ratio": "16:9", "resolution": "720p", "num_frames": 57, "frames_per_second": 16}
    # Polls go to the URLs the submit returned: the app path, not the full model id.
    polls = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/status")]
    assert polls and all(r.path == f"/fal-ai/wan/requests/{media.job_id}/status" for r in polls)
    assert all(r.query == {"logs": ["1"]} for r in polls)
    assert fake.count(f"GET /fal-ai/wan/requests/{media.job_id}") == 1
    # The video comes from the CDN, without the key.
    [dl] = cdn.requests
    assert dl.path == f"/files/{media.job_id}/out.mp4" and "authorization" not in dl.headers
    assert Path(media.path).read_bytes() == small_video
    assert media.job_id in fake.jobs and media.provider == "fal" and media.model == WAN_T2V
    assert h.stages("progress") == ["queued", "40%"]
    assert h.stages("submitted") == [media.job_id]
    assert h.journal.get(HASH).state == "downloaded"
    plan = h.provider.plan(request())
    # Wan counts 4n+1 frames at 16 fps: 57 frames (3.5625 s) cover the 3.5 s hole.
    assert plan.model == WAN_T2V and (plan.frames, plan.fps, plan.seconds) == (57, 16, 3.5625)
    assert plan.size_label == "16:9"
    assert any("made with fal-ai/wan/v2.2-a14b/text-to-video instead" in n for n in plan.notes)
    assert plan.estimated_cost == pytest.approx(0.08 * 3.5625)          # the seconds it makes


@pytest.mark.slow
def test_first_and_last_frames_go_inline_and_portrait_picks_9_16(fake, key, tmp_path, frames):
    first, last = frames
    h = Harness(fake, tmp_path)
    media = h.run(request(width=1080, height=1920, frames=240, negative="text, watermark",
                          first_frame=first, last_frame=last))
    [sub] = submits(fake)
    body = sub.json
    assert sub.path == "/" + WAN
    assert set(body) == {"prompt", "negative_prompt", "seed", "image_url", "end_image_url", "aspect_ratio",
                         "resolution", "num_frames", "frames_per_second"}
    assert body["aspect_ratio"] == "9:16" and body["num_frames"] == 161 and body["frames_per_second"] == 16
    assert body["negative_prompt"] == "text, watermark" and body["seed"] == 4242
    assert png_of(body["image_url"]) == Path(first).read_bytes()
    assert png_of(body["end_image_url"]) == Path(last).read_bytes()
    assert isinstance(body["num_frames"], int) and media.job_id in fake.jobs


@pytest.mark.slow
def test_kling_sends_duration_as_a_string_and_no_seed(fake, key, tmp_path, frames):
    h = Harness(fake, tmp_path, model=KLING)
    media = h.run(request(frames=7 * 24, negative="blur", first_frame=frames[0], last_frame=frames[1]))
    [sub] = submits(fake)
    assert sub.path == "/" + KLING
    body = sub.json
    assert body["duration"] == "10" and isinstance(body["duration"], str)
    assert set(body) == {"prompt", "negative_prompt", "image_url", "duration"}     # no seed, no last frame
    plan = h.provider.plan(request(frames=7 * 24, first_frame=frames[0], last_frame=frames[1]))
    assert plan.use_last is False and any("takes no last frame" in n for n in plan.notes)
    assert media.job_id in fake.jobs
    # Naming an input in `fields` turns that value on for a shipped model (here Kling's tail image).
    tail = Harness(fake, tmp_path, model=KLING, fields={"last_frame": "tail_image_url"})
    assert tail.provider.plan(request(frames=7 * 24, first_frame=frames[0], last_frame=frames[1])).use_last
    body = tail.provider.build_body(request(first_frame=frames[0], last_frame=frames[1]),
                                    tail.provider.plan(request(first_frame=frames[0], last_frame=frames[1])))
    assert png_of(body["tail_image_url"]) == Path(frames[1]).read_bytes() and body["duration"] == "5"


@pytest.mark.slow
def test_ltx_sends_an_integer_duration_and_resolution(fake, key, tmp_path, frames):
    h = Harness(fake, tmp_path, model=LTX)
    h.run(request(width=1080, height=1920, frames=5 * 24, first_frame=frames[0]))
    body = submits(fake)[0].json
    assert body["duration"] == 6 and isinstance(body["duration"], int)
    assert body["resolution"] == "1080p" and "aspect_ratio" not in body and "seed" not in body
    assert h.provider.plan(request(width=1080, height=1920, first_frame=frames[0])).size == (1080, 1920)


def test_an_image_only_model_without_a_shot_before_is_refused_without_a_request(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model=KLING)
    plan = h.provider.plan(request())
    assert plan.refused and "makes video only from the shot before" in plan.refused
    with pytest.raises(Rejected, match="text-to-video model"):
        h.run(request())
    assert fake.requests == []


@pytest.mark.slow
def test_any_other_model_is_described_by_config(fake, key, tmp_path, frames):
    fake.models["acme/vid/i2v"] = ({"text": _str, "start": _str, "secs": _int_range(1, 20), "steps": _int_range(1, 50),
                                    "rand": _int_range(0, 99999)}, ("text",))
    h = Harness(fake, tmp_path, model="acme/vid/i2v", durations=[4, 8], price_per_second=0.1,
                fields={"prompt": "text", "first_frame": "start", "duration": "secs:int", "seed": "rand"},
                extra={"steps": 30})
    plan = h.provider.plan(request(first_frame=frames[0]))
    assert plan.seconds == 4 and plan.estimated_cost == pytest.approx(0.4) and plan.use_first
    media = h.run(request(first_frame=frames[0]))
    body = submits(fake)[0].json
    assert submits(fake)[0].path == "/acme/vid/i2v"
    assert body["secs"] == 4 and body["steps"] == 30 and body["rand"] == 4242 and body["text"].startswith("waves")
    assert png_of(body["start"]) == Path(frames[0]).read_bytes()
    assert media.job_id in fake.jobs
    # Without durations an unknown model cannot be planned.
    bare = Harness(fake, tmp_path, model="acme/other")
    with pytest.raises(Rejected, match="no durations are set"):
        bare.provider.plan(request())


def test_request_preview_elides_the_image_bytes(fake, key, tmp_path, frames):
    h = Harness(fake, tmp_path)
    preview = h.provider.request_preview(request(first_frame=frames[0]))
    assert preview.plan.model == WAN
    assert preview.body["image_url"].startswith("data:image/png;base64,") and "KB)" in preview.body["image_url"]


# -- the journal and the lifecycle -------------------------------------------------------------


# -- failures ------------------------------------------------------------------------------------


def test_a_completed_request_with_an_error_fails_with_fals_words_and_type(fake, key, tmp_path):
    fake.fail_next_job("status_error")
    h = Harness(fake, tmp_path)
    with pytest.raises(JobFailed, match=r"Runner disconnected while processing the request \(runner_disconnected\)"):
        h.run(request())
    assert fake.count("GET /fal-ai/wan/requests/*") == 3                  # statuses only: no result fetch
    row = h.journal.get(HASH)
    assert row.state == "failed" and "runner_disconnected" in row.error


def test_a_runner_error_on_the_result_fails_once_without_retrying(fake, key, tmp_path):
    fake.fail_next_job("runner_error")
    h = Harness(fake, tmp_path)
    with pytest.raises(JobFailed, match=r"HTTP 500: CUDA out of memory.*\(runner_server_error\)"):
        h.run(request())
    job_id = next(iter(fake.jobs))
    assert fake.count(f"GET /fal-ai/wan/requests/{job_id}") == 1


def test_bad_duration_and_unknown_model_are_rejected_with_the_services_words(fake, key, tmp_path, frames):
    # A configured duration the model does not take: fal's runner refuses the input (422).
    h = Harness(fake, tmp_path, model=KLING, durations=[7])
    with pytest.raises(Rejected, match=r"duration: Input should be '5' or '10' \[literal_error\]"):
        h.run(request(first_frame=frames[0]))
    assert h.journal.get(HASH).state == "failed"
    # An app fal does not have.
    h = Harness(fake, tmp_path, model="fal-ai/no-such-model", durations=[5])
    with pytest.raises(Rejected, match="Application 'fal-ai/no-such-model' not found"):
        h.run(request())
    with pytest.raises(Rejected, match="not a fal model id"):
        Harness(fake, tmp_path, model="not a model").provider.plan(request())


@pytest.mark.slow
def test_unknown_statuses_keep_polling_and_failed_ones_stop(fake, key, tmp_path):
    fake.steps = ["IN_QUEUE", "WARMING_UP", "COMPLETED"]
    h = Harness(fake, tmp_path)
    h.run(request())
    assert h.stages("progress") == ["queued", "running"]
    fake.steps = ["IN_QUEUE", "CANCELLED"]
    with pytest.raises(JobFailed, match="cancelled"):
        Harness(fake, tmp_path).run(request())


# -- the fake itself, and small helpers ----------------------------------------------------------


def test_the_fake_refuses_what_fal_refuses(fake, key, tmp_path):
    import httpx

    with httpx.Client(base_url=fake.url) as c:
        assert c.post("/" + WAN, json={"prompt": "x"}).status_code == 401
        auth = {"Authorization": f"Key {KEY}"}
        assert c.post("/fal-ai/nope", json={}, headers=auth).status_code == 404
        sub = c.post("/" + KLING, json={"prompt": "x", "image_url": "ftp://a", "duration": 5, "fps": 3},
                     headers=auth).json()
        for _ in range(3):
            c.get(sub["status_url"], headers=auth)
        err = c.get(sub["response_url"], headers=auth)
        assert err.status_code == 422
        assert {(tuple(d["loc"]), d["type"]) for d in err.json()["detail"]} == {
            (("body", "image_url"), "image_load_error"), (("body", "duration"), "literal_error"),
            (("body", "fps"), "extra_forbidden")}


def test_helpers():
    assert percent_in("Loading\n 12%|#   | 1/8\n 45%|####5     | 9/20") == pytest.approx(0.45)
    assert percent_in("no numbers here") is None
