"""The report with takes: every take side by side (three frames each) and its `shotfill pick` command."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from mediautil import ffmpeg, make_png, make_test_clip, video_stream
from shotfill.report.summary import ReportEntry, TakeEntry, pick_command
from shotfill.report.write import write_report
from test_report import screenshot

pytestmark = pytest.mark.slow          # real media (ffmpeg) and Chromium

COLOURS = {1: ("red", (255, 0, 0)), 2: ("green", (0, 128, 0)), 3: ("blue", (0, 0, 255))}
#: a folder name a shell would trip on
ODD = "night's cut $(touch x) & more"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("takes_report")
    clips = {k: make_test_clip(d / f"take{k}.mp4", source=name, codec="h264_lossless")
             for k, (name, _) in COLOURS.items()}
    out_dir = d / ODD
    out_dir.mkdir()
    output = out_dir / "cut.otio"
    takes = [TakeEntry(take=k, result="filled", seed=40 + k - 1, request_hash=str(k) * 64, estimated_cost=0.4,
                       media=str(clips[k]), active=k == 1, pick=pick_command(output, "V1_01000200", k))
             for k in (1, 2, 3)]
    entry = ReportEntry(timeline=d / "cut.otio", output=output, placeholder_id="V1_01000200", track="V1",
                        timecode="01:00:02:00", record_frame=86448, start=48, duration=24,
                        rate=Fraction(25), prompt="a fox in snow", provider="local", result="filled",
                        media=clips[1], before_frame=make_png(d / "b.png", 320, 180, "0x2040c0"), takes=takes,
                        estimated_cost=1.2)
    json_path, html_path = write_report([entry], out_dir)
    return {"out": out_dir, "output": output, "json": json.loads(json_path.read_text()), "html": html_path}


def test_report_json_lists_each_take_with_its_frames_and_pick(written):
    [row] = written["json"]["placeholders"]
    assert [t["take"] for t in row["takes"]] == [1, 2, 3] and [t["seed"] for t in row["takes"]] == [40, 41, 42]
    assert [t["active"] for t in row["takes"]] == [True, False, False]
    for t in row["takes"]:
        assert set(t["thumbnails"]) == {"first", "middle", "last"}
        assert all((written["out"] / th["path"]).is_file() for th in t["thumbnails"].values())
        # the command is quoted for a shell: split back, the path is whole
        words = shlex.split(t["pick"])
        assert words[:3] == ["shotfill", "pick", str(written["output"])]
        assert words[3] == f"V1_01000200={t['take']}" and words[4] == "-o"
        assert words[5] == str(written["output"].with_name(f"cut_V1_01000200_take{t['take']}.otio"))


def test_page_shows_the_escaped_pick_commands(written):
    page = written["html"].read_text()
    assert page.count('<code class="pick"') == 3
    assert "$(touch x) &amp; more" in page and "night&#x27;s" in page
    assert "<b>take 2</b> · seed 41" in page


def test_chromium_shows_every_take_side_by_side(written, tmp_path):
    png = screenshot(written["html"], tmp_path / "takes.png", tmp_path / "profile", size=(1400, 700))
    s = video_stream(png)
    w, h = int(s["width"]), int(s["height"])
    raw = ffmpeg("-i", str(png), "-f", "rawvideo", "-pix_fmt", "rgb24", "-").stdout
    pixels = Counter(raw[i:i + 3] for i in range(0, len(raw), 3))

    def painted(rgb: tuple[int, ...], tol: int = 12) -> int:
        return sum(n for px, n in pixels.items() if all(abs(a - b) <= tol for a, b in zip(px, rgb)))

    box = 100 * 55        # a take's frame shows at about 120x67 px
    for k, (name, rgb) in COLOURS.items():
        assert painted(rgb) >= 3 * box, f"take {k} ({name}) is not painted three times"
    # the three takes sit side by side: each colour's pixels share the same rows
    rows = {}
    for k, (_, rgb) in COLOURS.items():
        ys = [i // w for i in range(0, w * h) if k != 1 and all(abs(a - b) <= 12 for a, b in zip(raw[3 * i:3 * i + 3], rgb))]
        if ys:
            rows[k] = (min(ys), max(ys))
    assert rows[2] == rows[3]
