"""The offline generator's pictures: a bridge between the neighbour shots, or a slate.

No network and no model weights: ffmpeg draws everything, so ``make demo``
and the tests fill a timeline on any machine.  Output is written directly in
the target codec, size, rate, frame count and timecode (with the same encoder
options as :mod:`shotfill.media.conform`), so conforming it afterwards finds
it already matching and only copies it.

Bridge method, chosen by measurement (48 frames, ffmpeg 6.0 static, 2 cores,
two unrelated stills in; ms per output frame, filter only / with ProRes HQ):

==========================================  ===============  ================
method                                      320x180          1920x1080
==========================================  ===============  ================
cross-dissolve, ``xfade=fade``              0.9 / 3.0        17 / 39
motion interpolation, ``minterpolate`` mci  17 / 19          774 / 770
per-pixel ``blend`` expression              --               164 (filter)
==========================================  ===============  ================

What a whole bridge costs against a bare encode of its frames is measured by
``bench/offline_fill.py`` (figures in the README).

The label and prompt are drawn once on each still; the held frames are
clones of one picture already in the encoder's pixel format (they cost the
encode and the running timecode), and only the dissolve's frames are mixed in
4:4:4 and converted one by one (``concat`` of hold, dissolve, hold).

``minterpolate`` is 20-45x slower and, between two unrelated shots, smears
blocks of one picture across the other (it finds no real motion to follow);
the dissolve is clean.  So the bridge holds the last frame before, dissolves
for one second in the middle, and holds the first frame after; a bridge of
under about 1.5 s dissolves over all but ~15% at each end instead.  At 1080p
a dissolve's frame costs about twice a held one (11 ms of mixing and
converting, and a mix of two pictures encodes like the busier of them), so
the one-second dissolve keeps a 120-frame bridge near the bare encode of its
frames (``bench/offline_fill.py``), where dissolving 70% of it cost half as
much again.

User text (prompt, shot label) never enters the filter graph: it is written
to a file read by ``drawtext textfile=`` with ``expansion=none``, so quotes,
colons, ``%{pts}`` or ``;[]=,`` in a prompt are shown as typed.  File paths
in the graph are escaped by ffmpeg-python for both parsing levels.
"""

from __future__ import annotations

import os
import random
import tempfile
import textwrap
import unicodedata
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from shotfill.system.files import atomic_path
from shotfill.errors import ConformError, UsageError
from shotfill.media import tools
from shotfill.media.conform import CODECS, encode_kwargs, fit_filters, problems, tag_bt709
from shotfill.media.probe import probe
from shotfill.model import ConformTarget
from shotfill.rates import frames_to_timecode, rate_str

#: The dissolve's length: one second, editing software's default transition (Resolve's, Premiere's).
#: Its frames are the bridge's dearest (each one mixed, converted, and harder to encode than
#: either picture), so a longer bridge holds longer instead of dissolving longer.
DISSOLVE_SECONDS = Fraction(1)
#: Least share of the bridge spent holding each neighbour frame, so a short bridge still shows both.
HOLD = Fraction(15, 100)
#: Frames are composed in 4:4:4 10-bit (xfade's formats) and subsampled once at the end.
WORK_PIX_FMT = "yuv444p10le"
#: Burn-ins sit on opaque boxes, as a burn-in window does: flat black encodes for almost nothing,
#: where a see-through box kept the picture's detail behind the text's edges (ProRes spends its
#: bits, and time, on both).
BOX = "black"


