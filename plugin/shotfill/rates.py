"""Frame rates as exact rationals, and timecode at those rates.

A rate is normalised once, where it is read (a flag, an EDL, an adapter's
float), to a :class:`fractions.Fraction` such as ``24000/1001``.  Every frame
count in ShotFill is an integer at such a rate; floats appear only where OTIO
insists on them and are turned back into fractions right away.
"""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio

from shotfill.errors import UsageError

#: The rates SMPTE timecode is defined for; drop frame exists only at the NTSC 30/60 ones.
SMPTE_RATES: tuple[Fraction, ...] = (
    Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
    Fraction(48000, 1001), Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60),
)
DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
#: the rates a timeline can have, for flags and files alike
MIN_RATE, MAX_RATE = 1, 1000


def normalize_rate(value: float | int | Fraction) -> Fraction:
    """Snap a rate to the exact SMPTE rational it stands for (23.976 -> 24000/1001).

    Rates that are not near any SMPTE rate (12 fps animation, 15 fps web) are
    kept as the nearest small rational.
    """
    if isinstance(value, Fraction) and value in SMPTE_RATES:
        return value
    v = float(value)
    if v <= 0:
        raise ValueError(f"frame rate must be positive, got {value}")
    for r in SMPTE_RATES:
        if abs(float(r) - v) < 0.01:
            return r
    return Fraction(v).limit_denominator(1001)


def parse_rate(text: str) -> Fraction:
    """Parse a rate as an editor writes it: ``23.976``, ``24000/1001``, ``29.97``, ``25``."""
    t = str(text).strip().lower().removesuffix("fps").strip()
    try:
        if "/" in t:
            num, den = t.split("/", 1)
            value = Fraction(int(num), int(den))
        else:
            value = Fraction(t)
        # Checked before normalising: a tiny rate would round to 0 and be reported as '0'.
        if MIN_RATE <= value <= MAX_RATE:
            value = normalize_rate(value)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise UsageError(
            f"'{text}' is not a frame rate",
            hint="write it as 23.976, 24000/1001, 25, 29.97 or 30000/1001",
        ) from None
    if not MIN_RATE <= value <= MAX_RATE:
        raise UsageError(f"'{text}' is not a usable frame rate: it must be from {MIN_RATE} to {MAX_RATE} fps",
                         hint="write it as 23.976, 24000/1001, 25, 29.97 or 30000/1001")
    return value


def rate_str(rate: Fraction) -> str:
    """``24000/1001`` or ``25``: the form used in reports and JSON."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def to_frames(t: otio.opentime.RationalTime, rate: Fraction) -> int:
    """An OTIO time as a whole frame count at ``rate`` (rounded, never truncated)."""
    value, t_rate = t.value, t.rate
    if value.is_integer() and t_rate == float(rate):
        return int(value)        # already whole frames at this rate (nearly always): no Fraction maths
    return round(Fraction(t.value) / Fraction(t.rate) * rate) if t.rate else 0


def rational_time(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def frames_to_timecode(frames: int, rate: Fraction, drop_frame: bool | None = None) -> str:
    """SMPTE timecode for an absolute frame number, ``;`` before frames when drop frame."""
    if drop_frame is None:
        drop_frame = rate in DROP_FRAME_RATES
    if drop_frame and rate not in DROP_FRAME_RATES:
        drop_frame = False
    tc: str = otio.opentime.to_timecode(rational_time(frames, rate), float(rate), drop_frame)
    return tc


def timecode_to_frames(tc: str, rate: Fraction) -> int:
    """Absolute frame number of a timecode; ``;`` means drop frame."""
    return int(round(otio.opentime.from_timecode(tc.strip(), float(rate)).value))


def day_frames(rate: Fraction, drop_frame: bool) -> int:
    """Frames in 24 hours of timecode at ``rate``: where a timecode wraps back to 00:00:00:00."""
    nominal = round(rate)
    if drop_frame and rate in DROP_FRAME_RATES:
        # Two frame numbers (four at 60) dropped each minute, except every tenth minute.
        return 24 * 6 * (600 * nominal - 9 * (nominal // 15))
    return 24 * 3600 * nominal


def frames_before(frame: int, count: int, rate: Fraction, drop_frame: bool) -> int:
    """The absolute frame ``count`` frames before ``frame``, wrapped at midnight (timecode is never negative)."""
    return (frame - count) % day_frames(rate, drop_frame)
