"""Bring a generated clip's colour and exposure toward the shots around its hole.

One global transform per clip, estimated from a few frames of the clip and the
neighbour frames the plan already extracted (the last frame before the hole,
the first after it, whichever could be read), written as a 3D LUT (``.cube``)
that :func:`shotfill.media.conform.conform` applies with ``lut3d`` inside its
single ffmpeg pass.  Nothing is estimated per frame, so nothing can flicker.

**The measure** (what ``report.json`` records before and after, and what
``bench/colour_match.py`` checks): pixels are read as sRGB-encoded (BT.709
video is close to it) and taken to CIELAB (D65); each picture's pixels are
split into shadows, midtones and highlights at its own lightness terciles,
and the distance is the mean CIEDE2000 difference between the zones' mean
colours of the clip and of the neighbours.  One number that sees an exposure
shift (L), a colour cast (a, b), and a split grade (teal shadows, orange
highlights) that a single mean colour would average away.  Different content
in the clip and the neighbours gives some distance even with no grade at all;
it is a measure of how far the *looks* are, not a pixel comparison.

**The method**, chosen by measurement (``python bench/colour_match.py``: 320x180
footage of two sets panned across, the neighbours graded four ways -- a
teal/orange split, one stop under, a warm cast, lifted and desaturated -- and
two pairs that already match; the conformed files themselves are measured):

==================  ===========================  =====================  =================
method              mean distance fall (goal     least fall in          already matching
                    at least 60 %)               one case               (goal: unchanged)
==================  ===========================  =====================  =================
``reinhard``        73 %                         40 % (teal/orange)     unchanged
``mkl``             72 %                         -5 % (warm cast)       unchanged
``reinhard-zones``  **85 %**                     **67 %**               unchanged
``mkl-zones``       82 %                         34 % (warm cast)       unchanged
==================  ===========================  =====================  =================

No method clipped a highlight or a shadow (luma at white or black) that was not
clipped before.  ``reinhard`` matches the mean and spread of each Lab axis
(Reinhard et al. 2001); ``mkl`` the full Lab covariance (the Monge-Kantorovich
linear map of ``color-matcher``).  Both miss a split grade, whose tint depends
on lightness; ``-zones`` then adds, per tonal zone, the a/b tint still missing,
interpolated along lightness (what a colourist's lift / gamma / gain wheels
do).  ``mkl`` also mixes colours up when a scene has few distinct ones (the
warm cast made *worse*), so **``reinhard-zones``** is used: the best mean, the
best worst case, and per-axis gains that cannot rotate one colour into another.
Neither posterises the way histogram matching does.  The gains are held within
``[1/MAX_GAIN, MAX_GAIN]`` so a flat neighbour frame cannot blow the clip up;
colours pushed out of range are brought back toward their own grey (keeping
their lightness) and, when the tone overshoots, rolled off smoothly toward 0
and 1, instead of clipped.  A clip within :data:`ALREADY_CLOSE` of its
neighbours is left exactly as generated, and the transform is blended in
gradually up to :data:`FULL_FROM`, so a small difference never flips the
look on and off.

A hand-written CIEDE2000 and CIELAB conversion (checked against Sharma, Wu and
Dalal's published test pairs in the tests) keep the dependency to numpy:
``colour-science`` and ``scikit-image`` would bring scipy for two formulas, and
``color-matcher`` applies its transfer to whole pictures rather than giving
a transform that can be baked into a LUT for the one ffmpeg pass.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

import ffmpeg
import numpy as np
from numpy.typing import NDArray

from shotfill.errors import FFmpegNotFound, MediaError
from shotfill.media import tools
from shotfill.media.conform import rgb_input_options
from shotfill.media.probe import probe
from shotfill.model import ColourMatch, match_wanted
from shotfill.system.files import make_dirs, write_text

Array = NDArray[np.float64]
Method = Literal["reinhard", "mkl", "reinhard-zones", "mkl-zones"]

#: the method :func:`prepare` uses (see the module docstring for why)
METHOD: Method = "reinhard-zones"
#: frames of the clip the estimate reads, spread evenly over it
SAMPLE_FRAMES = 8
#: pictures are read this small: statistics need no detail, and the pipe stays small
SAMPLE_W, SAMPLE_H = 128, 72
#: points per axis of the .cube (33 is what grading tools write)
LUT_SIZE = 33
#: a gain no larger than this either way, per Lab axis
MAX_GAIN = 2.0
#: a clip this close (CIEDE2000 zone distance) to its neighbours is left as it is: about what two
#: framings of one scene differ by with no grade at all
ALREADY_CLOSE = 2.0
#: from this distance on the whole transform is applied; between the two, a share of it (no jump)
FULL_FROM = 5.0
#: the largest a or b tint added per tonal zone
MAX_TINT = 20.0
#: how near 0 or 1 a sample pixel counts as out of range (grain the thumbnail averaged away)
SAMPLE_MARGIN = 6 / 255
#: where the smooth roll-off toward 0 and 1 starts, when the transform overshoots
KNEE = 0.1
#: how far from 0 and 1 the roll-off stays (six 8-bit code values: 4:2:2 chroma of a saturated, grainy
#: picture overshoots by a few when it is turned back into RGB)
HEADROOM = 6 / 255
#: the part of the clip's (thumbnail) pixels allowed past 0 or 1 before the roll-off is used
OVERSHOOT_SHARE = 0.0002

MatchChoice = Optional[Literal["on", "off"]]


# --------------------------------------------------------------------------- colour science

_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
#: LAPACK and BLAS (the bench's ``mkl`` methods) are called by one thread at a time; see :func:`_apply`
_LAPACK = threading.Lock()
_WHITE = np.array([0.95047, 1.0, 1.08883])
_EPS = (6 / 29) ** 3


def _apply(matrix: Array, values: Array) -> Array:
    """``values @ matrix.T`` over ``(..., 3)``, without BLAS.

    ``@`` goes to OpenBLAS, whose thread pool was seen to hang for good when conform workers
    called it from two threads at once; einsum's own loop is as fast for 3x3 and safe.
    """
    out: Array = np.einsum("ij,...j->...i", matrix, values)
    return out


def rgb_to_lab(rgb: Array) -> Array:
    """sRGB-encoded values in [0, 1] (``(..., 3)``) to CIELAB under D65."""
    c = np.asarray(rgb, dtype=np.float64)
    lin = np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0) + 0.055) / 1.055) ** 2.4)
    xyz = _apply(_RGB_TO_XYZ, lin) / _WHITE
    f = np.where(xyz > _EPS, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_rgb(lab: Array) -> Array:
    """CIELAB (D65) to sRGB-encoded values, not clipped (out-of-range colours stay out of [0, 1])."""
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE
    lin = _apply(_XYZ_TO_RGB, xyz)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.maximum(lin, 0.0031308) ** (1 / 2.4) - 0.055)


def ciede2000(lab1: Array, lab2: Array) -> Array:
    """CIEDE2000 colour difference (Sharma, Wu, Dalal 2005; kL = kC = kH = 1), elementwise over ``(..., 3)``."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=np.float64), -1, 0)
    cbar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(cbar ** 7 / (cbar ** 7 + 25.0 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.where((a1p == 0) & (b1 == 0), 0.0, np.degrees(np.arctan2(b1, a1p)) % 360)
    h2p = np.where((a2p == 0) & (b2 == 0), 0.0, np.degrees(np.arctan2(b2, a2p)) % 360)
    zero = c1p * c2p == 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(zero, 0.0, dh)
    dL, dC = L2 - L1, c2p - c1p
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    lbar, cbarp = (L1 + L2) / 2, (c1p + c2p) / 2
    hsum = h1p + h2p
    hbar = np.where(zero, hsum, np.where(np.abs(h1p - h2p) <= 180, hsum / 2,
                                         np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2)))
    t = (1 - 0.17 * np.cos(np.radians(hbar - 30)) + 0.24 * np.cos(np.radians(2 * hbar))
         + 0.32 * np.cos(np.radians(3 * hbar + 6)) - 0.20 * np.cos(np.radians(4 * hbar - 63)))
    dtheta = 30 * np.exp(-(((hbar - 275) / 25) ** 2))
    rc = 2 * np.sqrt(cbarp ** 7 / (cbarp ** 7 + 25.0 ** 7))
    sl = 1 + 0.015 * (lbar - 50) ** 2 / np.sqrt(20 + (lbar - 50) ** 2)
    sc, sh = 1 + 0.045 * cbarp, 1 + 0.015 * cbarp * t
    rt = -np.sin(np.radians(2 * dtheta)) * rc
    result: Array = np.sqrt((dL / sl) ** 2 + (dC / sc) ** 2 + (dH / sh) ** 2 + rt * (dC / sc) * (dH / sh))
    return result


def zone_means(lab: Array) -> Array:
    """Mean Lab colour of the shadows, midtones and highlights (lightness terciles) of ``(n, 3)`` pixels."""
    lo, hi = np.quantile(lab[:, 0], [1 / 3, 2 / 3])
    zones = [lab[lab[:, 0] <= lo], lab[(lab[:, 0] > lo) & (lab[:, 0] <= hi)], lab[lab[:, 0] > hi]]
    return np.stack([z.mean(axis=0) if len(z) else lab.mean(axis=0) for z in zones])


def distance(clip_lab: Array, ref_lab: Array) -> float:
    """The documented measure: mean CIEDE2000 between the zone means of the clip and the neighbours."""
    return float(ciede2000(zone_means(clip_lab), zone_means(ref_lab)).mean())


# --------------------------------------------------------------------------- transforms


@dataclass(frozen=True)
class Transform:
    """``lab' = (lab - src_mean) @ matrix.T + ref_mean``, plus a tint per tonal zone, blended in by ``strength``.

    ``zone_l`` are the lightnesses of the shadow, midtone and highlight zones (after the matrix);
    ``zone_tint`` the a, b shift of each, interpolated along lightness between them (constant past the
    ends), as a colourist's lift / gamma / gain wheels tint each range.  ``roll_off`` is set when the
    result would leave the RGB range (see :func:`_roll_off`).
    """

    src_mean: Array
    ref_mean: Array
    matrix: Array
    zone_l: Optional[Array] = None
    zone_tint: Optional[Array] = None
    strength: float = 1.0
    roll_off: bool = False

    def lab(self, lab: Array) -> Array:
        out: Array = _apply(self.matrix, lab - self.src_mean) + self.ref_mean
        if self.zone_l is not None and self.zone_tint is not None:
            tint = [np.interp(out[..., 0], self.zone_l, self.zone_tint[:, c]) for c in (0, 1)]
            out = out + np.stack([np.zeros_like(tint[0]), *tint], axis=-1)
        blended: Array = lab + self.strength * (out - lab)
        return blended

    def rgb(self, rgb: Array) -> Array:
        """Apply to sRGB values in [0, 1]; the result is in [0, 1]."""
        return _into_range(lab_to_rgb(self.lab(rgb_to_lab(rgb))), roll_off=self.roll_off)


def _into_range(rgb: Array, *, roll_off: bool) -> Array:
    """Bring RGB values into range without clipping: the tone by :func:`_roll_off` (when asked), the colour
    by moving it toward its own grey (same luma) just as far as every channel needs to stay
    :data:`HEADROOM` inside 0 and 1.  A saturated orange keeps its lightness and loses a little
    chroma instead of having its blue channel cut at 0; colours already in range are not touched.
    """
    grey = np.einsum("...j,j->...", rgb, np.array([0.2126, 0.7152, 0.0722]))
    toned = _roll_off(grey) if roll_off else grey
    chroma = rgb - grey[..., None]
    lo, hi = HEADROOM, 1 - HEADROOM
    g = toned[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(chroma < 0, (g - lo) / -chroma, np.where(chroma > 0, (hi - g) / chroma, np.inf))
    inside = np.all((rgb >= lo) & (rgb <= hi), axis=-1, keepdims=True) & (not roll_off)
    scale = np.where(inside, 1.0, np.clip(np.min(room, axis=-1, keepdims=True), 0.0, 1.0))
    out: Array = np.clip(g + scale * chroma, 0.0, 1.0)
    return out


def _roll_off(x: Array) -> Array:
    """Identity in [KNEE, 1 - KNEE], then a tanh shoulder and toe that stay :data:`HEADROOM` off 0 and 1.

    The headroom outlasts the 10-bit encode's and an 8-bit decode's rounding: a rolled-off
    highlight never reads back as 255 (nor a shadow as 0), so nothing is newly clipped.
    """
    k, m = KNEE, HEADROOM
    top = (1 - k) + (k - m) * np.tanh((x - (1 - k)) / (k - m))
    bottom = k - (k - m) * np.tanh((k - x) / (k - m))
    out: Array = np.where(x > 1 - k, top, np.where(x < k, bottom, x))
    return out


def _sym_power(m: Array, p: float, floor: float = 1e-6) -> Array:
    w, v = np.linalg.eigh((m + m.T) / 2)
    out: Array = (v * np.maximum(w, floor) ** p) @ v.T
    return out


def _limit_gain(m: Array) -> Array:
    """A symmetric gain matrix with its eigenvalues held within [1/MAX_GAIN, MAX_GAIN]."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    out: Array = (v * np.clip(w, 1 / MAX_GAIN, MAX_GAIN)) @ v.T
    return out


def _reinhard(src: Array, ref: Array) -> Array:
    gain = (ref.std(axis=0) + 0.5) / (src.std(axis=0) + 0.5)
    return np.diag(np.clip(gain, 1 / MAX_GAIN, MAX_GAIN))


def _mkl(src: Array, ref: Array) -> Array:
    with _LAPACK:
        return _mkl_unlocked(src, ref)


def _mkl_unlocked(src: Array, ref: Array) -> Array:
    # Regularised: a flat picture (one colour) has a singular covariance.
    reg = np.eye(3) * 0.5
    sa, sb = np.cov(src, rowvar=False) + reg, np.cov(ref, rowvar=False) + reg
    ha, hai = _sym_power(sa, 0.5), _sym_power(sa, -0.5)
    return _limit_gain(hai @ _sym_power(ha @ sb @ ha, 0.5) @ hai)


METHODS: dict[str, Callable[[Array, Array], Array]] = {
    "reinhard": _reinhard, "mkl": _mkl, "reinhard-zones": _reinhard, "mkl-zones": _mkl}


def _zone_tints(t: Transform, src: Array, ref: Array) -> Transform:
    """Add the a, b shift that is left in each tonal zone after ``t`` (a split grade's lightness-bound tint)."""
    mapped, want = zone_means(t.lab(src)), zone_means(ref)
    order = np.argsort(mapped[:, 0])
    zl = mapped[order, 0]
    if np.any(np.diff(zl) <= 0.5):
        return t   # zones of (almost) one lightness: a flat picture has no tonal ranges to tint
    tint = np.clip((want - mapped)[order][:, 1:], -MAX_TINT, MAX_TINT)
    return replace(t, zone_l=zl, zone_tint=tint)


def strength_for(before: float) -> float:
    """How much of the transform to apply at a distance ``before``: none up to ALREADY_CLOSE, all from FULL_FROM."""
    return float(np.clip((before - ALREADY_CLOSE) / (FULL_FROM - ALREADY_CLOSE), 0.0, 1.0))


def estimate(clip_rgb: Array, ref_rgb: Array, method: str = METHOD) -> Transform:
    """The one transform taking the clip's pixels (``(n, 3)`` in [0, 1]) toward the neighbours'."""
    src, ref = rgb_to_lab(clip_rgb), rgb_to_lab(ref_rgb)
    t = Transform(src.mean(axis=0), ref.mean(axis=0), METHODS[method](src, ref))
    if method.endswith("-zones"):
        t = _zone_tints(t, src, ref)
    t = replace(t, strength=strength_for(distance(src, ref)))
    mapped = lab_to_rgb(t.lab(src))
    # The sample is a thumbnail, which averages grain away: full-size pixels reach a little further.
    outside = float(np.mean(np.any((mapped < SAMPLE_MARGIN) | (mapped > 1 - SAMPLE_MARGIN), axis=1)
                            & ~np.any((clip_rgb < SAMPLE_MARGIN) | (clip_rgb > 1 - SAMPLE_MARGIN), axis=1)))
    return replace(t, roll_off=outside > OVERSHOOT_SHARE)


def cube_text(t: Transform, size: int = LUT_SIZE) -> str:
    """The transform as an Adobe/Resolve ``.cube`` 3D LUT (red varies fastest, as the format says)."""
    axis = np.linspace(0.0, 1.0, size)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    grid = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=-1)
    out = t.rgb(grid)
    lines = [f"{x:.5f} {y:.5f} {z:.5f}" for x, y, z in out]
    return ("TITLE \"ShotFill colour match\"\n"
            f"LUT_3D_SIZE {size}\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\n" + "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- reading pictures


def _read_rgb(stream: object, frames: int, what: str) -> Array:
    """Raw rgb24 of up to ``frames`` pictures of ``stream`` (already scaled), as ``(n, 3)`` floats."""
    frame_bytes = SAMPLE_W * SAMPLE_H * 3
    out = ffmpeg.output(stream, "pipe:", format="rawvideo", vsync="0", **{"frames:v": frames})
    # Bounded: at most the pictures asked for (a byte more would mean a wrong size, so refuse it).
    proc = tools.run_bytes(tools.compile_argv(out), what=what, max_stdout=frames * frame_bytes)
    data = proc.stdout
    if not data or len(data) % frame_bytes:
        raise MediaError(f"{what}: ffmpeg gave {len(data)} bytes, not whole {SAMPLE_W}x{SAMPLE_H} pictures")
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.float64) / 255.0


def _scaled(v: object, **opts: object) -> object:
    return v.filter("scale", w=SAMPLE_W, h=SAMPLE_H, flags="area", **opts).filter(  # type: ignore[attr-defined]
        "format", pix_fmts="rgb24")


#: (start, end) in seconds from a clip's first frame: the part of it that fills the hole (the rest is handles)
Span = tuple[Fraction, Fraction]


def hole_span(handles: int, hole: int, rate: Fraction) -> Optional[Span]:
    """The hole's seconds within a clip with ``handles`` frames each side; None: no handles, the whole clip."""
    return (Fraction(handles) / rate, Fraction(handles + hole) / rate) if handles else None


def clip_pixels(path: str | os.PathLike[str], count: int = SAMPLE_FRAMES, span: Optional[Span] = None) -> Array:
    """Pixels of ``count`` frames spread over the clip (or its ``span``), read as the conform reads them."""
    info = probe(path)
    first, n = 0, max(1, info.frames)
    if span is not None:
        rate = Fraction(info.rate)
        first = min(max(0, math.ceil(span[0] * rate)), n - 1)
        n = max(1, min(n, math.ceil(span[1] * rate)) - first)
    picks = sorted({first + round(i * (n - 1) / max(1, count - 1)) for i in range(count)})
    v = ffmpeg.input(tools.file_url(path))["v:0"].filter("select", expr="+".join(f"eq(n,{i})" for i in picks))
    return _read_rgb(_scaled(v, **rgb_input_options(info)), len(picks), f"reading the colours of {path}")


def still_pixels(path: str | os.PathLike[str]) -> Array:
    """Pixels of one picture (a neighbour frame PNG)."""
    v = ffmpeg.input(tools.file_url(path))["v:0"]
    return _read_rgb(_scaled(v), 1, f"reading the colours of {path}")


#: file identity -> its picture as read (rgb24 bytes): the match and the measure after the conform read a
#: neighbour frame once per run, not once each
_STILLS: OrderedDict[tuple[int, int, int, int], bytes] = OrderedDict()
_STILLS_MAX = 256
_STILLS_LOCK = threading.Lock()


def _identity(path: str) -> Optional[tuple[int, int, int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _stills_pixels(paths: list[str]) -> list[Array]:
    """Pixels of several pictures read by one ffmpeg (each scaled on its own, then one after the other)."""
    if len(paths) == 1:
        return [still_pixels(paths[0])]
    parts = [_scaled(ffmpeg.input(tools.file_url(p))["v:0"]).filter("setsar", sar="1")  # type: ignore[attr-defined]
             for p in paths]
    joined = ffmpeg.concat(*parts, v=1, a=0)
    pixels = _read_rgb(joined, len(paths), "reading the colours of " + ", ".join(paths))
    if len(pixels) != len(paths) * SAMPLE_W * SAMPLE_H:
        raise MediaError(f"ffmpeg gave {len(pixels) // (SAMPLE_W * SAMPLE_H)} pictures for {len(paths)} files")
    return list(np.split(pixels, len(paths)))


def neighbour_pixels(frames: Sequence[Optional[str]]) -> Optional[Array]:
    """The neighbour frames that can be read, pooled; None when none can.

    Frames read before in this run (same file, unchanged) are not read again; the others are
    read by one ffmpeg together, or one by one when one of them cannot be read.
    """
    paths = [str(f) for f in frames if f and Path(f).is_file()]
    keys = [_identity(p) for p in paths]
    got: dict[str, Array] = {}
    with _STILLS_LOCK:
        for p, k in zip(paths, keys):
            if k is not None and k in _STILLS:
                got[p] = np.frombuffer(_STILLS[k], dtype=np.uint8).reshape(-1, 3).astype(np.float64) / 255.0
    todo = list(dict.fromkeys(p for p in paths if p not in got))
    if todo:
        try:
            got.update(zip(todo, _stills_pixels(todo)))
        except MediaError:
            for p in todo:   # one unreadable frame must not cost the others theirs
                try:
                    got[p] = still_pixels(p)
                except MediaError:
                    continue
        with _STILLS_LOCK:
            for p, k in zip(paths, keys):
                if p in todo and p in got and k is not None:
                    _STILLS[k] = np.rint(got[p] * 255.0).astype(np.uint8).tobytes()
            while len(_STILLS) > _STILLS_MAX:
                _STILLS.popitem(last=False)
    parts = [got[p] for p in paths if p in got]
    return np.concatenate(parts) if parts else None


# --------------------------------------------------------------------------- the run's use


@dataclass(frozen=True)
class Look:
    """What :func:`prepare` decided for one clip: the LUT for the conform, or why none."""

    #: the .cube for the conform; None: the clip is conformed as generated
    cube: Optional[Path]
    digest: Optional[str]
    before: Optional[float]
    method: str
    note: str
    warnings: list[str] = field(default_factory=list)


def prepare(clip: str | os.PathLike[str], neighbours: Sequence[Optional[str]], looks_dir: Path, *,
            choice: MatchChoice, provider: str, method: str = METHOD, span: Optional[Span] = None) -> Optional[Look]:
    """The look for one generated clip, its ``.cube`` written into ``looks_dir``; None when not matched.

    A clip whose colours cannot be read is placed as generated, with a warning: the match is a
    refinement, never a reason to lose a paid clip.
    """
    if not match_wanted(choice, provider):
        return None
    try:
        return _prepare(clip, neighbours, looks_dir, choice=choice, method=method, span=span)
    except FFmpegNotFound:
        raise
    except MediaError as exc:
        return Look(None, None, None, method, "not matched",
                    [f"the colour match could not read {clip} ({exc.message}): its colour was left as generated"])


def _prepare(clip: str | os.PathLike[str], neighbours: Sequence[Optional[str]], looks_dir: Path, *,
             choice: MatchChoice, method: str, span: Optional[Span] = None) -> Optional[Look]:
    ref = neighbour_pixels(neighbours)
    if ref is None:
        if choice == "on":
            return Look(None, None, None, method, "no neighbour frame could be read",
                        ["match=on, but no neighbour frame could be read: its colour was left as generated"])
        return None
    src = clip_pixels(clip, span=span)
    before = distance(rgb_to_lab(src), rgb_to_lab(ref))
    if strength_for(before) == 0:
        return Look(None, None, before, method, "already matches its neighbours")
    text = cube_text(estimate(src, ref, method))
    digest = hashlib.sha256(text.encode()).hexdigest()
    make_dirs(looks_dir)
    cube = looks_dir / f"{digest[:16]}.cube"
    if not cube.is_file():
        write_text(cube, text, newline="\n")
    return Look(cube, digest, before, method, "matched")


def result(look: Look, conformed: str | os.PathLike[str], neighbours: Sequence[Optional[str]],
           span: Optional[Span] = None) -> ColourMatch:
    """What the report records: the distance before, and after measured on the conformed file itself."""
    after: Optional[float] = look.before
    if look.cube is not None:
        try:
            ref = neighbour_pixels(neighbours)
            after = None if ref is None else distance(rgb_to_lab(clip_pixels(conformed, span=span)), rgb_to_lab(ref))
        except FFmpegNotFound:
            raise
        except MediaError:
            after = None   # the conform itself was checked; only this measurement is missing
    return ColourMatch(applied=look.cube is not None, method=look.method, note=look.note,
                       distance_before=None if look.before is None else round(look.before, 3),
                       distance_after=None if after is None else round(after, 3),
                       lut=None if look.cube is None else str(look.cube))