def render_bridge(
    before_png: str | os.PathLike[str], after_png: str | os.PathLike[str], target: ConformTarget,
    *, prompt: str, shot_label: str, seed: int, out: str | os.PathLike[str], threads: int | None = None,
    take: int = 1,
) -> Path:
    """A clip that dissolves from the last frame before the gap to the first frame after it."""
    out = _check_out(out, target)
    n, rate = target.frames, target.rate
    dissolve = min(n - 1 - 2 * int(n * HOLD), round(DISSOLVE_SECONDS * rate))
    hold = (n - 1 - dissolve) // 2

    with tempfile.TemporaryDirectory(prefix="shotfill-text-") as tmp:
        label = f"{shot_label}   {_take_seed(take, seed)}" if shot_label else _take_seed(take, seed)

        def still(png: str | os.PathLike[str]) -> Any:
            # The label and prompt never move: drawn once on the still, not on every frame.
            v = _label(_still(png, target), Path(tmp), label, target)
            return _timecode_box(_prompt(v, Path(tmp), prompt, target, y="h-text_h-{m}"), target)

        # One readable neighbour comes in as both ends: hold it (ffmpeg-python would merge
        # two identical inputs into one node, which xfade cannot take twice).
        same = Path(before_png).resolve() == Path(after_png).resolve()
        if dissolve > 0 and not same:
            sa, sb = still(before_png).split(), still(after_png).split()
            a, a_mix, b_mix, b = sa[0], sa[1], sb[0], sb[1]
            # Held frames are clones of one converted picture and cost an encode; only the
            # dissolve's frames are mixed (in 4:4:4, xfade's formats) and converted one by one.
            mix = ffmpeg.filter([_held(a_mix, target), _held(b_mix, target)], "xfade", transition="fade",
                                offset=0, duration=_seconds(dissolve, rate))
            parts = [_held(_final(a, target), target, hold), _cut(_final(mix, target), dissolve),
                     _held(_final(b, target), target, n - hold - dissolve)]
            v = ffmpeg.concat(*[p for p, frames in zip(parts, (hold, dissolve, 1)) if frames > 0], v=1, a=0)
        else:  # one frame: nothing to move between
            v = _held(_final(still(before_png), target), target, n)
        v = _running_timecode(v, target)
        _encode(v, out, target, what=f"rendering the bridge for {shot_label or out.name}", threads=threads)
    return out


def _final(v: Any, target: ConformTarget) -> Any:
    return v.filter("format", pix_fmts=CODECS[target.codec].pix_fmt)


def _held(v: Any, target: ConformTarget, frames: int | None = None) -> Any:
    """A picture held at the target rate: forever, or cut to ``frames`` and starting at 0."""
    v = v.filter("setpts", expr="PTS-STARTPTS").filter("fps", fps=rate_str(target.rate))
    v = v.filter("tpad", stop=-1, stop_mode="clone")
    return v if frames is None else _cut(v, frames)


def _cut(v: Any, frames: int) -> Any:
    return v.filter("trim", end_frame=frames).filter("setpts", expr="PTS-STARTPTS")


