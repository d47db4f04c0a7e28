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
        self.route("GET", "/anim.gif", lambda rec, p: Reply(200, b"GIF89a" + self.video, {"Content-Type": "image/gif"}))


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


def test_errors_keep_the_status_body_and_response_headers_but_no_auth(fake):
    fake.fail("POST /jobs", status=400, body={"error": {"message": "bad seconds", "param": "seconds"}},
              headers={"X-Request-Id": "req-1", "Set-Cookie": "session=abc"})
    with pytest.raises(Rejected) as info:
        run(_post(client(fake), "/jobs", {}))
    err = info.value
    assert err.status == 400 and err.body == {"error": {"message": "bad seconds", "param": "seconds"}}
    assert err.headers["x-request-id"] == "req-1" and err.headers["content-type"] == "application/json"
    assert "authorization" not in err.headers and "set-cookie" not in err.headers
    assert "sk-secret" not in repr(err.headers)
    assert str(err).startswith("echo: POST /jobs was refused (HTTP 400: bad seconds: seconds)")
    fake.fail("GET /jobs/*", status=401, body="no such key")
    with pytest.raises(AuthError) as info:
        run(_get(client(fake), "/jobs/x"))
    assert info.value.status == 401 and info.value.body == "no such key"


def test_a_gone_download_is_marked_expired_and_other_download_errors_are_not(fake, tmp_path: Path):
    async def go(path):
        async with client(fake) as c:
            return await c.download(path, tmp_path / "out.mp4")

    with pytest.raises(DownloadError) as wrong:
        run(go("/page"))
    assert wrong.value.expired is False and wrong.value.status is None
    fake.expire_downloads()
    with pytest.raises(DownloadError, match=r"gone \(HTTP 403\)") as gone:
        run(go("/file.mp4"))
    assert gone.value.expired is True and gone.value.status == 403
    assert "AccessDenied" in gone.value.body and "authorization" not in gone.value.headers


def test_download_takes_extra_content_types_only_when_asked(fake, tmp_path: Path, small_video):
    async def go(**kw):
        async with client(fake) as c:
            return await c.download("/anim.gif", tmp_path / "anim.gif", **kw)

    with pytest.raises(DownloadError, match="expected a video from .*, got 'image/gif'"):
        run(go())
    assert run(go(accept_types=("image/gif",))).read_bytes() == b"GIF89a" + small_video
    first, second = fake.requests
    assert first.headers["accept"] == "video/*, application/octet-stream"
    assert second.headers["accept"] == "image/gif, video/*, application/octet-stream"


def test_accepted_error_statuses_come_back_as_answers_without_retries(fake):
    fake.fail("GET /jobs/*", status=500, body={"detail": "the run failed"}, times=5)

    async def go(**kw):
        async with client(fake) as c:
            return await c.request("GET", "/jobs/x", **kw)

    resp = run(go(accept_status=(422, 500)))
    assert resp.status_code == 500 and resp.json() == {"detail": "the run failed"}
    assert fake.count("GET /jobs/*") == 1
    with pytest.raises(ServiceError):
        run(go(accept_status=(422,)))
    assert fake.count("GET /jobs/*") == 5
