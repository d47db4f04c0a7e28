import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
ROOT = TESTS.parent

import os

#: the shared corpus beside the checkout; TEST_CORPUS points elsewhere (a worktree one level deeper)
CORPUS = Path(os.environ.get("TEST_CORPUS") or ROOT.parent / "shared" / "corpus")

import pytest

from slow_guard import allow_spawns, pytest_runtest_setup, pytest_runtest_teardown  # noqa: F401 - hooks

_KEEP = {"SHOTFILL_FFMPEG", "SHOTFILL_FFPROBE", "SHOTFILL_FONT", "SHOTFILL_FCPXML_DTDS"}
_KEYS = ("OPENAI_API_KEY", "RUNWAYML_API_SECRET", "LUMAAI_API_KEY", "GEMINI_API_KEY", "FAL_KEY",
         "REPLICATE_API_TOKEN")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch, tmp_path_factory):
    """No real keys, no user config, no stray SHOTFILL_* settings leak into a test."""
    for name in list(os.environ):
        if name in _KEYS or (name.startswith("SHOTFILL_") and name not in _KEEP):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    # Each test starts with no known secrets, so a test proves its own scrubbing, not an earlier one's.
    from shotfill.system import secrets

    secrets.clear()


@pytest.fixture(autouse=True)
def edl_read_both_ways(monkeypatch):
    """Each EDL the builder reads is read by OTIO's reader too, and must come out the same (edl_both_ways.py)."""
    from edl_both_ways import check_both_ways

    found = check_both_ways(monkeypatch)
    yield
    assert not found, "\n".join(found)


@pytest.fixture(scope="session")
def small_video(tmp_path_factory) -> bytes:
    """A real 320x180, 24-frame H.264 MP4 that fake services hand out as their result."""
    from mediautil import make_test_clip

    # made once for the whole run, quick subset included (the fakes serve it; a failed job never fetches it)
    with allow_spawns():
        path = make_test_clip(tmp_path_factory.mktemp("video") / "result.mp4", rate="24", frames=24)
    return path.read_bytes()


from mediautil import ffmpeg_builds  # noqa: E402

_BUILDS = ffmpeg_builds()


@pytest.fixture(params=sorted(_BUILDS) or ["none"])
def each_ffmpeg(request, monkeypatch):
    """Run the test once per ffmpeg build present (pinned, system): ShotFill and the checks use it."""
    from shotfill.media import tools

    if request.param not in _BUILDS:
        pytest.skip("no ffmpeg on this machine")
    ffmpeg_bin, ffprobe_bin = _BUILDS[request.param]
    monkeypatch.setenv("SHOTFILL_FFMPEG", ffmpeg_bin)
    monkeypatch.setenv("SHOTFILL_FFPROBE", ffprobe_bin)
    tools.reset_cache()
    yield request.param, ffmpeg_bin, ffprobe_bin
    tools.reset_cache()


@pytest.fixture(scope="session")
def all_ffprobes() -> dict[str, str]:
    """label -> ffprobe of every build present, to read one build's file with every other's ffprobe."""
    return {label: pair[1] for label, pair in _BUILDS.items()}


@pytest.fixture
def openai_fake(small_video, monkeypatch, tmp_path, request):
    """The OpenAI-style gateway fake with a shotfill.toml for it (``fake.config``), keyed by the test
    module's own ``KEY`` (so a leak check in that module looks for its own key)."""
    from fakes.openai import GATEWAY_MODEL, FakeOpenAI

    key = request.module.KEY
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with FakeOpenAI(small_video, key=key) as fake:
        cfg = tmp_path / "shotfill.toml"
        cfg.write_text(f'default_provider = "openai"\n[providers.openai]\nbase_url = "{fake.url}"\n'
                       "poll_interval = 0.01\nprice_per_second = 0.1\nconcurrency = 4\n" + GATEWAY_MODEL)
        fake.config = cfg
        yield fake
