"""The `slow` marker: registered (unknown markers are errors) and held to its meaning by slow_guard."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_slow_is_registered_and_unknown_markers_are_errors(pytestconfig):
    assert "slow" in [line.split(":")[0].strip() for line in pytestconfig.getini("markers")]
    assert "--strict-markers" in pytestconfig.getini("addopts")


@pytest.mark.slow
def test_an_unmarked_test_that_starts_a_process_fails_and_a_marked_one_does_not(pytester):
    pytester.makeconftest("from slow_guard import pytest_runtest_setup, pytest_runtest_teardown  # noqa: F401\n")
    pytester.makeini("[pytest]\nmarkers =\n    slow: starts processes\n")
    pytester.makepyfile("""
        import asyncio, subprocess, sys
        import pytest

        def test_spawns():
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        def test_spawns_through_asyncio():
            async def child():
                proc = await asyncio.create_subprocess_exec("true")
                await proc.wait()
            asyncio.run(child())

        @pytest.mark.slow
        def test_marked():
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        def test_quiet():
            pass
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(["*test_spawns started python* but is not marked slow*",
                                 "*test_spawns_through_asyncio started true but is not marked slow*"])