def render_slate(
    target: ConformTarget, *, prompt: str, shot_label: str, seed: int, out: str | os.PathLike[str],
    threads: int | None = None, take: int = 1,
) -> Path:
    """A card naming the shot, prompt and duration, for when the neighbour shots cannot be read.

    Its colour and grid come from ``seed`` alone, so the same request renders
    the same frames.
    """
    out = _check_out(out, target)
    rng = random.Random(seed)
    r, g, b = (rng.randrange(24, 72) for _ in range(3))
    cell = rng.randrange(6, 13) * max(2, target.height // 90)
    tc_in = target.timecode
    duration = frames_to_timecode(target.frames, target.rate, drop_frame=False)
    facts = (f"{target.frames} frames  ({duration} at {rate_str(target.rate)} fps)\n"
             f"record in {tc_in}   {_take_seed(take, seed)}")

    with tempfile.TemporaryDirectory(prefix="shotfill-text-") as tmp:
        bg = ffmpeg.input(
            f"color=c=0x{r:02x}{g:02x}{b:02x}:s={target.width}x{target.height}:r={rate_str(target.rate)}",
            f="lavfi",
        )
        # Draw everything static on one RGB frame, convert it once, then clone it.
        v = bg.filter("trim", end_frame=1).filter("format", pix_fmts="gbrp")
        v = v.filter("drawgrid", w=cell, h=cell, t=1, c="white@0.07")
        v = _label(v, Path(tmp), f"SHOTFILL SLATE   {shot_label}", target)
        v = _prompt(v, Path(tmp), prompt, target, y="(h-text_h)/2")
        v = _text(v, Path(tmp), "facts", facts, target, size=_size(target, 26), x="{m}", y="h-text_h-{m}")
        v = _timecode_box(v, target)
        # Converted straight to the encoder's format once: the held frames then cost an encode only.
        v = v.filter("scale", out_color_matrix="bt709", out_range="tv")
        v = _final(v.filter("format", pix_fmts=WORK_PIX_FMT), target)
        v = v.filter("tpad", stop=-1, stop_mode="clone").filter("trim", end_frame=target.frames)
        v = _running_timecode(v, target)
        _encode(v, out, target, what=f"rendering the slate for {shot_label or out.name}", threads=threads)
    return out


def _take_seed(take: int, seed: int) -> str:
    # Take 1 burns in what a clip did before takes existed, so its bytes (and caches) stay the same.
    return f"take {take}   seed {seed}" if take > 1 else f"seed {seed}"


def _check_out(out: str | os.PathLike[str], target: ConformTarget) -> Path:
    path = Path(out)
    if path.suffix.lower() != target.codec.suffix:
        raise UsageError(
            f"{path} must end in {target.codec.suffix} for {target.codec.value}",
            hint=f"name the output *{target.codec.suffix} or choose another codec",
        )
    return path


def _still(png: str | os.PathLike[str], target: ConformTarget) -> Any:
    """One neighbour frame, fitted and converted once (one picture, not yet a clip)."""
    info = probe(png, exact=False)   # its size and aspect: a still is not counted (that costs a second ffprobe)
    v = ffmpeg.input(tools.file_url(png), f="image2", pattern_type="none")["v:0"]
    return fit_filters(v, info, target).filter("setsar", sar="1").filter("format", pix_fmts=WORK_PIX_FMT)


def _seconds(frames: int, rate: Fraction) -> str:
    # Microsecond precision: ffmpeg rounds it back to exactly this many frames.
    return f"{float(Fraction(frames) / rate):.6f}"


def _size(target: ConformTarget, lines_per_height: int) -> int:
    return max(10, target.height // lines_per_height)


def _label(v: Any, tmp: Path, text: str, target: ConformTarget) -> Any:
    """One line, top left, kept clear of the running timecode on the right."""
    size = _size(target, 20)
    cols = max(8, int(target.width * 0.6 / (size * 0.6)))
    line = " ".join(_printable(text).split())
    if len(line) > cols:
        line = line[: cols - 1].rstrip() + "\u2026"
    return _text(v, tmp, "label", line, target, size=size, x="{m}", y="{m}")


def _prompt(v: Any, tmp: Path, prompt: str, target: ConformTarget, *, y: str) -> Any:
    size = _size(target, 24)
    cols = max(16, int(target.width * 0.9 / (size * 0.55)))
    max_lines = max(2, int(target.height * 0.4 / (size * 1.3)))
    return _text(v, tmp, "prompt", _wrap(prompt, cols, max_lines), target, size=size, x="(w-text_w)/2", y=y)


def _text(v: Any, tmp: Path, name: str, text: str, target: ConformTarget,
          *, size: int, x: str, y: str) -> Any:
    path = tmp / f"{name}.txt"
    path.write_text(_printable(text) or " ", encoding="utf-8")
    margin = max(4, target.height // 40)
    return v.filter(
        "drawtext", textfile=str(path), expansion="none", fontsize=size, fontcolor="white",
        line_spacing=max(1, size // 5), box=1, boxcolor=BOX, boxborderw=max(2, size // 4),
        x=x.format(m=margin), y=y.format(m=margin), **_font(),
    )


def _timecode_box(v: Any, target: ConformTarget) -> Any:
    """The running timecode's box, drawn once on a still: laid out from the first timecode with
    the same options, so it is the box each frame's digits (all one width) would draw."""
    return v.filter("drawtext", fontcolor="white@0", box=1, boxcolor=BOX, **_timecode_options(target))


def _running_timecode(v: Any, target: ConformTarget) -> Any:
    # Only the digits are drawn on every frame; their box is already on the stills (_timecode_box).
    return v.filter("drawtext", fontcolor="white", **_timecode_options(target))


def _timecode_options(target: ConformTarget) -> dict[str, Any]:
    size = _size(target, 14)
    margin = max(4, target.height // 40)
    return dict(timecode=target.timecode, timecode_rate=rate_str(target.rate), fontsize=size,
                boxborderw=max(2, size // 5), x=f"w-text_w-{margin}", y=str(margin), **_font())


def _font() -> dict[str, str]:
    font = tools.font_file()
    return {"fontfile": font} if font else {}


def _printable(text: str) -> str:
    # drawtext draws a box for a control character; keep only line breaks.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) != "Cc").strip()


def _wrap(text: str, cols: int, max_lines: int) -> str:
    lines: list[str] = []
    for paragraph in _printable(text).split("\n"):
        lines.extend(textwrap.wrap(paragraph, cols, break_long_words=True) or [""])
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, cols - 1)].rstrip() + "\u2026"
    return "\n".join(lines)


def _encode(v: Any, out: Path, target: ConformTarget, *, what: str, threads: int | None = None) -> None:
    spec = CODECS[target.codec]
    v = tag_bt709(v.filter("setsar", sar="1").filter("format", pix_fmts=spec.pix_fmt))
    with atomic_path(out) as tmp:
        argv = tools.compile_argv(ffmpeg.output(v, tools.file_url(tmp), **encode_kwargs(target, threads=threads)))
        tools.run(argv, what=what)
        wrong = problems(probe(tmp), target)
        if wrong:
            raise ConformError(f"{out}: the rendered clip is wrong: " + "; ".join(wrong))
