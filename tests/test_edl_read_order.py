"""The EDL reader matches clips to events by order; that gives exactly what the tagged way gave, on the corpus."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from conftest import CORPUS
from shotfill.errors import ShotFillError
from shotfill.timeline.edl import read as edl_read

EDLS = sorted(CORPUS.rglob("*.edl")) + sorted(CORPUS.rglob("*.EDL")) if CORPUS.is_dir() else []
RATES = [Fraction(24), Fraction(25), Fraction(30000, 1001)]


def outcome(path: Path, rate: Fraction, by_order: bool):
    try:
        res = edl_read.read_edl(path, path.name, rate, by_order=by_order, otio_reader=True)
    except ShotFillError as exc:
        return ("error", type(exc).__name__, str(exc))
    return (otio.adapters.write_to_string(res.timeline, "otio_json"), res.warnings,
            {k: v for k, v in vars(res).items() if k not in ("timeline", "warnings")})


@pytest.mark.slow
@pytest.mark.skipif(not EDLS, reason="no corpus")
@pytest.mark.parametrize("path", EDLS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_order_matching_equals_tag_matching_on_the_corpus(path):
    for rate in RATES:
        assert outcome(path, rate, True) == outcome(path, rate, False), rate


@pytest.mark.slow
@pytest.mark.skipif(not EDLS, reason="no corpus")
def test_most_corpus_edls_need_no_second_read(monkeypatch):
    """The tagged read is a fallback, not the common way."""
    seconds = []
    real = edl_read._read_text

    def spy(prep, rate, shown, warnings, *, by_order):
        if not by_order:
            seconds.append(shown)
        return real(prep, rate, shown, warnings, by_order=by_order)

    monkeypatch.setattr(edl_read, "_read_text", spy)
    read = 0
    for path in EDLS:
        try:
            edl_read.read_edl(path, str(path), Fraction(24), otio_reader=True)
            read += 1
        except ShotFillError:
            pass
    assert read >= 10 and len(seconds) <= read // 5, seconds


def test_reader_text_has_no_tags_and_the_tagged_one_has_one_per_event():
    from shotfill.timeline.edl import text as edl_text

    edl = ("TITLE: T\nFCM: NON-DROP FRAME\n\n"
           "001  AX       V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n"
           "* FROM CLIP NAME: a.mov\n"
           "002  AX       B     C        00:00:00:00 00:00:01:00 01:00:01:00 01:00:02:00\n")
    prep = edl_text.prepare_edl(edl, Fraction(24))
    assert edl_text.EVENT_TAG not in prep.reader_text
    assert prep.tagged_reader_text.count(edl_text.EVENT_TAG) == 2
