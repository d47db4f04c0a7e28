"""`shotfill resolve install|uninstall`: where the launchers go, what is baked in, what is removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import shotfill
from resolve_cases import FAKE_DIR, load_launcher
from shotfill.cli.app import main
from shotfill.resolve import install


@pytest.mark.parametrize("platform,system,env,expected", [
    ("darwin", False, {}, "/Users/ed/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Edit"),
    ("darwin", True, {}, "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Edit"),
    ("win32", False, {"APPDATA": r"C:\Users\ed\AppData\Roaming"},
     r"C:\Users\ed\AppData\Roaming\Blackmagic Design\DaVinci Resolve\Support\Fusion\Scripts\Edit"),
    ("win32", True, {"PROGRAMDATA": r"C:\ProgramData"},
     r"C:\ProgramData\Blackmagic Design\DaVinci Resolve\Fusion\Scripts\Edit"),
    ("linux", False, {}, "/Users/ed/.local/share/DaVinciResolve/Fusion/Scripts/Edit"),
    ("linux", True, {}, "/opt/resolve/Fusion/Scripts/Edit"),
])
def test_scripts_dir_per_os(platform, system, env, expected):
    assert install.scripts_dir(system=system, platform=platform, environ=env, home="/Users/ed",
                               exists=lambda p: p == "/opt/resolve") == expected


def test_linux_system_wide_falls_back_to_home_resolve():
    assert install.scripts_dir(system=True, platform="linux", environ={}, home="/h",
                               exists=lambda p: p == "/home/resolve") == "/home/resolve/Fusion/Scripts/Edit"


def test_install_writes_working_launchers_with_this_installation_baked_in(tmp_path, capsys):
    dest = tmp_path / "Edit"
    assert main(["resolve", "install", "--dest", str(dest)]) == 0
    py, lua = dest / "ShotFill.py", dest / "ShotFill Lua.lua"
    assert sorted(p.name for p in dest.iterdir()) == ["ShotFill Lua.lua", "ShotFill.py"]
    assert f"wrote {py}" in capsys.readouterr().out
    module = load_launcher(py)
    assert module.SHOTFILL_PYTHON == sys.executable
    assert str(Path(shotfill.__file__).resolve().parent.parent) in module.SHOTFILL_PATHS
    assert f'local SHOTFILL_PYTHON = "{sys.executable}"' in lua.read_text()
    # the baked interpreter runs the engine the launcher names
    argv = module.engine_argv("scan", "x", "y")
    assert argv[:5] == [sys.executable, "-m", "shotfill", "resolve", "scan"]
    # installing again replaces our own files
    assert main(["resolve", "install", "--dest", str(dest), "--launcher", "python"]) == 0

    foreign = dest / "Other Script.py"
    foreign.write_text("print('not ours')\n")
    assert main(["resolve", "uninstall", "--dest", str(dest)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == ["Other Script.py"]
    assert main(["resolve", "uninstall", "--dest", str(dest)]) == 0
    assert "nothing removed" in capsys.readouterr().out


def test_install_never_overwrites_a_file_it_did_not_write(tmp_path):
    (tmp_path / "ShotFill.py").write_text("# someone else's ShotFill\n")
    assert main(["resolve", "install", "--dest", str(tmp_path)]) == 2
    assert (tmp_path / "ShotFill.py").read_text() == "# someone else's ShotFill\n"
    assert main(["resolve", "uninstall", "--dest", str(tmp_path)]) == 0
    assert (tmp_path / "ShotFill.py").exists()


@pytest.mark.slow
def test_installed_launcher_runs_as_an_external_script(tmp_path):
    """`python ShotFill.py` with DaVinciResolveScript importable: no Resolve running -> a message, exit 2."""
    (py,) = install.install(dest=tmp_path, launcher="python")
    env = dict(os.environ, PYTHONPATH=str(FAKE_DIR))
    proc = subprocess.run([sys.executable, str(py)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert "cannot reach DaVinci Resolve" in proc.stdout


@pytest.mark.slow
def test_python_m_shotfill_resolve_is_the_same_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "shotfill.resolve", "install", "--dest", str(tmp_path),
                           "--launcher", "lua"], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ShotFill Lua.lua").exists()
