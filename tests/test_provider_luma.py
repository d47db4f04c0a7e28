"""The Luma Dream Machine client against a fake API and a fake public CDN on real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.luma import PREFIX, FakeCDN, FakeLuma
from mediautil import make_png
from provider_harness import KEY, ProviderHarness, key_fixture, request_factory
from shotfill.config import ProviderSettings, Settings
from shotfill.errors import Rejected
from shotfill.providers.base import ProviderContext
from shotfill.providers.luma import KEYFRAME_NOTE, LumaProvider, resolution_for

HASH = "7c" * 32


@pytest.fixture
def cdn(small_video):
    with FakeCDN(small_video) as c:
        yield c


@pytest.fixture
def fake(cdn):
    with FakeLuma(cdn, key=KEY) as f:
        yield f


key = key_fixture("luma")


class Harness(ProviderHarness):
    provider_class = LumaProvider
    base_path = PREFIX


request = request_factory(placeholder_id="V2-0003", provider="luma",
                          prompt="a lighthouse beam sweeps over a stormy sea", seed=11, width=1920, height=1080,
                          rate="25", frames=100, timecode="10:00:04:00", request_hash=HASH)


def creates(fake: FakeLuma):
    return [r for r in fake.requests if r.method == "POST"]


# -- happy paths --------------------------------------------------------------------------


@pytest.mark.slow
def test_text_only_landscape_body_headers_and_download_without_the_key(fake, cdn, key, tmp_path, small_video):
    h = Harness(fake, tmp_path)
    media = h.run(request())

    [post] = creates(fake)
    assert post.path == PREFIX + "/generations/video"
    assert post.headers["authorization"] == f"Bearer {KEY}"
    assert post.headers["content-type"] == "application/json"
    # a 4 s hole -> "5s" (a string); 16:9; 1080 lines -> 1080p; no seed, no negative, no keyframes
    assert post.json == {"model": "ray-2", "prompt": "a lighthouse beam sweeps over a stormy sea",
                         "aspect_ratio": "16:9", "duration": "5s", "resolution": "1080p"}

    [gen_id] = fake.jobs
    assert media.job_id == gen_id and media.provider == "luma" and media.model == "ray-2"
    assert Path(media.path).read_bytes() == small_video
    [dl] = cdn.requests
    assert dl.path == f"/v1/{gen_id}.mp4" and "authorization" not in dl.headers
    assert h.stages("progress") == ["queued", "running", "running"]
    row = h.journal.get(HASH)
    assert (row.state, row.job_id, row.media_path) == ("downloaded", gen_id, media.path)


@pytest.mark.slow
def test_portrait_with_neighbour_frames_sends_no_keyframes_and_the_plan_says_so(fake, key, tmp_path):
    first = make_png(tmp_path / "before.png", 64, 114, "red")
    last = make_png(tmp_path / "after.png", 64, 114, "blue")
    h = Harness(fake, tmp_path, model="ray-flash-2")
    req = request(width=1080, height=1920, frames=7 * 25, negative="blurry",
                  first_frame=str(first), last_frame=str(last))
    plan = h.provider.plan(req)
    assert (plan.size_label, plan.seconds, plan.use_first, plan.use_last) == ("9:16", 9.0, False, False)
    assert KEYFRAME_NOTE in plan.notes and plan.seed is None and plan.negative is None
    assert any("negative prompt not sent" in n for n in plan.notes)

    h.run(req)
    assert creates(fake)[0].json == {"model": "ray-flash-2", "prompt": req.prompt, "aspect_ratio": "9:16",
                                     "duration": "9s", "resolution": "1080p"}
    assert b"PNG" not in creates(fake)[0].body and b"keyframes" not in creates(fake)[0].body


def test_aspect_and_resolution_choices():
    p = LumaProvider(ProviderContext(settings=Settings(providers={"luma": ProviderSettings()})))
    assert p.plan(request(width=2560, height=1080)).size_label == "21:9"      # not reduced to 7:3
    assert p.plan(request(width=1440, height=1080)).size_label == "4:3"
    assert p.plan(request(width=1080, height=1080)).size_label == "1:1"
    assert [resolution_for(*s) for s in ((960, 540), (1280, 720), (1920, 1080), (3840, 2160))] == \
        ["540p", "720p", "1080p", "1080p"]
    forced = LumaProvider(ProviderContext(settings=Settings(providers={"luma": ProviderSettings(
        extra={"resolution": "4k", "loop": False})})))
    assert forced.build_body(request(), forced.plan(request())) == {
        "model": "ray-2", "prompt": request().prompt, "aspect_ratio": "16:9", "duration": "5s",
        "resolution": "4k", "loop": False}
    legacy = LumaProvider(ProviderContext(settings=Settings(providers={"luma": ProviderSettings(model="ray-1-6")})))
    assert legacy.build_body(request(), legacy.plan(request())) == {
        "model": "ray-1-6", "prompt": request().prompt, "aspect_ratio": "16:9"}


# -- failures -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_create_whose_answer_was_lost_is_recovered_from_the_listing(fake, key, tmp_path, small_video):
    Harness(fake, tmp_path / "other").run(request(prompt="another shot", request_hash="aa" * 32))
    fake.lose_next_create_reply()
    h = Harness(fake, tmp_path)
    media = h.run(request())
    assert len(creates(fake)) == 2 and len(fake.jobs) == 2
    ours = [g for g, j in fake.jobs.items() if j["gen"]["request"]["prompt"] == request().prompt]
    assert media.job_id == ours[0] and h.stages("recovered") == ours
    assert Path(media.path).read_bytes() == small_video


@pytest.mark.slow
def test_an_expired_cdn_link_is_asked_for_afresh_once(fake, cdn, key, tmp_path, small_video):
    fake.fresh_links = True
    real_link = cdn.link

    def link_then_expire(gen_id: str) -> str:
        url = real_link(gen_id)
        if len(cdn.issued) == 1:
            cdn.expire_links()          # the first link is dead by the time it is fetched
        return url

    cdn.link = link_then_expire
    media = Harness(fake, tmp_path).run(request())
    assert Path(media.path).read_bytes() == small_video
    assert len(cdn.requests) == 2 and cdn.requests[0].query != cdn.requests[1].query


def test_bad_duration_and_unknown_model_are_rejected_with_the_services_words(fake, key, tmp_path):
    with pytest.raises(Rejected, match=r"Invalid duration '7s' for ray-2: use one of 5s, 9s"):
        Harness(fake, tmp_path, durations=[7]).run(request())
    with pytest.raises(Rejected, match=r"model: Input should be 'ray-1-6', 'ray-2' or 'ray-flash-2'"):
        Harness(fake, tmp_path, model="ray-9").run(request())
    assert len(creates(fake)) == 2 and fake.jobs == {}


def test_the_fake_refuses_what_the_service_refuses(fake, key):
    """The fake's own checks: unknown field, bad ratio, data-URI keyframes, legacy route, auth."""
    import httpx

    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=fake.url + PREFIX) as c:
        r = c.post("/generations/video", headers=auth, json={"model": "ray-2", "prompt": "x", "seed": 1})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "seed"]
        r = c.post("/generations/video", headers=auth, json={"model": "ray-2", "aspect_ratio": "7:3"})
        assert r.status_code == 422
        r = c.post("/generations/video", headers=auth, json={
            "model": "ray-2", "keyframes": {"frame0": {"type": "image", "url": "data:image/png;base64,AAAA"}}})
        assert r.status_code == 400 and "public" in r.json()["detail"]
        r = c.post("/generations", headers=auth, json={"model": "ray-2", "prompt": "x", "generation_type": "video"})
        assert r.status_code == 201 and r.json()["state"] == "queued"
        r = c.post("/generations/video", json={"model": "ray-2"})
        assert r.status_code == 401
