"""The Replicate predictions client against a fake API and a fake CDN on real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

import shotfill.providers.replicate as replicate_mod
from fakes.replicate import VERSIONS, FakeReplicate, _int, _str
from provider_harness import (KEY, ProviderHarness, fakes_with_cdn, key_fixture, neighbour_frames, png_of,
                              request_factory)
from shotfill.errors import JobFailed, Rejected, SubmitUncertain
from shotfill.providers.replicate import ReplicateProvider, _output_url

HASH = "b2" * 32
I2V = "wan-video/wan-2.2-i2v-fast"
T2V = "wan-video/wan-2.2-t2v-fast"
KLING = "kwaivgi/kling-v2.5-turbo-pro"
KLING_VERSION = next(v for v, m in VERSIONS.items() if m == KLING)


servers, cdn, fake = fakes_with_cdn(FakeReplicate)
key = key_fixture("replicate")


@pytest.fixture
def frames(tmp_path):
    return neighbour_frames(tmp_path)


class Harness(ProviderHarness):
    provider_class = ReplicateProvider


request = request_factory(placeholder_id="V2-0003", provider="replicate",
                          prompt="a paper boat drifts down a rainy gutter", seed=99, width=1920, height=1080,
                          rate="24", frames=84, timecode="01:00:30:00", request_hash=HASH)


def creates(fake: FakeReplicate) -> list:
    return [r for r in fake.requests if r.method == "POST" and "predictions" in r.path and
            not r.path.endswith("/cancel")]


# -- happy paths --------------------------------------------------------------------------


@pytest.mark.slow
def test_text_only_hole_runs_the_wan_text_model_and_downloads_from_the_cdn(fake, cdn, key, tmp_path, small_video):
    h = Harness(fake, tmp_path)
    media = h.run(request())                                   # 3.5 s hole, no neighbours
    [sub] = creates(fake)
    assert sub.path == f"/v1/models/{T2V}/predictions"
    assert sub.headers["authorization"] == f"Bearer {KEY}"
    assert sub.json == {"input": {"prompt": "a paper boat drifts down a rainy gutter", "seed": 99,
                                  "aspect_ratio": "16:9", "resolution": "720p", "num_frames": 81,
                                  "frames_per_second": 16}}
    assert fake.count(f"GET /v1/predictions/{media.job_id}") == 3
    [dl] = cdn.requests
    assert dl.path == f"/files/{media.job_id}/output.mp4" and "authorization" not in dl.headers
    assert Path(media.path).read_bytes() == small_video
    assert media.job_id in fake.jobs and media.model == T2V and media.provider == "replicate"
    assert h.stages("progress") == ["queued", "45%"]
    assert h.journal.get(HASH).state == "downloaded"
    plan = h.provider.plan(request())
    # Wan makes 81 .. 121 frames (4n+1) at 16 fps: the shortest, 81 frames, covers the 3.5 s hole.
    assert plan.model == T2V and (plan.frames, plan.fps, plan.seconds) == (81, 16, 5.0625)
    assert plan.size_label == "16:9"
    assert any(f"made with {T2V} instead" in n for n in plan.notes)
    assert any("generates 81 frames at 16 fps (5.06 s) for a 3.50 s hole" in n for n in plan.notes)


@pytest.mark.slow
def test_first_and_last_frames_go_inline_to_the_wan_image_model(fake, key, tmp_path, frames):
    first, last = frames
    h = Harness(fake, tmp_path)
    h.run(request(width=1080, height=1920, frames=7 * 24, negative="rain", first_frame=first, last_frame=last))
    [sub] = creates(fake)
    assert sub.path == f"/v1/models/{I2V}/predictions"
    inp = sub.json["input"]
    assert set(inp) == {"prompt", "seed", "image", "last_image", "resolution", "num_frames", "frames_per_second"}
    assert inp["num_frames"] == 113 and inp["frames_per_second"] == 16 and inp["resolution"] == "720p"
    assert png_of(inp["image"]) == Path(first).read_bytes() and png_of(inp["last_image"]) == Path(last).read_bytes()
    plan = h.provider.plan(request(width=1080, height=1920, negative="rain", first_frame=first))
    assert plan.size == (720, 1280) and plan.negative is None
    assert any("negative prompt not sent" in n for n in plan.notes)


@pytest.mark.slow
def test_a_pinned_version_goes_through_v1_predictions_and_a_list_output_is_handled(fake, key, tmp_path, frames,
                                                                                     small_video):
    fake.output_as_list = True
    h = Harness(fake, tmp_path, model=f"{KLING}:{KLING_VERSION}")
    media = h.run(request(width=1080, height=1920, frames=6 * 24, negative="blur", first_frame=frames[0],
                          last_frame=frames[1]))
    [sub] = creates(fake)
    assert sub.path == "/v1/predictions"
    assert sub.json["version"] == KLING_VERSION and set(sub.json) == {"version", "input"}
    inp = sub.json["input"]
    assert inp["duration"] == 10 and isinstance(inp["duration"], int)
    assert inp["aspect_ratio"] == "9:16" and inp["negative_prompt"] == "blur"
    assert set(inp) == {"prompt", "negative_prompt", "start_image", "end_image", "aspect_ratio", "duration"}
    assert Path(media.path).read_bytes() == small_video
    assert h.provider.plan(request(frames=6 * 24)).estimated_cost == pytest.approx(0.7)


@pytest.mark.slow
def test_large_frames_are_uploaded_to_replicates_file_store(fake, key, tmp_path, frames, monkeypatch):
    monkeypatch.setattr(replicate_mod, "INLINE_LIMIT", 64)
    h = Harness(fake, tmp_path)
    plan = h.provider.plan(request(first_frame=frames[0], last_frame=frames[1]))
    assert any("uploaded to Replicate's file store" in n for n in plan.notes)
    h.run(request(first_frame=frames[0], last_frame=frames[1]))
    uploads = [r for r in fake.requests if r.key == "POST /v1/files"]
    assert len(uploads) == 2 and all(r.headers["authorization"] == f"Bearer {KEY}" for r in uploads)
    assert sorted(f["data"] for f in fake.files.values()) == sorted(Path(p).read_bytes() for p in frames)
    inp = creates(fake)[0].json["input"]
    assert inp["image"] == f"{fake.url}/v1/files/file001" and inp["last_image"] == f"{fake.url}/v1/files/file002"


@pytest.mark.slow
def test_any_other_model_is_described_by_config(fake, key, tmp_path, frames):
    fake.models["acme/clip-i2v"] = ({"caption": _str, "init": _str, "length": _int(1, 20), "guidance": _int()},
                                    ("caption",))
    h = Harness(fake, tmp_path, model="acme/clip-i2v", durations=[3, 6],
                fields={"prompt": "caption", "first_frame": "init", "duration": "length"}, extra={"guidance": 7})
    media = h.run(request(first_frame=frames[0]))
    inp = creates(fake)[0].json["input"]
    assert creates(fake)[0].path == "/v1/models/acme/clip-i2v/predictions"
    assert inp["length"] == 6 and inp["guidance"] == 7 and inp["caption"].startswith("a paper boat")
    assert png_of(inp["init"]) == Path(frames[0]).read_bytes() and "seed" not in inp
    assert media.job_id in fake.jobs
    # an image-to-video id without a first frame is refused: the model needs one
    assert Harness(fake, tmp_path, model="acme/clip-i2v", durations=[3], fields={"first_frame": "init"}
                   ).provider.plan(request()).refused


# -- the journal and the lifecycle ----------------------------------------------------------------


@pytest.mark.slow
def test_a_create_whose_answer_was_lost_is_recovered_from_the_listing(fake, key, tmp_path, small_video):
    fake.page_size = 1
    fake.add_prediction(T2V, {"prompt": "someone else's clip"}, age=-60)     # listed first: ours is on page 2
    fake.lose_next_create_reply()
    h = Harness(fake, tmp_path)
    media = h.run(request())
    assert len(creates(fake)) == 1
    mine = [pid for pid, j in fake.jobs.items() if j["input"].get("prompt") == request().prompt]
    assert mine == [media.job_id] and h.stages("recovered") == [media.job_id]
    assert Path(media.path).read_bytes() == small_video
    assert h.journal.get(HASH).state == "downloaded"
    assert fake.count("GET /v1/predictions") == 2 and h.journal.get(HASH).job_id == media.job_id


def test_recover_does_not_claim_someone_elses_prediction(fake, key, tmp_path):
    prompt = request().prompt
    fake.add_prediction(T2V, {"prompt": prompt, "seed": 99, "aspect_ratio": "16:9", "resolution": "720p",
                              "num_frames": 81, "frames_per_second": 16}, age=3600)      # ours, an hour ago
    fake.add_prediction(T2V, {"prompt": prompt, "seed": 5, "aspect_ratio": "16:9", "resolution": "720p",
                              "num_frames": 81, "frames_per_second": 16})                # same prompt, other seed
    fake.reset("POST /v1/models/*")
    h = Harness(fake, tmp_path)
    with pytest.raises(SubmitUncertain):
        h.run(request())
    assert h.journal.get(HASH).state == "uncertain"


@pytest.mark.slow
def test_recover_reads_predictions_when_the_listing_leaves_inputs_out(fake, key, tmp_path):
    fake.list_inputs = False
    fake.lose_next_create_reply()
    h = Harness(fake, tmp_path)
    media = h.run(request())
    assert h.stages("recovered") == [media.job_id]


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending, words", [("canceled", "was canceled"), ("aborted", "status 'aborted'")])
def test_canceled_and_unknown_endings_fail_safely(fake, key, tmp_path, ending, words):
    fake.steps = ["starting", ending]
    h = Harness(fake, tmp_path)
    with pytest.raises(JobFailed, match=words):
        h.run(request())
    assert fake.count("GET /v1/predictions/*") == 1            # stopped at once, no polling until the deadline


def test_bad_duration_and_unknown_model_are_rejected_with_the_services_words(fake, key, tmp_path):
    h = Harness(fake, tmp_path, model=KLING, durations=[7])
    with pytest.raises(Rejected, match="duration must be one of the following: 5, 10"):
        h.run(request())
    assert h.journal.get(HASH).state == "failed" and len(fake.jobs) == 0
    h = Harness(fake, tmp_path, model="acme/missing", durations=[5])
    with pytest.raises(Rejected, match="could not be found: acme/missing"):
        h.run(request())
    h = Harness(fake, tmp_path, model=f"{KLING}:{'0' * 64}")
    with pytest.raises(Rejected, match="version does not exist"):
        h.run(request())
    with pytest.raises(Rejected, match="not a Replicate model"):
        Harness(fake, tmp_path, model="just-a-name").provider.plan(request())


# -- the fake itself, and small helpers ----------------------------------------------------------


def test_the_fake_refuses_what_replicate_refuses(fake):
    import httpx

    with httpx.Client(base_url=fake.url) as c:
        r = c.post(f"/v1/models/{I2V}/predictions", json={"input": {"prompt": "x"}})
        assert r.status_code == 401 and r.json()["title"] == "Unauthenticated"
        auth = {"Authorization": f"Bearer {KEY}"}
        r = c.post(f"/v1/models/{I2V}/predictions", headers=auth,
                   json={"input": {"prompt": "x", "image": "ftp://x", "num_frames": 200, "fps": 16}})
        assert r.status_code == 422
        assert r.json()["detail"] == ("- input.image: Does not match format 'uri'\n"
                                      "- input.num_frames: Must be less than or equal to 121\n"
                                      "- input: Additional property fps is not allowed\n")
        assert c.post("/v1/models/no/model/predictions", headers=auth, json={"input": {}}).status_code == 404
    assert fake.jobs == {}


def test_output_shapes():
    assert _output_url("https://r.d/a.mp4") == "https://r.d/a.mp4"
    assert _output_url(["https://r.d/a.png", "https://r.d/b.mp4"]) == "https://r.d/b.mp4"
    assert _output_url({"video": "https://r.d/v.mp4", "thumb": "https://r.d/t.png"}) == "https://r.d/v.mp4"
    assert _output_url(None) is None and _output_url([]) is None
