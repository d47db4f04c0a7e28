"""The layering written in pyproject.toml holds, and no import cycle creeps in.

``lint-imports`` checks the forbidden imports (a provider importing a stage,
media importing a provider, the core importing the CLI or rich, the OTIO plugin
importing shotfill).  Cycles are found here, module by module, with the same
import graph (grimp's), so a cycle between two modules of one package counts
too.  The Resolve launchers run inside Resolve's own Python: they may import the
standard library and DaVinciResolveScript, nothing else.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "plugin" / "shotfill" / "resolve" / "scripts" / "ShotFill.py"


def import_cycles(*packages: str) -> list[list[str]]:
    """Every set of modules that import each other in a ring (strongly connected, more than one module)."""
    graph = grimp.build_graph(*packages)
    modules = sorted(graph.modules)
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in graph.modules)
             for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:   # Tarjan's algorithm; the graph is small, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            ring = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                ring.append(w)
                if w == v:
                    break
            if len(ring) > 1:
                found.append(sorted(ring))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def test_shotfill_has_no_import_cycle():
    assert import_cycles("shotfill", "shotfill_otio") == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "ringpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from ringpkg import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ringpkg import a\n")
    (pkg / "c.py").write_text("import ringpkg.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # A type-only import closes a ring too: the modules still depend on each other.
    assert import_cycles("ringpkg") == [["ringpkg.a", "ringpkg.b"]]


@pytest.mark.slow
def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout and "6 kept" in proc.stdout, proc.stdout


@pytest.mark.slow
def test_a_broken_contract_is_reported(tmp_path):
    """The contracts are live: a provider importing the pipeline breaks one (checked on a copy of the config)."""
    config = (ROOT / "pyproject.toml").read_text()
    extra = textwrap.dedent("""
        [[tool.importlinter.contracts]]
        name = "planted: the pipeline may not import the journal"
        type = "forbidden"
        source_modules = ["shotfill.pipeline"]
        forbidden_modules = ["shotfill.jobs.journal"]
        """)
    planted = tmp_path / "pyproject.toml"
    planted.write_text(config + extra)
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache", str(planted)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0 and "BROKEN" in proc.stdout, proc.stdout


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_python_launcher_imports_only_the_standard_library_and_resolve():
    allowed = set(sys.stdlib_module_names) | {"DaVinciResolveScript", "__future__"}
    assert _imports(LAUNCHER) - allowed == set()


def test_the_launcher_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import json\ndef f():\n    from shotfill.pipeline import fill\n")
    assert _imports(bad) - set(sys.stdlib_module_names) == {"shotfill"}


def test_the_lua_launcher_requires_nothing():
    lua = LAUNCHER.with_suffix(".lua").read_text(encoding="utf-8")
    # Resolve's Lua has no package path of ours: a require() would fail on the editor's machine.
    assert "require(" not in lua and "require " not in lua
