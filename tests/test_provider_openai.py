"""The OpenAI-style Videos client against a fake /v1/videos on real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.openai import FakeOpenAI, image_size, oai_error, parse_multipart
from mediautil import make_png
from provider_harness import KEY, ProviderHarness, fake_fixture, journal_bytes, key_fixture, request_factory
from shotfill.errors import (AuthError, DownloadError, JobFailed, JobTimedOut, Rejected, SubmitUncertain)
from shotfill.jobs.journal import Journal
from shotfill.providers.openai import OpenAIProvider

HASH = "0f" * 32


fake = fake_fixture(FakeOpenAI, key=KEY)


key = key_fixture("openai")


class Harness(ProviderHarness):
    provider_class = OpenAIProvider


request = request_factory(placeholder_id="V1-0001", provider="openai", prompt="a red fox trots through fresh snow",
                          seed=7, width=1920, height=1080, rate="24", frames=120, timecode="01:00:10:00",
                          request_hash=HASH)


def creates(fake: FakeOpenAI):
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/videos"]


# -- happy paths --------------------------------------------------------------------------


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


def test_a_unicode_prompt_arrives_intact(fake, key, tmp_path):
    h = Harness(fake, tmp_path)
    h.run(request(prompt="café au lait — slow dolly, 35 mm"))
    assert parse_multipart(creates(fake)[0])[0]["prompt"] == "café au lait — slow dolly, 35 mm"


def test_the_journal_says_submitted_with_the_job_id_before_the_first_poll(fake, key, tmp_path):
    h = Harness(fake, tmp_path)
    fake.on_poll = lambda job_id: (h.journal.get(HASH).state, h.journal.get(HASH).job_id, job_id)
    h.run(request())
    state, recorded_id, polled_id = fake.seen_polls[0]
    assert (state, recorded_id) == ("submitted", polled_id)


def test_base_url_with_v1_and_gateway_model_aliases(fake, key, tmp_path):
    h = Harness(fake, tmp_path, base_url=fake.url + "/v1/")
    assert h.provider.base_url == fake.url
    h.run(request())
    assert creates(fake)[0].path == "/v1/videos"
    alias = Harness(fake, tmp_path, model="openai/sora-2-pro").provider.plan(request(width=1792, height=1024))
    assert (alias.model, alias.size_label, alias.estimated_cost) == ("openai/sora-2-pro", "1792x1024", 4.0)
    assert any("not a known Sora model" in n for n in alias.notes)


def test_request_preview_shows_the_form_without_image_bytes(fake, key, tmp_path):
    first = make_png(tmp_path / "before.png", 64, 36, "green")
    preview = Harness(fake, tmp_path).provider.request_preview(request(first_frame=str(first)))
    body = preview.body
    assert body["seconds"] == "8" and body["size"] == "1280x720"
    assert body["input_reference"][0] == "first_frame.png" and body["input_reference"][1].endswith("KB of data>")
    assert fake.requests == []


# -- failures -----------------------------------------------------------------------------


def test_429_on_create_waits_retry_after_and_creates_one_job(fake, key, tmp_path):
    fake.fail("POST /v1/videos", status=429, headers={"Retry-After": "7"},
              body={"error": {"message": "Rate limit reached for videos", "type": "requests",
                              "param": None, "code": "rate_limit_exceeded"}})
    h = Harness(fake, tmp_path)
    media = h.run(request())
    assert len(creates(fake)) == 2 and len(fake.jobs) == 1
    assert h.sleeps[0] == 7.0
    assert media.job_id in fake.jobs


def test_a_500_on_retrieve_is_retried(fake, key, tmp_path, small_video):
    fake.fail("GET /v1/videos/video_*", status=500,
              body={"error": {"message": "The server had an error", "type": "server_error"}})
    h = Harness(fake, tmp_path)
    media = h.run(request())
    polls = [r for r in fake.requests if r.method == "GET" and r.path.count("/") == 3]
    assert len(polls) == 4 + 1          # four statuses, plus the one answered with 500
    assert Path(media.path).read_bytes() == small_video


def test_a_reset_create_is_never_resent_and_stays_uncertain(fake, key, tmp_path):
    fake.reset("POST /v1/videos")
    h = Harness(fake, tmp_path)
    with pytest.raises(SubmitUncertain, match="not sent again"):
        h.run(request())
    assert len(creates(fake)) == 1 and fake.jobs == {}
    assert fake.count("GET /v1/videos") == 1            # looked for it in the listing, found nothing
    assert h.journal.get(HASH).state == "uncertain"


def test_a_create_whose_answer_was_lost_is_recovered_from_the_listing(fake, key, tmp_path, small_video):
    fake.lose_next_create_reply()
    h = Harness(fake, tmp_path)
    media = h.run(request())
    assert len(creates(fake)) == 1 and len(fake.jobs) == 1
    [job_id] = fake.jobs
    assert media.job_id == job_id and h.stages("recovered") == [job_id]
    assert Path(media.path).read_bytes() == small_video
    assert h.journal.get(HASH).state == "downloaded"


def test_recover_does_not_claim_someone_elses_job(fake, key, tmp_path):
    other = Harness(fake, tmp_path / "other")
    other.run(request(prompt="a different shot entirely", request_hash="1a" * 32))
    fake.reset("POST /v1/videos")
    h = Harness(fake, tmp_path)
    with pytest.raises(SubmitUncertain):
        h.run(request())
    assert len(fake.jobs) == 1


def test_a_moderated_job_fails_with_the_services_reason(fake, key, tmp_path):
    fake.fail_next_job("Your request was blocked by our moderation system.", code="moderation_blocked")
    h = Harness(fake, tmp_path)
    with pytest.raises(JobFailed) as info:
        h.run(request())
    assert "blocked by our moderation system" in str(info.value) and "moderation_blocked" in str(info.value)
    row = h.journal.get(HASH)
    assert row.state == "failed" and "moderation_blocked" in row.error
    assert not any(r.path.endswith("/content") for r in fake.requests)


def test_expired_content_is_a_download_error(fake, key, tmp_path):
    fake.expire_downloads()
    h = Harness(fake, tmp_path)
    with pytest.raises(DownloadError, match="expires_at") as info:
        h.run(request())
    assert "generate the shot again" in info.value.hint
    assert not any(p.suffix == ".mp4" for p in (tmp_path / "work").iterdir())


def test_a_truncated_download_is_fetched_again_whole(fake, key, tmp_path, small_video):
    fake.truncate_next_download()
    h = Harness(fake, tmp_path)
    media = h.run(request())
    assert sum(r.path.endswith("/content") for r in fake.requests) == 2
    assert Path(media.path).read_bytes() == small_video


def test_no_key_is_an_auth_error_before_any_request(fake, tmp_path):
    h = Harness(fake, tmp_path)
    with pytest.raises(AuthError, match="OPENAI_API_KEY"):
        h.run(request())
    assert fake.requests == []


def test_a_refused_key_is_an_auth_error(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-000000000000")
    h = Harness(fake, tmp_path)
    with pytest.raises(AuthError, match="Incorrect API key") as info:
        h.run(request())
    assert "sk-wrong-key-000000000000" not in str(info.value)
    assert len(creates(fake)) == 1


def test_bad_duration_and_unknown_model_are_rejected_with_the_services_words(fake, key, tmp_path):
    with pytest.raises(Rejected, match=r"Invalid value: '5'\. Supported values are: '4', '8', and '12'"):
        Harness(fake, tmp_path, durations=[5]).run(request())
    with pytest.raises(Rejected, match=r"Invalid value: 'sora-3'"):
        Harness(fake, tmp_path, model="sora-3").run(request())
    assert len(creates(fake)) == 2 and fake.jobs == {}
    assert Journal(tmp_path / "j.sqlite").get(HASH).state == "failed"


def test_the_key_never_reaches_messages_or_the_journal(fake, key, tmp_path):
    texts = []
    fake.fail("POST /v1/videos", status=400, body={"error": {"message": "bad", "type": "invalid_request_error"}})
    fake.fail_next_job()
    for setup in (lambda: None, lambda: None, fake.expire_downloads):
        setup()
        try:
            Harness(fake, tmp_path).run(request())
        except Exception as exc:  # noqa: BLE001 - every failure's text is checked
            texts.append(f"{exc!s} {exc!r} {getattr(exc, 'hint', '')}")
    assert len(texts) == 3
    assert all(KEY not in t for t in texts)
    blobs = journal_bytes(tmp_path)
    assert b"moderation_blocked" in blobs and KEY.encode() not in blobs


def test_a_hole_longer_than_twelve_seconds_is_refused_without_a_request(fake, key, tmp_path):
    h = Harness(fake, tmp_path)
    req = request(frames=13 * 24)
    plan = h.provider.plan(req)
    assert plan.refused and "12 s" in plan.refused
    with pytest.raises(Rejected, match="longer than openai sora-2's longest clip"):
        h.run(req)
    assert fake.requests == [] and h.journal.get(HASH) is None


def test_a_job_that_never_finishes_times_out_at_the_deadline(fake, key, tmp_path):
    fake.steps = [("queued", 0), ("in_progress", 10)]
    ticks = iter(range(0, 10_000, 10))
    h = Harness(fake, tmp_path, clock=lambda: float(next(ticks)), timeout=30)
    with pytest.raises(JobTimedOut, match="still running after 30 s"):
        h.run(request())
    row = h.journal.get(HASH)
    assert row.state == "submitted" and row.job_id in fake.jobs
    assert 2 <= sum(1 for r in fake.requests if r.method == "GET") <= 4


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
