"""What every provider test sets up: a provider wired to its fake service, with a journal,
recorded sleeps and progress events, and the API key in the environment.

A test module names its provider once::

    class Harness(ProviderHarness):
        provider_class = LumaProvider
        base_path = PREFIX                 # where the API lives on the fake, if not at its root

    key = key_fixture("luma")

and builds one per test: ``h = Harness(fake, tmp_path, model=..., clock=...)``;
keyword arguments are ``[providers.<name>]`` settings.  :func:`fake_fixture` and
:func:`fakes_with_cdn` make the ``fake`` fixtures, :func:`request_factory` a
module's ``request(**changes)``.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from fakes.server import FakeService
from shotfill.config import KEY_ENV, ProviderSettings, Settings
from shotfill.jobs.journal import Journal
from shotfill.model import GeneratedMedia, GenerationRequest
from shotfill.providers.base import ProviderContext, RemoteProvider

#: the key every fake service accepts
KEY = "test-secret-key"


class ProviderHarness:
    """A provider wired to a fake: polls every 10 ms, sleeps recorded (not slept), events as (stage, detail)."""

    provider_class: type[RemoteProvider]
    base_path = ""

    def __init__(self, fake: FakeService, tmp_path: Path, clock: Optional[Callable[[], float]] = None,
                 **settings: Any) -> None:
        self.sleeps: list[float] = []
        self.events: list[tuple[str, str]] = []
        self.journal = Journal(tmp_path / "j.sqlite")
        conf = {"base_url": fake.url + self.base_path, "poll_interval": 0.01, "timeout": 30, **settings}

        async def sleep(s: float) -> None:
            self.sleeps.append(s)

        name = self.provider_class.name
        self.ctx = ProviderContext(settings=Settings(providers={name: ProviderSettings(**conf)}),
                                   journal=self.journal, sleep=sleep,
                                   on_event=lambda pid, stage, detail: self.events.append((stage, detail)),
                                   **({"clock": clock} if clock else {}))
        self.provider = self.provider_class(self.ctx)
        self.workdir = tmp_path / "work"

    def run(self, req: GenerationRequest) -> GeneratedMedia:
        return asyncio.run(self.provider.generate(req, self.workdir))

    def stages(self, stage: str) -> list[str]:
        """The details of the events of one stage ("progress", "submitted", ...), in order."""
        return [d for s, d in self.events if s == stage]


def fake_fixture(service_class: type[FakeService], **kw: Any) -> Any:
    """A ``fake`` fixture: ``service_class(small_video, **kw)`` running for one test."""

    @pytest.fixture(name="fake")
    def fake(small_video: bytes) -> Any:
        with service_class(small_video, **kw) as service:
            yield service

    return fake


def request_factory(**defaults: Any) -> Callable[..., GenerationRequest]:
    """``request(**changes)``: a GenerationRequest of ``defaults`` with ``changes`` applied."""

    def request(**changes: Any) -> GenerationRequest:
        return GenerationRequest(**{**defaults, **changes})

    return request


def key_fixture(provider: str) -> Any:
    """A ``key`` fixture that puts :data:`KEY` in the provider's key variable."""

    @pytest.fixture(name="key")
    def key(monkeypatch: pytest.MonkeyPatch, clean_environ: None) -> None:
        monkeypatch.setenv(KEY_ENV[provider], KEY)

    return key


def fakes_with_cdn(service_class: type[FakeService]) -> tuple[Any, Any, Any]:
    """The ``servers``, ``cdn`` and ``fake`` fixtures of a service whose outputs are on a public file
    host (:class:`fakes.fal.FakeCdn`): both started once per module and cleared before each test."""
    from fakes.fal import FakeCdn

    @pytest.fixture(scope="module", name="servers")
    def servers(small_video: bytes) -> Any:
        with FakeCdn(small_video) as cdn, service_class(small_video, key=KEY, cdn=cdn) as service:
            yield service, cdn

    @pytest.fixture(name="cdn")
    def cdn(servers: Any) -> Any:
        servers[1].clear()
        return servers[1]

    @pytest.fixture(name="fake")
    def fake(servers: Any, cdn: Any) -> Any:
        servers[0].clear()
        return servers[0]

    return servers, cdn, fake


def neighbour_frames(tmp_path: Path) -> tuple[str, str]:
    """Two small PNGs, the shots before and after."""
    from mediautil import make_png

    return (str(make_png(tmp_path / "first.png", 64, 36, "red")),
            str(make_png(tmp_path / "last.png", 64, 36, "blue")))


def png_of(data_uri: str) -> bytes:
    """The PNG bytes of a ``data:image/png;base64,...`` URI (which it must be)."""
    assert data_uri.startswith("data:image/png;base64,")
    return base64.b64decode(data_uri.split(",", 1)[1])


def journal_bytes(tmp_path: Path) -> bytes:
    """Everything the journal wrote to disk (database, WAL, ...), to look for what must not be there."""
    return b"".join(p.read_bytes() for p in tmp_path.glob("j.sqlite*"))
