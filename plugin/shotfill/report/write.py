"""The run report written beside the outputs: ``report.json`` and ``report.html``.

``report.json`` lists every placeholder of the run (timeline, track, timecode, colour match,
prompt, provider, model, job id, estimated cost, timings, result or error).
``report.html`` is a contact sheet an editor opens in any browser: one row per
placeholder with the last frame before the hole, the first, middle and last
frames of the generated clip and the first frame after it, with the prompt
and the outcome.  The thumbnails are real frames taken with ffmpeg and kept in
``report_thumbs/`` next to the page, which links them by relative path, so
the folder can be moved or zipped as a whole.  The page has no scripts, no
web fonts and nothing fetched from the network; every text in it is escaped.

The report only ever sees the fields of :class:`ReportEntry`; as a second
guard, any value of a provider key variable found in the environment is
blanked out of them before anything is written.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Sequence
from urllib.parse import quote

from shotfill import __version__
from shotfill.errors import ShotFillError
from shotfill.config import register_environment_secrets
from shotfill.system.files import atomic_path, make_dirs, write_text
from shotfill.media.probe import probe
from shotfill.media.thumbs import CLIP_KINDS, clip_stills, thumbnail
from shotfill.model import ClipStills
from shotfill.system.secrets import scrub
from shotfill.report.summary import ReportEntry, SegmentsEntry, totals

JSON_NAME = "report.json"
HTML_NAME = "report.html"
THUMBS_DIR = "report_thumbs"
#: thumbnail width in pixels; the page shows them at about 180 px, so they stay sharp on HiDPI screens
THUMB_WIDTH = 320

#: the five pictures of a row, left to right
KINDS = ("before", "first", "middle", "last", "after")
_STAGE_ORDER = ("plan", "generate", "conform", "total")
_THUMB_RE = re.compile(r"^\d{3,}_[A-Za-z0-9_-]*_(?:before|first|middle|last|after)\.jpg$")


# --------------------------------------------------------------------------- thumbnails


@dataclass
class Thumb:
    kind: str                       # before / first / middle / last / after
    caption: str
    path: Optional[str] = None      # relative to the report folder, "report_thumbs/..."
    frame: Optional[int] = None     # frame index in the generated clip (first/middle/last)
    missing: str = ""               # what the empty box says when there is no picture
    why: str = ""                   # the error behind a picture that could not be made


@dataclass
class Sheet:
    thumbs: list[Thumb]
    aspect: tuple[int, int] = (16, 9)
    gen_frames: Optional[int] = None
    warnings: list[str] = field(default_factory=list)
    #: with several takes: each take's first, middle and last frames, in take order
    takes: list[list[Thumb]] = field(default_factory=list)


def _safe(text: str, limit: int = 48) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:limit] or "shot"


def _probe_size(path: Path) -> Optional[tuple[int, int]]:
    try:
        info = probe(path, exact=False)   # only its size
    except ShotFillError:
        return None
    return info.width, info.height


def _sheet(index: int, entry: ReportEntry, thumbs_dir: Path) -> Sheet:
    """Make the five thumbnails of one row (each one that can be made)."""
    stem = f"{index:03d}_{_safe(entry.placeholder_id)}"
    sheet = Sheet(thumbs=[])

    def still(kind: str, src: Optional[str], caption: str, missing: str) -> Thumb:
        t = Thumb(kind, caption, missing=missing)
        if not src:
            return t
        if not Path(src).is_file():
            t.missing, t.why = "frame missing", f"{src} does not exist"
            return t
        dst = thumbs_dir / f"{stem}_{kind}.jpg"
        try:
            thumbnail(src, dst, width=THUMB_WIDTH)
            t.path = f"{THUMBS_DIR}/{dst.name}"
        except ShotFillError as exc:
            t.missing, t.why = "no thumbnail", str(exc)
        return t

    before = still("before", entry.before_frame, _caption("before", entry.before_name), "no media before")
    after = still("after", entry.after_frame, _caption("after", entry.after_name), "no media after")

    # With handles the file runs on either side of the hole, and a neighbour's own file (source=handles)
    # around it: the thumbnails show the frames the timeline shows.
    hole = ((entry.source_in, entry.duration) if entry.source_in is not None
            else (entry.handles_made, entry.duration) if entry.handles_made else None)
    gen = _generated_thumbs(sheet, entry.media, entry.result, stem, thumbs_dir, entry.stills, hole)
    # Every take side by side; the active one again, so the row and its takes read alike.
    sheet.takes = [_generated_thumbs(sheet, t.media, t.result, f"{stem}-t{t.take}", thumbs_dir, t.stills, hole)
                   for t in entry.takes]
    if sheet.gen_frames is None:
        size = next((s for s in (_probe_size(Path(p)) for p in (entry.before_frame, entry.after_frame)
                                 if p and Path(p).is_file()) if s), None)
        if size:
            sheet.aspect = size
    sheet.thumbs = [before, *gen, after]
    return sheet


def _generated_thumbs(sheet: Sheet, media_path: Optional[str], result: str, stem: str, thumbs_dir: Path,
                      made: Optional[ClipStills], hole: Optional[tuple[int, int]] = None) -> list[Thumb]:
    """The first, middle and last frames of a generated clip (labelled boxes where there are none).

    ``made``: the stills its media work made (on a Dask worker, maybe): copied, not made again.
    ``hole``: (first frame, length) of the part of the file the timeline shows, when it has handles.
    """
    gen_missing = {"filled": "no media", "failed": "not generated", "skipped": "skipped"}[result]
    gen = [Thumb(kind, kind, missing=gen_missing) for kind in CLIP_KINDS]
    if not media_path:
        return gen
    if made is None or not all(s.path is None or s.path.is_file() for s in made.stills):
        try:
            made = clip_stills(Path(media_path), thumbs_dir, stem, width=THUMB_WIDTH, hole=hole)
        except ShotFillError as exc:
            for t in gen:
                t.missing, t.why = "media unreadable", str(exc)
            return gen
    if sheet.gen_frames is None:
        sheet.gen_frames = made.frames
        sheet.aspect = _display_aspect(made.width, made.height, made.sample_aspect_ratio)
    for t, still in zip(gen, made.stills):
        t.frame, t.caption = still.frame, f"{t.kind} · frame {still.frame}"
        if still.path is None:
            t.missing, t.why = "no thumbnail", still.error
            continue
        dst = thumbs_dir / f"{stem}_{t.kind}.jpg"
        try:
            if still.path != dst:
                _copy(still.path, dst)
            t.path = f"{THUMBS_DIR}/{dst.name}"
        except ShotFillError as exc:
            t.missing, t.why = "no thumbnail", str(exc)
    return gen


def _copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _display_aspect(width: int, height: int, sar: Optional[str]) -> tuple[int, int]:
    try:
        num, den = (int(x) for x in (sar or "1:1").split(":"))
        if num > 0 and den > 0:
            return width * num, height * den
    except ValueError:
        pass
    return width, height


def _caption(side: str, name: Optional[str]) -> str:
    return f"{side} · {name}" if name else side


def _make_sheets(entries: Sequence[ReportEntry], thumbs_dir: Path) -> list[Sheet]:
    make_dirs(thumbs_dir)
    workers = max(1, min(4, os.cpu_count() or 2, len(entries)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_sheet, i, e, thumbs_dir) for i, e in enumerate(entries, 1)]
        return [f.result() for f in futures]


def _remove_stale_thumbs(thumbs_dir: Path, keep: set[str]) -> None:
    """Drop thumbnails an earlier report in this folder made and this one does not use."""
    for p in thumbs_dir.iterdir():
        if _THUMB_RE.match(p.name) and p.name not in keep:
            try:
                p.unlink()
            except OSError:
                pass


# --------------------------------------------------------------------------- secrets


def _redact(entry: ReportEntry) -> ReportEntry:
    """Every configured secret (keys from the environment and config files, URL credentials) taken out."""
    register_environment_secrets()
    update: dict[str, Any] = {}
    for name, value in entry:
        if isinstance(value, str) and (clean := scrub(value)) != value:
            update[name] = clean
        elif isinstance(value, list) and (items := [scrub(v) if isinstance(v, str) else v for v in value]) != value:
            update[name] = items
        if name == "takes" and value:
            update[name] = [t.model_copy(update={k: scrub(v) for k in ("error", "pick")
                                                 if isinstance(v := getattr(t, k), str)}) for t in value]
    return entry.model_copy(update=update) if update else entry


# --------------------------------------------------------------------------- writing


def _write_report_text(path: Path, text: str) -> None:
    write_text(path, text, newline="\n")


def write_report(
    entries: list[ReportEntry], out_dir: Path, *, title: str = "ShotFill report"
) -> tuple[Path, Path]:
    """Write ``out_dir/report.json``, ``out_dir/report.html`` and their thumbnails; return both paths.

    A thumbnail that cannot be made (no neighbour media, a failed
    placeholder, an unreadable file) becomes a labelled empty box in the
    page; it never stops the report.  Both files are written atomically.
    """
    out_dir = Path(out_dir)
    make_dirs(out_dir)
    entries = [_redact(e) for e in entries]
    thumbs_dir = out_dir / THUMBS_DIR
    sheets = _make_sheets(entries, thumbs_dir)
    generated_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    sums = totals(entries)

    rows = []
    for e, sheet in zip(entries, sheets):
        row = e.model_dump(mode="json")
        row["thumbnails"] = {t.kind: {"path": t.path, "frame": t.frame} for t in sheet.thumbs}
        for take, thumbs in zip(row["takes"], sheet.takes):
            take["thumbnails"] = {t.kind: {"path": t.path, "frame": t.frame} for t in thumbs}
        rows.append(row)
    data = {"title": title, "generated_at": generated_at, "shotfill_version": __version__,
            "totals": sums, "placeholders": rows}

    json_path, html_path = out_dir / JSON_NAME, out_dir / HTML_NAME
    _write_report_text(json_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    _write_report_text(html_path, render_html(entries, sheets, title=title, generated_at=generated_at,
                                              sums=sums))
    _remove_stale_thumbs(thumbs_dir, {Path(t.path).name for s in sheets for t in [*s.thumbs, *sum(s.takes, [])]
                                      if t.path})
    return json_path, html_path


# --------------------------------------------------------------------------- HTML

_CSS = """
:root { color-scheme: dark; }
* { box-sizing: border-box; }
body { margin: 0; background: #161719; color: #d5d6d8;
  font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.mono, .tc, .pid, dd.mono { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
header.top { padding: 18px 24px 14px; background: #1d1e21; border-bottom: 1px solid #2c2e32; }
header.top h1 { margin: 0 0 4px; font-size: 18px; font-weight: 600; color: #eceef0; }
header.top .sub { color: #8b8f96; font-size: 12px; }
.totals { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 12px; }
.chip { padding: 4px 10px; border-radius: 4px; background: #26282c; border: 1px solid #33363b; font-size: 12px; }
.chip b { font-size: 14px; margin-right: 4px; color: #eceef0; }
.chip.filled b { color: #7fd08a; } .chip.failed b { color: #f08a80; } .chip.skipped b { color: #a7abb1; }
.timelines { margin: 10px 0 0; padding: 0; list-style: none; color: #8b8f96; font-size: 12px; }
main { padding: 14px 24px 32px; display: flex; flex-direction: column; gap: 12px; }
article.shot { background: #1f2023; border: 1px solid #2c2e32; border-left: 4px solid #5f6368; border-radius: 4px; }
article.shot.filled { border-left-color: #3f9a4d; }
article.shot.failed { border-left-color: #c8473c; }
.shot-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 14px; padding: 8px 12px;
  border-bottom: 1px solid #2a2c30; }
.pid { font-weight: 600; color: #eceef0; }
.tc { color: #e3c27a; }
.head-item { color: #a3a7ad; }
.file { color: #8b8f96; margin-left: auto; font-size: 12px; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 3px; font-size: 11px; font-weight: 700;
  letter-spacing: .06em; text-transform: uppercase; }
.badge.filled { background: #24502b; color: #a6e3ae; }
.badge.failed { background: #6b231d; color: #ffc1ba; }
.badge.skipped { background: #3b3e43; color: #c3c6ca; }
.body { display: flex; flex-wrap: wrap; gap: 12px; padding: 10px 12px 12px; }
.strip { display: flex; align-items: flex-start; gap: 6px; flex: 0 0 auto; }
.gen { display: flex; gap: 4px; padding: 4px; border-radius: 4px; background: #2a2621;
  border: 1px solid #4a3f2c; }
figure { margin: 0; width: 176px; }
.gen figure { width: 172px; }
.pic { width: 100%; aspect-ratio: var(--ar, 16 / 9); background: #000; border-radius: 2px; overflow: hidden;
  display: flex; align-items: center; justify-content: center; }
.pic img { width: 100%; height: 100%; object-fit: contain; display: block; }
.pic.none { background: repeating-linear-gradient(135deg, #1a1b1d 0 8px, #1e1f22 8px 16px);
  border: 1px dashed #43464b; color: #7c8087; font-size: 11px; text-align: center; padding: 6px; }
figcaption { margin-top: 3px; color: #8b8f96; font-size: 11px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.gen figcaption { color: #b9a57f; }
.meta { flex: 1 1 300px; min-width: 280px; }
.prompt { margin: 0 0 8px; color: #eceef0; font-size: 14px; overflow-wrap: anywhere; }
.prompt::before { content: "\\201C"; color: #6d7178; } .prompt::after { content: "\\201D"; color: #6d7178; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; font-size: 12px; }
dt { color: #7c8087; } dd { margin: 0; overflow-wrap: anywhere; }
.error { margin: 8px 0 0; padding: 6px 8px; background: #2d1a18; border: 1px solid #5a2a25; border-radius: 3px;
  color: #ffb4ab; font: 12px/1.4 ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  white-space: pre-wrap; overflow-wrap: anywhere; max-height: 12em; overflow: auto; }
.takes { display: flex; flex-wrap: wrap; gap: 10px; padding: 0 12px 12px; }
.take { padding: 6px; border-radius: 4px; background: #232427; border: 1px solid #34363b; }
.take.active { border-color: #3f9a4d; }
.take .gen figure { width: 120px; }
.take-head { margin: 0 0 4px; color: #c3c6ca; font-size: 12px; }
.take-head b { color: #eceef0; }
.take.active .take-head b { color: #a6e3ae; }
.take-segments { margin: 4px 0 0; max-width: 380px; color: #8b8f96; font-size: 11px; overflow-wrap: anywhere; }
code.pick { display: block; margin-top: 6px; max-width: 380px; padding: 4px 6px; background: #121315;
  border: 1px solid #34363b; border-radius: 3px; color: #d5d6d8; font: 11px/1.4 ui-monospace, "SF Mono", Menlo,
  Consolas, "DejaVu Sans Mono", monospace; white-space: pre-wrap; overflow-wrap: anywhere; user-select: all; }
.empty { color: #8b8f96; padding: 24px; text-align: center; }
footer { color: #5f636a; font-size: 11px; padding: 0 24px 24px; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(x: float, places: int = 3) -> str:
    return f"{x:.{places}f}".rstrip("0").rstrip(".")


def _seconds(s: float) -> str:
    if s < 1:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    return f"{m} min {sec:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _cost(c: Optional[float]) -> str:
    if c is None:
        return "unknown"
    return f"{c:.2f}" if c == 0 or abs(c) >= 0.01 else f"{c:.4f}"


def _rate_fraction(rate: str) -> Optional[Fraction]:
    try:
        r = Fraction(rate)
    except (ValueError, ZeroDivisionError):
        return None
    return r if r > 0 else None


def _timings(t: dict[str, float]) -> str:
    keys = [k for k in _STAGE_ORDER if k in t] + sorted(k for k in t if k not in _STAGE_ORDER)
    return " · ".join(f"{k} {_seconds(t[k])}" for k in keys) or "—"


def _colour(e: ReportEntry) -> str:
    """The match and its CIEDE2000 distance to the neighbours, before and after."""
    b, a = e.colour_distance_before, e.colour_distance_after
    if b is None:
        return e.match or ""
    if a is None or a == b:
        return f"{e.match}: ΔE00 {b:.1f} to the neighbours"
    return f"{e.match}: ΔE00 {b:.1f} → {a:.1f} to the neighbours"


def _figure(t: Thumb, alt: str) -> str:
    if t.path:
        pic = (f'<div class="pic"><img src="{_e(quote(t.path))}" alt="{_e(alt)}" '
               f'width="{THUMB_WIDTH}" loading="eager"></div>')
    else:
        title = f' title="{_e(t.why)}"' if t.why else ""
        pic = f'<div class="pic none"{title}><span>{_e(t.missing)}</span></div>'
    return f'<figure>{pic}<figcaption title="{_e(t.caption)}">{_e(t.caption)}</figcaption></figure>'


def _row(index: int, e: ReportEntry, sheet: Sheet) -> str:
    rate = _rate_fraction(e.rate)
    dur = f"{e.duration} fr"
    if rate:
        dur += f" · {_num(float(e.duration / rate), 2)} s @ {_num(float(rate))} fps"
    before, first, middle, last, after = sheet.thumbs
    gen = "".join(_figure(t, f"{e.placeholder_id} generated, {t.caption}") for t in (first, middle, last))
    out_name = Path(e.output).name if e.output else "—"
    provider = e.source_note or " / ".join(x for x in (e.provider, e.model) if x) or "—"
    meta = [
        ("provider / model", _e(provider), ""),
        ("job id", _e(e.job_id or "—"), "mono"),
        ("est. cost", _e(_cost(e.estimated_cost)), ""),
        ("timings", _e(_timings(e.timings)), ""),
        ("record", _e(f"frame {e.record_frame} · track start +{e.start}"), "mono"),
        ("media", _e(Path(e.media).name if e.media else "—"), "mono"),
    ]
    if e.match:
        meta.append(("colour match", _e(_colour(e)), ""))
    if e.segments:
        meta.append(("segments", _e(_segments_text(e.segments)), "mono"))
    if e.handles:
        made = e.handles_made or 0
        meta.append(("handles", _e(f"{made} frames each side" + (f" (asked {e.handles})" if made != e.handles
                                                                  else "")), ""))
    dl = "".join(f'<dt>{k}</dt><dd class="{c}"' + (f' title="{_e(e.media)}"' if k == "media" and e.media else "")
                 + f">{v}</dd>" for k, v, c in meta)
    err = f'<pre class="error">{_e(e.error)}</pre>' if e.error else ""
    err += "".join(f'<pre class="error">warning: {_e(w)}</pre>' for w in e.warnings)
    ar = f"{sheet.aspect[0]} / {sheet.aspect[1]}"
    takes = _takes_html(e, sheet)
    return f"""
<article class="shot {e.result}" id="{_e(f'ph{index}-' + e.placeholder_id)}" style="--ar: {_e(ar)}">
  <div class="shot-head">
    <span class="badge {e.result}">{_e(e.result)}</span>
    <span class="pid">{_e(e.placeholder_id)}</span>
    <span class="tc">{_e(e.timecode)}</span>
    <span class="head-item">track {_e(e.track)}</span>
    <span class="head-item">{_e(dur)}</span>
    <span class="file" title="{_e(e.timeline)} → {_e(e.output or '')}">{_e(Path(e.timeline).name)} → {_e(out_name)}</span>
  </div>
  <div class="body">
    <div class="strip">
      {_figure(before, f"{e.placeholder_id} {before.caption}")}
      <div class="gen">{gen}</div>
      {_figure(after, f"{e.placeholder_id} {after.caption}")}
    </div>
    <div class="meta">
      <p class="prompt">{_e(e.prompt)}</p>
      <dl>{dl}</dl>
      {err}
    </div>
  </div>{takes}
</article>"""


def _segments_text(segs: SegmentsEntry) -> str:
    return f"{segs.count}: " + ", ".join(f"{g.frames} fr {g.status}" + (f" ({g.job_id})" if g.job_id else "")
                                         for g in segs.segments)


def _takes_html(e: ReportEntry, sheet: Sheet) -> str:
    """Every take side by side, three frames each, with the command that makes it the active one."""
    if not e.takes:
        return ""
    blocks = []
    for take, thumbs in zip(e.takes, sheet.takes):
        figs = "".join(_figure(t, f"{e.placeholder_id} take {take.take}, {t.caption}") for t in thumbs)
        state = "active" if take.active else take.result if take.result != "filled" else ""
        head = (f"<b>take {take.take}</b>" + (f" · seed {take.seed}" if take.seed is not None else "")
                + (f" · {_e(state)}" if state else "") + f" · est. {_e(_cost(take.estimated_cost))}")
        cmd = (f'<code class="pick" title="copy to make this take the active one">{_e(take.pick)}</code>'
               if take.pick else (f'<pre class="error">{_e(take.error)}</pre>' if take.error else ""))
        if take.segments:   # each take makes its own segments
            cmd += f'<p class="take-segments mono">segments {_e(_segments_text(take.segments))}</p>'
        blocks.append(f'<div class="take{" active" if take.active else ""}"><p class="take-head">{head}</p>'
                      f'<div class="gen">{figs}</div>{cmd}</div>')
    return f'\n  <div class="takes">{"".join(blocks)}</div>'



def render_html(entries: Sequence[ReportEntry], sheets: Sequence[Sheet], *, title: str, generated_at: str,
                sums: dict[str, Any]) -> str:
    """The contact sheet page (self-contained but for the thumbnails it links)."""
    n = len(entries)
    chips = [f'<span class="chip"><b>{n}</b>placeholder{"s" if n != 1 else ""}</span>']
    chips += [f'<span class="chip {k}"><b>{sums[k]}</b>{k}</span>' for k in ("filled", "failed", "skipped")]
    chips.append(f'<span class="chip"><b>{_e(_cost(sums["estimated_cost"]))}</b>est. cost</span>')
    pairs = list(dict.fromkeys((e.timeline, e.output or "") for e in entries))
    timelines = "".join(f'<li class="mono">{_e(t)}{" → " + _e(o) if o else ""}</li>' for t, o in pairs)
    rows = "".join(_row(i, e, s) for i, (e, s) in enumerate(zip(entries, sheets), 1)) or '<p class="empty">No placeholders.</p>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<meta name="generator" content="ShotFill {_e(__version__)}">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header class="top">
  <h1>{_e(title)}</h1>
  <div class="sub">generated {_e(generated_at)} · ShotFill {_e(__version__)} ·
    before · first / middle / last generated frame · after</div>
  <div class="totals">{"".join(chips)}</div>
  <ul class="timelines">{timelines}</ul>
</header>
<main>{rows}
</main>
<footer>Thumbnails are frames taken from the media with ffmpeg; they live in {_e(THUMBS_DIR)}/ beside this page.</footer>
</body>
</html>
"""
