"""What every provider client promises, checked once per service against its fake on real sockets.

Each case runs the real client (httpx, retries, journal) against the service's fake from
tests/fakes/; a :class:`Service` row says, in the service's own terms, how to script a fault there
and what the service then answers.  What only one service does stays in its own test module.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

import test_provider_comfyui as comfyui
import test_provider_fal as fal
import test_provider_luma as luma
import test_provider_openai as openai
import test_provider_replicate as replicate
import test_provider_runway as runway
import test_provider_veo as veo
from fakes.comfyui import FakeComfyUI
from fakes.fal import FakeCdn, FakeFal
from fakes.luma import PREFIX, FakeCDN, FakeLuma
from fakes.openai import FakeOpenAI
from fakes.replicate import MODERATION, FakeReplicate
from fakes.runway import FakeRunway
from fakes.veo import FakeVeo
from fakes.server import FakeService
from provider_harness import KEY, ProviderHarness, journal_bytes
from shotfill.config import KEY_ENV
from shotfill.errors import AuthError, DownloadError, JobFailed, JobTimedOut, Rejected, SubmitUncertain
from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash

Fake = Any


@dataclass(frozen=True)
class Service:
    """One service's side of the contract: its fake, its routes and its words."""

    name: str
    harness: type[ProviderHarness]
    request: Callable[..., GenerationRequest]
    start: Callable[[bytes], contextlib.AbstractContextManager[Fake]]
    #: where the video is fetched from (the API itself or its storage host) and which requests there are fetches
    downloads: Callable[[Fake], FakeService]
    fetch: str
    submit: str                                   # the route of the one request that creates the job
    poll: str                                     # the route of a status poll
    clean_polls: Callable[[Fake], int]            # polls a run without faults makes
    #: what the fake answers with a 500 on a poll, and a 400 on the submit
    error_500: Any
    error_400: Any
    #: (route, body, headers, the wait the client must honour) of a 429 on the submit
    rate_limit: tuple[str, Any, dict[str, str], float]
    #: scripts the next job to fail on the service's side; the words the error must carry; what the journal keeps
    fail_job: Callable[[Fake], None]
    failure_words: tuple[str, ...]
    failure_code: str
    #: makes the finished video unobtainable; the words of the error; how many fetches are tried first
    expire: Callable[[Fake], None]
    expired_words: str
    expired_fetches: int
    never_finish: Callable[[Fake], None]
    timeout_words: str
    #: what the client may read after a lost submit, to look for its job ({route glob: count})
    lookups: dict[str, int]
    #: None: the service takes no key (it may be configured; see the key tests)
    key_env: Optional[str]
    #: (a key the service refuses, the part of it that must not be echoed, the service's words)
    refused_key: Optional[tuple[str, str, str]]
    #: (frames longer than the longest clip, the refusal's words); None: no limit
    too_long: Optional[tuple[int, str]]
    poll_hook: str = "on_poll"                    # the fake's callback on each status poll
    #: what the journal keeps beside the job id once submitted
    submitted_data: Callable[[Fake, str], dict[str, Any]] = lambda fake, job_id: {}
    settings: dict[str, Any] = field(default_factory=dict)
    expired_hint: Optional[str] = None
    #: the video comes inside the job's answer (Veo on Vertex): no fetch to truncate or expire
    inline_media: bool = False

    def __str__(self) -> str:
        return self.name


@contextlib.contextmanager
def _plain(cls: type[FakeService], video: bytes, **kw: Any) -> Iterator[Fake]:
    with cls(video, **kw) as fake:
        yield fake


@contextlib.contextmanager
def _behind_cdn(cls: type[FakeService], video: bytes) -> Iterator[Fake]:
    with FakeCdn(video) as cdn, cls(video, key=KEY, cdn=cdn) as fake:
        yield fake


@contextlib.contextmanager
def _luma(video: bytes) -> Iterator[Fake]:
    with FakeCDN(video) as cdn, FakeLuma(cdn, key=KEY) as fake:
        yield fake


