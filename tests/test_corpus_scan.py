"""Every file of the real corpus through `shotfill scan`: an answer, never a crash or a hang."""

from __future__ import annotations

import json

import pytest

from shotfill.cli.app import main
from test_timeline_io import CORPUS, MANIFEST, OPTIONAL_ADAPTERS, STOCK_OK, time_limit

pytestmark = pytest.mark.slow          # every file of the corpus


@pytest.mark.skipif(not MANIFEST, reason="../shared/corpus is not beside the checkout")
@pytest.mark.parametrize("row", MANIFEST, ids=[r["file"] for r in MANIFEST])
def test_scan_answers_every_corpus_file(row, capsys):
    path = CORPUS / row["file"]
    args = ["scan", str(path), "--json"]
    if row["format"] == "cmx3600_edl":
        args += ["--rate", row["rate_if_known"] or "24"]
    with time_limit(30):
        code = main(args)
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    name = path.name
    if code == 0:
        rows = json.loads(out)
        assert isinstance(rows, list)
        for r in rows:
            assert {"track", "start", "duration", "rate", "prompt", "options"} <= set(r)
            assert isinstance(r["start"], int) and isinstance(r["duration"], int)
        return
    assert name in err and "Traceback" not in err
    if STOCK_OK.search(row["notes"]) and row["format"] not in OPTIONAL_ADAPTERS:
        pytest.fail(f"stock OTIO reads {name}; scan refused it: {err}")
