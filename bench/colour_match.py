"""Does the colour match bring a clip to its graded neighbours, and leave matching footage alone?

Makes 320x180 footage (two still sets panned across, with film grain), grades the neighbour shots strongly (teal/orange split, one stop under,
a warm cast, lifted and desaturated) and leaves the "generated" clip, later
frames of the same scene, as it was; two more cases have ungraded neighbours
(footage that already matches).  Each case is conformed as ShotFill does it
(:func:`shotfill.media.match.prepare`, then one :func:`conform` pass with the
LUT), for every method of :data:`shotfill.media.match.METHODS`, and measured:

* the mean colour distance to the neighbours (the module's CIEDE2000 zone
  measure) must fall by at least 60 % on the graded cases;
* on the matching cases it must not change measurably (within 0.5), and the
  pixels must stay as they were (mean per-pixel CIEDE2000 against the
  unmatched conform below 1.0, about one just-noticeable difference);
* no highlight or shadow newly clipped: the share of pixels whose luma is
  within a code value of white or black (every frame at full size) may not
  grow by more than 0.1 % of the pixels.  The share with any one channel at 0
  or 255 is shown too: a saturated colour at the gamut's edge, where a strong
  grade's neighbours carry the same (their share is shown beside it) and a
  4:2:2 encode's chroma reaches a code value or two past the LUT's output.

Prints each figure beside its goal.  Not a test: run ``python bench/colour_match.py [METHOD ...]``
(about a minute per method on 2 cores).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT / "otio_adapters")]

import ffmpeg  # noqa: E402
import numpy as np  # noqa: E402

from shotfill.media import match, tools  # noqa: E402
from shotfill.media.conform import conform  # noqa: E402
from shotfill.media.frames import extract_frame  # noqa: E402
from shotfill.media.probe import probe  # noqa: E402
from shotfill.model import ConformTarget  # noqa: E402

WORK = ROOT / "bench" / "_work" / "colour_match"
W, H, FRAMES = 320, 180, 30
#: a still "set" wider than the frame (sky-to-ground light, a few objects), panned across by the camera:
#: (top colour, bottom colour, boxes as x, y, w, h, colour)
SCENES = {
    "exterior": ((0x9a, 0xb8, 0xd0), (0x4a, 0x5a, 0x3a),
                 [(60, 70, 70, 70, "0xc68642"), (220, 30, 130, 110, "0x2e5e3e"), (400, 95, 90, 55, "0xe8e0d0"),
                  (300, 120, 50, 50, "0x202020")]),
    "interior": ((0xd8, 0xc8, 0xa8), (0x3a, 0x30, 0x28),
                 [(40, 40, 110, 100, "0x3b5b8b"), (200, 80, 60, 70, "0xe0ac88"), (330, 20, 90, 130, "0x8b2b2b"),
                  (270, 100, 50, 60, "0x151515")]),
}
GRADES = {
    "teal/orange": "colorbalance=rs=-0.3:gs=0.05:bs=0.3:rh=0.3:gh=0.05:bh=-0.3",
    "one stop under": "exposure=exposure=-1",
    "warm cast": "colorchannelmixer=rr=1.08:gg=0.98:bb=0.78",
    "lifted, desaturated": "curves=all='0/0.12 1/0.92',eq=saturation=0.6",
}
CASES = [(scene, grade) for scene in SCENES for grade in GRADES] + [(scene, None) for scene in SCENES]
TARGET = ConformTarget(width=W, height=H, rate=25, frames=FRAMES, timecode="01:00:00:00")


def ff(*args: str) -> None:
    tools.run([tools.ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
              what="making bench footage")


def the_set(scene: str) -> Path:
    path = WORK / f"{scene}_set.png"
    if not path.exists():
        (r0, g0, b0), (r1, g1, b1), boxes = SCENES[scene]
        ramp = ":".join(f"{c}='{top}+({bottom}-{top})*Y/H'" for c, top, bottom in
                        (("r", r0, r1), ("g", g0, g1), ("b", b0, b1)))
        chain = f"color=s=640x{H},format=gbrp,geq={ramp}" + "".join(
            f",drawbox=x={x}:y={y}:w={w}:h={h}:color={c}:t=fill" for x, y, w, h, c in boxes)
        ff("-f", "lavfi", "-i", chain, "-frames:v", "1", str(path))
    return path


def footage(scene: str, grade: str | None, start: int, path: Path) -> Path:
    """Frames ``start`` .. ``start + FRAMES`` of the scene, graded; grain added after the grade, as on set."""
    chain = f"crop=w={W}:h={H}:x='n+{start}':y=0"
    if grade:
        chain += f",format=gbrpf32le,{GRADES[grade]}"
    chain += ",format=yuv420p,noise=alls=5:allf=t"
    ff("-loop", "1", "-framerate", "25", "-i", str(the_set(scene)), "-vf", chain, "-frames:v", str(FRAMES),
       "-c:v", "libx264", "-preset", "ultrafast",
       "-crf", "12", "-pix_fmt", "yuv420p", str(path))
    return path


def full_frames(path: Path) -> np.ndarray:
    """Every frame at full size as uint8 RGB (the clip count needs every pixel, not a thumbnail)."""
    info = probe(path)
    v = ffmpeg.input(tools.file_url(path))["v:0"].filter("format", pix_fmts="rgb24")
    argv = tools.compile_argv(ffmpeg.output(v, "pipe:", format="rawvideo", vsync="0"))
    data = tools.run_bytes(argv, what=f"decoding {path}", max_stdout=info.frames * info.width * info.height * 3).stdout
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)


def clipped_share(px: np.ndarray) -> float:
    """Highlights blown to white or shadows crushed to black: luma within a code value of 255 or 0."""
    luma = px.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    return float(np.mean((luma >= 254) | (luma <= 1)))


def channel_clipped_share(px: np.ndarray) -> float:
    """Any one channel at 0 or 255: also a saturated colour at the edge of the gamut (shown, not a goal)."""
    return float(np.mean(np.any((px == 0) | (px == 255), axis=1)))


@dataclass
class Row:
    case: str
    method: str
    before: float
    after: float
    clipped_before: float
    clipped_after: float
    pixel_change: float
    applied: bool
    channel_before: float = 0.0
    channel_after: float = 0.0
    channel_neighbours: float = 0.0


def run_case(scene: str, grade: str | None, method: str, plain: Path, frames: list[str], folder: Path) -> Row:
    look = match.prepare(plain, frames, folder / "looks", choice="on", provider="bench", method=method)
    assert look is not None
    out = folder / f"matched_{method}.mov"
    conform(plain, out, TARGET, look=look.cube)
    unmatched = folder / "unmatched.mov"
    if not unmatched.exists():
        conform(plain, unmatched, TARGET)
    ref = match.rgb_to_lab(match.neighbour_pixels(frames))
    before = match.distance(match.rgb_to_lab(match.clip_pixels(unmatched)), ref)
    after = match.distance(match.rgb_to_lab(match.clip_pixels(out)), ref)
    a, b = full_frames(unmatched), full_frames(out)
    change = float(match.ciede2000(match.rgb_to_lab(a / 255.0), match.rgb_to_lab(b / 255.0)).mean())
    n = full_frames(folder / "before.mp4")
    return Row(f"{scene}: {grade or 'already matching'}", method, before, after, clipped_share(a),
               clipped_share(b), change, look.cube is not None, channel_clipped_share(a), channel_clipped_share(b),
               channel_clipped_share(n))


def main(argv: list[str]) -> int:
    methods = argv or list(match.METHODS)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    rows: list[Row] = []
    for scene, grade in CASES:
        folder = WORK / f"{scene}_{(grade or 'none').replace('/', '-').replace(' ', '_').replace(',', '')}"
        folder.mkdir()
        before_clip = footage(scene, grade, 0, folder / "before.mp4")
        after_clip = footage(scene, grade, 2 * FRAMES, folder / "after.mp4")
        plain = footage(scene, None, FRAMES, folder / "generated.mp4")
        frames = [str(extract_frame(before_clip, FRAMES - 1, folder / "before.png")),
                  str(extract_frame(after_clip, 0, folder / "after.png"))]
        for method in methods:
            rows.append(run_case(scene, grade, method, plain, frames, folder))

    ok = True
    print(f"{'case':<30} {'method':<14} {'before':>6} {'after':>6} {'fall':>5}  {'tone clipped':>15}  "
          f"{'a channel at 0/255 (neighbours)':>31}  {'pixel ΔE':>8}")
    for r in rows:
        fall = 1 - r.after / r.before if r.before else 0.0
        print(f"{r.case:<30} {r.method:<14} {r.before:6.2f} {r.after:6.2f} {fall:5.0%}  "
              f"{r.clipped_before:6.2%}->{r.clipped_after:6.2%}  "
              f"{r.channel_before:6.2%}->{r.channel_after:6.2%} ({r.channel_neighbours:6.2%})       "
              f"{r.pixel_change:8.2f}"
              + ("" if r.applied else "  (left as generated: already close)"))
    print()
    for method in methods:
        graded = [r for r in rows if r.method == method and "already" not in r.case]
        same = [r for r in rows if r.method == method and "already" in r.case]
        before = float(np.mean([r.before for r in graded]))
        after = float(np.mean([r.after for r in graded]))
        fall = 1 - after / before
        worst = min(1 - r.after / r.before for r in graded)
        drift = max(abs(r.after - r.before) for r in same)
        change = max(r.pixel_change for r in same)
        newly = max(r.clipped_after - r.clipped_before for r in rows if r.method == method)
        chosen = " (the module's METHOD)" if method == match.METHOD else ""
        good = fall >= 0.6 and drift <= 0.5 and change < 1.0 and newly <= 0.001
        ok &= good or method != match.METHOD
        print(f"{method}{chosen}:")
        print(f"  graded neighbours: mean distance {before:.2f} -> {after:.2f}, fall {fall:.0%}   goal >= 60 % "
              f"(the least in one case: {worst:.0%})")
        print(f"  already matching: distance change at most {drift:.2f}   goal <= 0.50; "
              f"pixel change at most {change:.2f} ΔE00   goal < 1.00")
        print(f"  newly clipped highlights and shadows: at most {newly:+.3%} of the pixels   goal <= +0.100 %")
        print(f"  {'PASS' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