def _expire_luma_link(fake: Fake) -> None:
    """Luma hands out a link that is dead by the time it is fetched, and no fresh one."""
    cdn = fake.cdn
    cdn.link = (lambda orig: lambda gen_id: (orig(gen_id), cdn.expire_links())[0])(cdn.link)


SERVICES = [
    Service(
        name="openai", harness=openai.Harness, request=openai.request,
        start=lambda video: _plain(FakeOpenAI, video, key=KEY),
        downloads=lambda fake: fake, fetch="GET /v1/videos/*/content",
        # the fake's ids end in "ab": a poll, not a fetch of .../content
        submit="POST /v1/videos", poll="GET /v1/videos/video_*ab", clean_polls=lambda fake: 4,
        error_500={"error": {"message": "The server had an error", "type": "server_error"}},
        error_400={"error": {"message": "bad", "type": "invalid_request_error"}},
        rate_limit=("POST /v1/videos", {"error": {"message": "Rate limit reached for videos", "type": "requests",
                                                  "param": None, "code": "rate_limit_exceeded"}},
                    {"Retry-After": "7"}, 7.0),
        fail_job=lambda fake: fake.fail_next_job("Your request was blocked by our moderation system.",
                                                 code="moderation_blocked"),
        failure_words=("blocked by our moderation system", "moderation_blocked"), failure_code="moderation_blocked",
        expire=lambda fake: fake.expire_downloads(), expired_words="expires_at", expired_fetches=1,
        expired_hint="generate the shot again",
        never_finish=lambda fake: setattr(fake, "steps", [("queued", 0), ("in_progress", 10)]),
        timeout_words="still running after 30 s",
        lookups={"GET /v1/videos": 1},
        key_env=KEY_ENV["openai"], refused_key=("sk-wrong-key-000000000000", "sk-wrong-key-000000000000",
                                                "Incorrect API key"),
        too_long=(13 * 24, "longer than openai sora-2's longest clip (12 s)"),
    ),
    Service(
        name="runway", harness=runway.Harness, request=runway.request, settings={"model": "gen4.5"},
        start=lambda video: _plain(FakeRunway, video, key=KEY),
        downloads=lambda fake: fake.cdn, fetch="GET *",
        submit="POST /v1/text_to_video", poll="GET /v1/tasks/*", clean_polls=lambda fake: len(fake.sequence),
        error_500={"error": "internal"}, error_400={"error": "bad"},
        rate_limit=("POST /v1/*", {"error": "You have exceeded your daily generation limit."},
                    {"Retry-After": "7"}, 7.0),
        fail_job=lambda fake: fake.moderate_next("SAFETY.INPUT.TEXT",
                                                 "The prompt was flagged by our content moderation system."),
        failure_words=("SAFETY.INPUT.TEXT", "flagged by our content moderation system"),
        failure_code="SAFETY.INPUT.TEXT",
        expire=lambda fake: fake.expire_downloads(), expired_words="expire", expired_fetches=2,
        never_finish=lambda fake: setattr(fake, "sequence", ["RUNNING"]), timeout_words="still running after 30 s",
        lookups={"GET *": 0},
        key_env=KEY_ENV["runway"], refused_key=("key_wrong-secret-value", "wrong-secret-value", "Invalid API key"),
        too_long=(24 * 11, "longer than runway gen4.5's longest clip (10 s)"),
    ),
    Service(
        name="luma", harness=luma.Harness, request=luma.request, start=_luma,
        downloads=lambda fake: fake.cdn, fetch="GET *",
        submit=f"POST {PREFIX}/generations/video", poll=f"GET {PREFIX}/generations/*", clean_polls=lambda fake: 4,
        error_500={"detail": "Internal Server Error"}, error_400={"detail": "bad request"},
        rate_limit=(f"POST {PREFIX}/generations/video", {"detail": "Too many requests"}, {"Retry-After": "9"}, 9.0),
        fail_job=lambda fake: fake.fail_next_job("400: prompt not allowed because advanced moderation failed"),
        failure_words=("prompt not allowed because advanced moderation failed",),
        failure_code="advanced moderation failed",
        expire=_expire_luma_link, expired_words="gone", expired_fetches=1,
        never_finish=lambda fake: setattr(fake, "steps", ["queued", "dreaming"]),
        timeout_words="still running after 30 s",
        lookups={f"GET {PREFIX}/generations": 1},
        key_env=KEY_ENV["luma"], refused_key=("luma-wrong-0000", "luma-wrong-0000", "Invalid API key"),
        too_long=(10 * 25, "longer than luma ray-2's longest clip (9 s)"),
    ),
    Service(
        name="veo", harness=veo.Harness, request=veo.request,
        start=lambda video: _plain(FakeVeo, video, key=KEY),
        # Vertex returns the video inline in the finished operation: there is nothing to fetch.
        downloads=lambda fake: fake, fetch="GET *", inline_media=True,
        submit="POST /v1/*:predictLongRunning", poll="POST /v1/*:fetchPredictOperation",
        clean_polls=lambda fake: fake.steps + 1,
        error_500={"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}},
        error_400={"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}},
        rate_limit=("POST /v1/*:predictLongRunning", {"error": {
            "code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}, {}, 7.0),
        fail_job=lambda fake: fake.filter_next(["The input image contains content that violates the usage "
                                                "guidelines. Support codes: 58061214"]),
        failure_words=("safety filters", "Support codes: 58061214", "raiMediaFilteredCount=1"),
        failure_code="58061214",
        expire=lambda fake: fake.expire_downloads(), expired_words="expire", expired_fetches=0,
        never_finish=lambda fake: setattr(fake, "steps", 10_000), timeout_words="still running after 30 s",
        lookups={"GET *": 0, "POST /v1/*:fetchPredictOperation": 0},
        key_env=KEY_ENV["veo"], refused_key=("AIza-wrong-secret-value", "wrong-secret-value", "API key not valid"),
        too_long=(24 * 9, "longest clip (8 s)"),
    ),
    Service(
        name="fal", harness=fal.Harness, request=fal.request,
        start=lambda video: _behind_cdn(FakeFal, video),
        downloads=lambda fake: fake.cdn, fetch="GET *",
        submit="POST /fal-ai/wan/v2.2-a14b/*", poll="GET /fal-ai/wan/requests/*/status", clean_polls=lambda fake: 3,
        error_500={"detail": "upstream hiccup"}, error_400={"detail": "bad request"},
        rate_limit=("POST /*", {"detail": "Too many concurrent requests"}, {"Retry-After": "9"}, 9.0),
        fail_job=lambda fake: fake.fail_next_job("moderation"),
        failure_words=("flagged by a content checker", "content_policy_violation"),
        failure_code="content_policy_violation",
        expire=lambda fake: fake.cdn.expire_downloads(), expired_words="expire", expired_fetches=1,
        never_finish=lambda fake: setattr(fake, "steps", ["IN_QUEUE", "IN_PROGRESS"]),
        timeout_words="still running after 30 s",
        lookups={"GET *": 0},                     # fal has no listing to look in
        key_env=KEY_ENV["fal"], refused_key=("wrong-key-123", "wrong-key-123", "Invalid API key"),
        too_long=(11 * 24, "longer than fal fal-ai/wan/v2.2-a14b/text-to-video's longest clip (161 frames at 16 fps, 10.06 s)"),
        submitted_data=lambda fake, rid: {"status_url": f"{fake.url}/fal-ai/wan/requests/{rid}/status"},
    ),
    Service(
        name="replicate", harness=replicate.Harness, request=replicate.request,
        start=lambda video: _behind_cdn(FakeReplicate, video),
        downloads=lambda fake: fake.cdn, fetch="GET *",
        submit="POST /v1/models/*", poll="GET /v1/predictions/*", clean_polls=lambda fake: 3,
        error_500={"detail": "Internal Server Error", "status": 500}, error_400={"detail": "bad", "status": 400},
        rate_limit=("POST /v1/models/*", {"title": "Too Many Requests", "status": 429,
                                          "detail": "Request was throttled. Your rate limit resets in ~30s."},
                    {"Retry-After": "30"}, 30.0),
        fail_job=lambda fake: fake.fail_next_job(),
        failure_words=("flagged as sensitive", "(E005)", MODERATION), failure_code="E005",
        expire=lambda fake: fake.cdn.expire_downloads(), expired_words="expire", expired_fetches=1,
        never_finish=lambda fake: setattr(fake, "steps", ["starting", "processing"]),
        timeout_words="still running after 30 s",
        lookups={"GET /v1/predictions": 1},
        key_env=KEY_ENV["replicate"], refused_key=("r8_wrong_token", "r8_wrong_token", "valid authentication token"),
        too_long=(8 * 24, "longest clip (121 frames at 16 fps, 7.56 s)"),
        submitted_data=lambda fake, pid: {"get_url": f"{fake.url}/v1/predictions/{pid}"},
    ),
    Service(
        name="comfyui", harness=comfyui.Rig, request=comfyui.request,
        start=lambda video: _plain(FakeComfyUI, video),
        downloads=lambda fake: fake, fetch="GET /view",
        submit="POST /prompt", poll="GET /history/*", clean_polls=lambda fake: 3,
        error_500="500 Internal Server Error",
        error_400={"error": {"type": "prompt_outputs_failed_validation", "message": "bad", "details": "",
                             "extra_info": {}}, "node_errors": {}},
        rate_limit=("POST /prompt", {"error": "busy"}, {"Retry-After": "7"}, 7.0),
        fail_job=lambda fake: fake.fail_next_job("Allocation on device 0 would exceed allowed memory. (out of memory)"),
        failure_words=("Allocation on device 0 would exceed allowed memory", "torch.OutOfMemoryError",
                       "node 57 (KSamplerAdvanced)"),
        failure_code="Allocation on device 0",
        expire=lambda fake: fake.expire_downloads(), expired_words="HTTP 404", expired_fetches=1,
        never_finish=lambda fake: fake.next_job_steps(["pending"] * 100), timeout_words="still queued after 30 s",
        lookups={"GET /queue": 1, "GET /history": 1},      # looked for it in the queue and the history first
        key_env=None, refused_key=None, too_long=None, poll_hook="on_history_poll",
        submitted_data=lambda fake, pid: {"client_id": comfyui.prompts(fake)[0]["client_id"]},
    ),
]

WITH_KEY = [s for s in SERVICES if s.key_env]
WITH_LIMIT = [s for s in SERVICES if s.too_long]


class Run:
    """One service under test: its fake running, the key set, and a harness per run."""

    def __init__(self, svc: Service, fake: Fake, tmp_path: Path) -> None:
        self.svc, self.fake, self.tmp_path = svc, fake, tmp_path
        self.settings = dict(svc.settings)

    def harness(self, **settings: Any) -> ProviderHarness:
        return self.svc.harness(self.fake, self.tmp_path, **{**self.settings, **settings})

    def request(self, **changes: Any) -> GenerationRequest:
        """A request with its own hash, so that runs in one journal never meet."""
        req = self.svc.request(**changes)
        return req.model_copy(update={"request_hash": request_hash(req)})

    @property
    def downloads(self) -> FakeService:
        return self.svc.downloads(self.fake)

    def fetches(self) -> int:
        return self.downloads.count(self.svc.fetch)

    def polls(self) -> int:
        return self.fake.count(self.svc.poll)

    def work_files(self) -> list[Path]:
        work = self.tmp_path / "work"
        return [p for p in work.iterdir() if p.suffix == ".mp4" or p.name.endswith("part")] if work.exists() else []


def _run_fixture(services: list[Service]) -> Any:
    @pytest.fixture(params=services, ids=str)
    def run(request: pytest.FixtureRequest, small_video: bytes, monkeypatch: pytest.MonkeyPatch,
            tmp_path: Path) -> Iterator[Run]:
        svc: Service = request.param
        with svc.start(small_video) as fake:
            r = Run(svc, fake, tmp_path)
            if svc.key_env:
                monkeypatch.setenv(svc.key_env, KEY)
            else:
                r.settings["api_key"] = KEY       # optional for the service: configured, so it can leak
            yield r

    return run


run = _run_fixture(SERVICES)
keyed = _run_fixture(WITH_KEY)
limited = _run_fixture(WITH_LIMIT)


def texts_of(exc: BaseException) -> str:
    return f"{exc!s} {exc!r} {getattr(exc, 'hint', '')}"


# -- the key -------------------------------------------------------------------------------------


def test_no_key_is_an_auth_error_naming_the_variable_before_any_request(keyed, monkeypatch):
    monkeypatch.delenv(keyed.svc.key_env)
    h = keyed.harness()
    with pytest.raises(AuthError, match=keyed.svc.key_env):
        h.run(keyed.request())
    assert keyed.fake.requests == []


def test_a_refused_key_is_an_auth_error_in_the_services_words_that_does_not_echo_it(keyed, monkeypatch):
    wrong, secret_part, words = keyed.svc.refused_key
    monkeypatch.setenv(keyed.svc.key_env, wrong)
    h = keyed.harness()
    req = keyed.request()
    with pytest.raises(AuthError, match=re.escape(words)) as info:
        h.run(req)
    assert secret_part not in texts_of(info.value)
    assert keyed.fake.count("POST *") == 1
    assert h.journal.get(req.request_hash).state == "failed"


@pytest.mark.slow                                  # the run that succeeds checks its video with ffprobe
def test_the_key_never_reaches_messages_events_or_the_journal(run):
    svc, fake = run.svc, run.fake
    h = run.harness()
    h.run(run.request())
    failures = []
    fake.fail(svc.submit, status=400, body=svc.error_400)
    for seed, setup in ((7, lambda: None), (8, lambda: svc.fail_job(fake)), (9, lambda: svc.expire(fake))):
        setup()
        try:
            h.run(run.request(seed=seed))
        except Exception as exc:  # noqa: BLE001 - every failure's text is checked
            failures.append(exc)
    # An inline video cannot expire apart from its job: the job itself is gone (404) instead.
    assert [type(e) for e in failures] == [Rejected, JobFailed, Rejected if svc.inline_media else DownloadError]
    assert all(KEY not in texts_of(e) for e in failures)
    assert all(KEY not in d for _, d in h.events)
    h.journal.close()
    blobs = journal_bytes(run.tmp_path)
    assert svc.failure_code.encode() in blobs and KEY.encode() not in blobs


# -- submitting ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_429_on_submit_waits_what_the_service_asks_and_creates_one_job(run):
    route, body, headers, wait = run.svc.rate_limit
    run.fake.fail(route, status=429, body=body, headers=headers)
    h = run.harness()
    media = h.run(run.request())
    assert run.fake.count(run.svc.submit) == 2 and len(run.fake.jobs) == 1
    assert h.sleeps[0] == wait
    assert media.job_id in run.fake.jobs


def test_a_reset_submit_is_never_resent_and_stays_uncertain(run):
    run.fake.reset(run.svc.submit)
    h = run.harness()
    req = run.request()
    with pytest.raises(SubmitUncertain, match="not sent again"):
        h.run(req)
    assert run.fake.count(run.svc.submit) == 1 and run.fake.jobs == {}
    assert {route: run.fake.count(route) for route in run.svc.lookups} == run.svc.lookups
    assert h.journal.get(req.request_hash).state == "uncertain"


def test_a_hole_longer_than_the_longest_clip_is_refused_without_a_request(limited):
    frames, words = limited.svc.too_long
    h = limited.harness()
    req = limited.request(frames=frames)
    plan = h.provider.plan(req)
    assert plan.refused and words in plan.refused
    with pytest.raises(Rejected, match=re.escape(words)):
        h.run(req)
    assert limited.fake.requests == [] and h.journal.get(req.request_hash) is None


# -- waiting ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_journal_says_submitted_with_the_job_id_at_every_poll(run):
    h = run.harness()
    req = run.request()
    seen = []
    setattr(run.fake, run.svc.poll_hook, lambda *_: seen.append(h.journal.get(req.request_hash)))
    media = h.run(req)
    assert seen and all((row.state, row.job_id) == ("submitted", media.job_id) for row in seen)
    expected = run.svc.submitted_data(run.fake, media.job_id)
    assert {k: seen[0].data.get(k) for k in expected} == expected
    assert h.stages("submitted") == [media.job_id]
    assert h.journal.get(req.request_hash).state == "downloaded"


@pytest.mark.slow
def test_500s_on_a_poll_are_retried_with_a_backoff(run, small_video):
    run.fake.fail(run.svc.poll, status=500, body=run.svc.error_500, times=2)
    h = run.harness()
    media = h.run(run.request())
    assert Path(media.path).read_bytes() == small_video
    assert run.polls() == run.svc.clean_polls(run.fake) + 2
    assert len([s for s in h.sleeps if s != 0.01]) == 2          # two backoffs; every other wait is a poll


def test_a_job_that_never_finishes_times_out_at_the_deadline_and_keeps_its_id(run):
    run.svc.never_finish(run.fake)
    ticks = itertools.count(0, 10)
    h = run.harness(clock=lambda: float(next(ticks)), timeout=30)
    req = run.request()
    with pytest.raises(JobTimedOut, match=run.svc.timeout_words):
        h.run(req)
    row = h.journal.get(req.request_hash)
    assert row.state == "submitted" and row.job_id in run.fake.jobs
    assert 2 <= run.polls() <= 4


def test_a_job_the_service_fails_is_job_failed_in_its_words_and_nothing_is_fetched(run):
    run.svc.fail_job(run.fake)
    h = run.harness()
    req = run.request()
    with pytest.raises(JobFailed) as info:
        h.run(req)
    for words in run.svc.failure_words:
        assert words in str(info.value)
    assert next(iter(run.fake.jobs)) in str(info.value)
    row = h.journal.get(req.request_hash)
    assert row.state == "failed" and run.svc.failure_code in row.error
    assert run.fetches() == 0


# -- fetching --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_truncated_download_is_fetched_again_whole(run, small_video):
    if run.svc.inline_media:
        pytest.skip(f"{run.svc.name} returns the video inside the finished job: there is no fetch to truncate")
    run.downloads.truncate_next_download()
    h = run.harness()
    media = h.run(run.request())
    assert Path(media.path).read_bytes() == small_video
    assert run.fetches() == 2
    assert run.polls() == run.svc.clean_polls(run.fake)             # no new link needed for a second try
    if run.downloads is not run.fake:                               # a public host never sees the key
        assert all(KEY not in v for r in run.downloads.requests for v in r.headers.values())


def test_an_expired_download_is_a_download_error_that_keeps_the_job(run):
    if run.svc.inline_media:
        pytest.skip(f"{run.svc.name} returns the video inside the finished job: there is no link to expire")
    run.svc.expire(run.fake)
    h = run.harness()
    req = run.request()
    with pytest.raises(DownloadError, match=run.svc.expired_words) as info:
        h.run(req)
    if run.svc.expired_hint:
        assert run.svc.expired_hint in info.value.hint
    assert run.fetches() == run.svc.expired_fetches
    assert run.work_files() == []
    row = h.journal.get(req.request_hash)
    assert row.state == "submitted" and row.job_id in run.fake.jobs     # kept for a later run
