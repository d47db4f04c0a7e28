"""The shared HTTP client against a real local server: retries, no double submits, downloads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fakes.server import FakeService, Reply
from shotfill.errors import AuthError, DownloadError, Rejected, ServiceError, SubmitUncertain
from shotfill.providers._http import RetryPolicy, ServiceClient


class Echo(FakeService):
    def setup_routes(self) -> None:
        self.route("POST", "/jobs", lambda rec, p: Reply(201, {"id": "j1"}))
        self.route("GET", "/jobs/{id}", lambda rec, p: Reply(200, {"id": p["id"], "status": "done"}))
        self.route("GET", "/file.mp4", lambda rec, p: self.video_reply())
        self.route("GET", "/page", lambda rec, p: Reply(200, "<html>sign in</html>", {"Content-Type": "text/html"}))


def run(coro):
    return asyncio.run(coro)


def client(fake: FakeService, **kw) -> ServiceClient:
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    c = ServiceClient(provider="echo", base_url=fake.url, auth_headers={"Authorization": "Bearer sk-secret"},
                      timeout=kw.pop("timeout", 5.0), retry=RetryPolicy(attempts=4), sleep=sleep, **kw)
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


@pytest.fixture
def fake(small_video):
    with Echo(small_video) as f:
        yield f


async def _get(c: ServiceClient, path: str):
    async with c:
        return await c.get_json(path)


async def _post(c: ServiceClient, path: str, body):
    async with c:
        return await c.post_json(path, body)


def test_429_honours_retry_after_then_succeeds(fake):
    fake.fail("POST /jobs", status=429, body={"error": "slow down"}, headers={"Retry-After": "7"})
    c = client(fake)
    assert run(_post(c, "/jobs", {"a": 1})) == {"id": "j1"}
    assert fake.count("POST /jobs") == 2
    assert c.sleeps == [7.0]


def test_submit_is_not_resent_after_a_500_or_a_reset(fake):
    fake.fail("POST /jobs", status=500, body={"error": "boom"})
    with pytest.raises(SubmitUncertain):
        run(_post(client(fake), "/jobs", {}))
    assert fake.count("POST /jobs") == 1
    fake.reset("POST /jobs")
    with pytest.raises(SubmitUncertain):
        run(_post(client(fake), "/jobs", {}))
    assert fake.count("POST /jobs") == 2


def test_submit_is_retried_on_503_which_did_no_work(fake):
    fake.fail("POST /jobs", status=503, times=2)
    assert run(_post(client(fake), "/jobs", {})) == {"id": "j1"}
    assert fake.count("POST /jobs") == 3


def test_polls_retry_500_and_resets_then_give_up(fake):
    fake.fail("GET /jobs/*", status=500)
    fake.reset("GET /jobs/*")
    assert run(_get(client(fake), "/jobs/x"))["status"] == "done"
    assert fake.count("GET /jobs/*") == 3
    fake.fail("GET /jobs/*", status=502, times=10)
    with pytest.raises(ServiceError):
        run(_get(client(fake), "/jobs/x"))


def test_validation_and_auth_errors_are_not_retried_and_carry_the_service_text(fake):
    fake.fail("POST /jobs", status=400, body={"error": {"message": "duration must be 4, 8 or 12", "param": "seconds"}})
    with pytest.raises(Rejected, match="duration must be 4, 8 or 12"):
        run(_post(client(fake), "/jobs", {}))
    fake.fail("GET /jobs/*", status=401, body={"error": "bad key"})
    with pytest.raises(AuthError) as info:
        run(_get(client(fake), "/jobs/x"))
    assert "sk-secret" not in str(info.value)
    assert fake.count("POST /jobs") == 1 and fake.count("GET /jobs/*") == 1


def test_download_retries_a_truncated_file_and_keeps_it_whole(fake, tmp_path: Path, small_video):
    fake.truncate_next_download()

    async def go():
        async with client(fake) as c:
            return await c.download("/file.mp4", tmp_path / "out.mp4")

    out = run(go())
    assert out.read_bytes() == small_video
    assert fake.count("GET /file.mp4") == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_download_expired_wrong_type_and_too_big(fake, tmp_path: Path):
    async def go(path, **kw):
        async with client(fake) as c:
            return await c.download(path, tmp_path / "out.mp4", **kw)

    with pytest.raises(DownloadError, match="expected a video"):
        run(go("/page"))
    with pytest.raises(DownloadError, match="limit"):
        run(go("/file.mp4", max_bytes=100))
    fake.expire_downloads()
    with pytest.raises(DownloadError, match="expire"):
        run(go("/file.mp4"))
    assert not any(tmp_path.iterdir())


def test_auth_goes_only_to_the_service_origin(small_video, tmp_path: Path):
    with Echo(small_video) as service, Echo(small_video) as cdn:
        async def go():
            async with client(service) as c:
                await c.get_json("/jobs/x")
                await c.download(cdn.url + "/file.mp4", tmp_path / "a.mp4")
        run(go())
        assert service.requests[0].headers["authorization"] == "Bearer sk-secret"
        assert "authorization" not in cdn.requests[0].headers
