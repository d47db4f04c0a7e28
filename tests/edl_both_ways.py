"""Every EDL any test reads through the builder is read with OTIO's cmx_3600 reader too; they must agree.

tests/conftest.py turns this on for the whole suite, so every EDL a test
writes (overlaps, drop frame, LOC lines, broken lines ...) is also an
equivalence case for :mod:`shotfill.timeline.edl.build`, beside the files and
cases of tests/test_edl_build.py.  A disagreement fails the test that read
the EDL, after it ran (an error inside the read would be taken for the
file's own).
"""

from __future__ import annotations

import opentimelineio as otio
import pytest


def check_both_ways(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wrap the builder; returns the list the disagreements are added to."""
    from shotfill.timeline.edl import read as edl_read

    real = edl_read._build
    found: list[str] = []

    def both(prep, rate, shown, warnings):
        before = list(warnings)
        built = real(prep, rate, shown, warnings)
        if built is None:   # the reader reads this one anyway
            return None
        theirs = list(before)
        try:
            tl = edl_read._read_with_otio(prep, rate, shown, theirs, by_order=True)
        except Exception as exc:  # noqa: BLE001 - the reader refused what the builder built
            found.append(f"{shown} at {rate}: the builder read it, OTIO's reader refused it: {exc}")
            return built
        if theirs != warnings:
            found.append(f"{shown} at {rate}: warnings differ: {warnings} != {theirs}")
        if otio.adapters.write_to_string(built, "otio_json") != otio.adapters.write_to_string(tl, "otio_json"):
            found.append(f"{shown} at {rate}: the timelines differ")
        return built

    monkeypatch.setattr(edl_read, "_build", both)
    return found
