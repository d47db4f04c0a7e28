"""The run report: report.json, report.html and its thumbnails, checked on real media.

The generated clip is a ``counter`` clip (each frame's colour encodes its
number), so the thumbnails prove they are the first, middle and last frames.
The page is rendered by headless Chromium and the screenshot must show them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from mediautil import close, counter_index, ffmpeg, make_png, make_test_clip, mean_rgb, video_stream
from shotfill.report import write as report_mod
from shotfill.model import JobSpec, Outcome
from shotfill.model import GenerationRequest, Neighbour, Placeholder, ShotOptions, TimelineInfo
from shotfill.report.summary import entry_from_outcome
from shotfill.report.write import ReportEntry, write_report

pytestmark = pytest.mark.slow          # every test reads real media (ffmpeg) or runs Chromium

BLUE = (32, 64, 192)     # the frame before the hole
AMBER = (224, 160, 32)   # the frame after it
HOSTILE = 'a "quoted" <script>alert(\'x\')</script> & <img src=x onerror=alert(1)> shot'
HOSTILE_ERROR = 'service said <b>no</b> & "refused" </pre><script>bad()</script>'
SECRET = "sk-test-DO-NOT-LEAK-0123456789"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("report_media")
    return {
        "gen": make_test_clip(d / "gen.mp4", rate="24000/1001", frames=24, source="counter",
                              codec="h264_lossless"),
        "before": make_png(d / "V1_before.png", 320, 180, "0x2040c0"),
        "after": make_png(d / "V1_after.png", 320, 180, "0xe0a020"),
        "before2": make_png(d / "V2_before.png", 320, 180, "0x2040c0"),
    }


def make_entries(media: dict[str, Path], root: Path) -> list[ReportEntry]:
    common = dict(timeline=root / "cut.otio", output=root / "cut_filled.otio", rate=Fraction(24000, 1001))
    return [
        ReportEntry(**common, placeholder_id="V1_01000200", track="V1", timecode="01:00:02:00",
                    record_frame=86448, start=48, duration=24, prompt="aerial drone shot over a foggy coast",
                    provider="runway", model="gen4_turbo", job_id="job-123", estimated_cost=0.25,
                    timings={"plan": 0.4, "generate": 61.2, "conform": 1.3, "total": 62.9}, result="filled",
                    media=media["gen"], before_frame=media["before"], after_frame=media["after"],
                    before_name="shot_a", after_name="shot_b"),
        ReportEntry(**common, placeholder_id="V2_01000400", track="V2", timecode="01:00:04:00",
                    record_frame=86496, start=96, duration=24, prompt=HOSTILE, provider="luma", model="ray-2",
                    job_id="job-<456>", estimated_cost=0.5, timings={"plan": 0.2, "total": 3.0},
                    result="failed", error=HOSTILE_ERROR, before_frame=media["before2"],
                    before_name="shot_b"),
        ReportEntry(**common, placeholder_id="V1_01000512", track="V1", timecode="01:00:05:12",
                    record_frame=86532, start=132, duration=12, prompt="waves on black rocks",
                    provider="local", result="skipped"),
    ]


@pytest.fixture(scope="module")
def written(media, tmp_path_factory):
    out = tmp_path_factory.mktemp("report_out")
    entries = make_entries(media, out)
    json_path, html_path = write_report(entries, out, title='Night <edit> & "grade"')
    return {"out": out, "entries": entries, "json": json_path, "html": html_path,
            "data": json.loads(json_path.read_text(encoding="utf-8")),
            "page": html_path.read_text(encoding="utf-8")}


def test_json_lists_every_placeholder_with_totals(written):
    data, entries = written["data"], written["entries"]
    assert written["json"] == written["out"] / "report.json"
    assert written["html"] == written["out"] / "report.html"
    assert data["totals"] == {"filled": 1, "failed": 1, "skipped": 1, "estimated_cost": 0.75}
    assert dt.datetime.fromisoformat(data["generated_at"]).tzinfo is not None
    rows = data["placeholders"]
    assert [r["placeholder_id"] for r in rows] == ["V1_01000200", "V2_01000400", "V1_01000512"]
    for row, entry in zip(rows, entries):
        row = dict(row)
        thumbs = row.pop("thumbnails")
        assert row == entry.model_dump(mode="json")
        assert set(thumbs) == {"before", "first", "middle", "last", "after"}
    first = rows[0]
    assert first["rate"] == "24000/1001" and first["timeline"].endswith("cut.otio")
    assert first["job_id"] == "job-123" and first["model"] == "gen4_turbo" and first["result"] == "filled"
    assert first["timings"] == {"plan": 0.4, "generate": 61.2, "conform": 1.3, "total": 62.9}
    assert rows[1]["error"] == HOSTILE_ERROR and rows[1]["prompt"] == HOSTILE
    assert rows[2]["error"] is None and rows[2]["media"] is None


def test_thumbnails_are_the_right_real_frames(written):
    out, data = written["out"], written["data"]
    thumbs = data["placeholders"][0]["thumbnails"]
    assert {k: v["frame"] for k, v in thumbs.items()} == {
        "before": None, "first": 0, "middle": 12, "last": 23, "after": None}
    for kind, expect in (("first", 0), ("middle", 12), ("last", 23)):
        path = out / thumbs[kind]["path"]
        s = video_stream(path)
        assert (s["codec_name"], int(s["width"]), int(s["height"])) == ("mjpeg", 320, 180)
        assert counter_index(mean_rgb(path)) == expect, kind
    assert close(mean_rgb(out / thumbs["before"]["path"]), BLUE, tol=4)
    assert close(mean_rgb(out / thumbs["after"]["path"]), AMBER, tol=4)
    failed, skipped = (r["thumbnails"] for r in data["placeholders"][1:])
    assert failed["before"]["path"] and close(mean_rgb(out / failed["before"]["path"]), BLUE, tol=4)
    assert all(failed[k]["path"] is None for k in ("first", "middle", "last", "after"))
    assert all(v["path"] is None for v in skipped.values())


def test_html_escapes_every_text_and_is_self_contained(written):
    page = written["page"]
    assert "<script" not in page.lower() and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "a &quot;quoted&quot;" in page and "&amp; &lt;img src=x" in page
    assert "service said &lt;b&gt;no&lt;/b&gt; &amp; &quot;refused&quot; &lt;/pre&gt;" in page
    assert "<title>Night &lt;edit&gt; &amp; &quot;grade&quot;</title>" in page
    assert "job-&lt;456&gt;" in page
    # no network, no scripts, no web fonts: every src is a relative thumbnail that exists
    assert "http:" not in page and "https:" not in page and "url(" not in page
    assert "@import" not in page and "@font-face" not in page and "<link" not in page
    assert not re.findall(r'\bhref="', page)
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert len(srcs) == 5 + 1  # the filled row's five pictures, the failed row's frame before
    for src in srcs:
        assert src.startswith("report_thumbs/") and (written["out"] / src).is_file()


def test_missing_pictures_are_labelled_boxes_and_outcomes_are_badged(written):
    page = written["page"]
    rows = re.findall(r'<article class="shot (\w+)".*?</article>', page, re.S)
    assert rows == ["filled", "failed", "skipped"]
    failed = re.search(r'<article class="shot failed".*?</article>', page, re.S).group(0)
    skipped = re.search(r'<article class="shot skipped".*?</article>', page, re.S).group(0)
    assert failed.count('class="pic none"') == 4 and "no media after" in failed
    assert failed.count("<span>not generated</span>") == 3 and '<pre class="error">' in failed
    assert skipped.count('class="pic none"') == 5 and skipped.count("<span>skipped</span>") == 3
    assert "no media before" in skipped and '<pre class="error">' not in skipped
    assert '<span class="badge filled">filled</span>' in page
    assert "0.25" in page and "generate 1 min 01 s" in page and "gen4_turbo" in page
    for total in ("<b>1</b>filled", "<b>1</b>failed", "<b>1</b>skipped", "<b>0.75</b>est. cost"):
        assert total in page


def test_writes_are_atomic_and_stale_thumbnails_go(media, tmp_path, monkeypatch):
    entries = make_entries(media, tmp_path)
    write_report(entries, tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert {"report.json", "report.html", "report_thumbs"} <= names
    assert not [n for n in names if ".part" in n or n.startswith(".") or "/." in n]
    assert len(list((tmp_path / "report_thumbs").iterdir())) == 6
    before_html = (tmp_path / "report.html").read_bytes()

    # A failure while writing the page leaves the previous one whole and no temp file behind.
    def boom(*a, **k):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(report_mod, "render_html", boom)
    with pytest.raises(RuntimeError):
        write_report(entries[1:], tmp_path)
    assert (tmp_path / "report.html").read_bytes() == before_html
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]
    monkeypatch.undo()

    # A smaller report in the same folder drops the thumbnails it no longer shows.
    write_report(entries[2:], tmp_path)
    assert list((tmp_path / "report_thumbs").iterdir()) == []
    assert [r["placeholder_id"] for r in json.loads((tmp_path / "report.json").read_text())["placeholders"]] \
        == ["V1_01000512"]


def test_unreadable_media_and_empty_report(tmp_path):
    bad = tmp_path / "broken.mov"
    bad.write_bytes(b"not a movie")
    entry = ReportEntry(timeline="a.edl", placeholder_id="V1_x", track="V1", timecode="00:00:00:00",
                        record_frame=0, start=0, duration=10, rate="25", prompt="p", result="filled",
                        media=bad, before_frame=tmp_path / "gone.png")
    _, html_path = write_report([entry], tmp_path / "one")
    page = html_path.read_text()
    assert page.count(">media unreadable<") == 3 and ">frame missing<" in page and "<img" not in page
    _, html_path = write_report([], tmp_path / "none")
    assert "No placeholders." in html_path.read_text()
    assert json.loads((tmp_path / "none" / "report.json").read_text())["totals"] == {
        "filled": 0, "failed": 0, "skipped": 0, "estimated_cost": None}


def test_a_key_in_the_environment_never_reaches_the_report(media, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    entry = make_entries(media, tmp_path)[2].model_copy(
        update={"result": "failed", "error": f"401 for Authorization: Bearer {SECRET}"})
    json_path, html_path = write_report([entry], tmp_path)
    for text in (json_path.read_text(), html_path.read_text()):
        assert SECRET not in text and "Bearer [redacted]" in text


def test_entry_from_outcome(media):
    rate = Fraction(24000, 1001)
    ph = Placeholder(id="V1_01000200", track="V1", track_index=0, item_path=(0, 1), kind="gap", start=48,
                     duration=36, rate=rate, record_frame=86448, timecode="01:00:02:00", prompt="fog",
                     options=ShotOptions(), marker_name="GEN: fog", marker_on="gap",
                     before=Neighbour(name="shot_a", kind="clip"), after=None)
    req = GenerationRequest(placeholder_id=ph.id, provider="runway", model="gen4_turbo", prompt="fog", seed=1,
                            width=320, height=180, rate=rate, frames=36, timecode=ph.timecode,
                            first_frame=str(media["before"]))
    info = TimelineInfo(path="cut.otio", format="otio_json", name="cut", rate=rate, drop_frame=False,
                        start_frame=86400, width=320, height=180)
    spec = JobSpec(key=ph.id, info=info, placeholder=ph, media_dir=media["gen"].parent)
    ok = Outcome(spec, "filled", media=media["gen"], request=req,
                 provenance={"provider": "runway", "model": "gen4_turbo", "job_id": "task-9"},
                 timings={"total": 2.0}, estimated_cost=0.3)
    e = entry_from_outcome(ok, timeline=Path("cut.otio"), output=Path("out.otio"))
    assert (e.result, e.job_id, e.rate, e.before_frame, e.after_frame, e.before_name, e.after_name) == (
        "filled", "task-9", "24000/1001", str(media["before"]), None, "shot_a", None)
    assert e.request_hash == req.request_hash
    assert (e.media, e.timeline, e.estimated_cost, e.timings) == (str(media["gen"]), "cut.otio", 0.3, {"total": 2.0})
    bad = entry_from_outcome(Outcome(spec, "failed", error="no key"), timeline="cut.otio", output=None)
    assert (bad.result, bad.error, bad.provider, bad.job_id, bad.media) == ("failed", "no key", None, None, None)


# --------------------------------------------------------------------------- headless Chromium

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def screenshot(page: Path, png: Path, profile: Path, size: tuple[int, int] = (1400, 900)) -> Path:
    browser = find_browser()
    if browser is None:
        pytest.skip("no headless browser on PATH (looked for " + ", ".join(BROWSERS)
                    + "); install Debian's `chromium` to run this check")
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png}",
            f"--window-size={size[0]},{size[1]}", page.resolve().as_uri()]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
    assert png.is_file() and png.stat().st_size > 0, f"{browser} wrote no screenshot:\n{proc.stderr[-2000:]}"
    return png


def test_chromium_renders_the_page_with_its_thumbnails(written, tmp_path):
    png = screenshot(written["html"], tmp_path / "report.png", tmp_path / "profile")
    s = video_stream(png)
    w, h = int(s["width"]), int(s["height"])
    assert (w, h) == (1400, 900)
    raw = ffmpeg("-i", str(png), "-f", "rawvideo", "-pix_fmt", "rgb24", "-").stdout
    assert len(raw) == w * h * 3
    pixels = Counter(raw[i:i + 3] for i in range(0, len(raw), 3))
    # Not blank: many colours, and the page background is not everything.
    assert len(pixels) > 500, f"only {len(pixels)} colours: a blank page?"
    assert pixels.most_common(1)[0][1] < 0.8 * w * h

    def painted(rgb: tuple[int, ...], tol: int = 6) -> int:
        return sum(n for px, n in pixels.items() if all(abs(a - b) <= tol for a, b in zip(px, rgb)))

    # Each thumbnail shows at about 176x99 px: its flat colour must cover most of such a box.
    box = 150 * 80
    assert painted(BLUE) >= 2 * box, "the two frames before are not painted"
    assert painted(AMBER) >= box, "the frame after is not painted"
    for n in (0, 12, 23):   # the counter clip's first, middle and last frames
        assert painted((10 + 5 * n, 240 - 5 * n, 128)) >= box, f"generated frame {n} is not painted"
    # The failed row's error box (dark red) and badges are drawn too.
    assert painted((0x2d, 0x1a, 0x18), tol=2) > 2000
