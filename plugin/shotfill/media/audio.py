"""A generated clip's sound, made exactly as long as its picture in the conform's one pass.

Asked for (``audio=on`` / ``--audio``) and present in the service's file, the sound is
resampled to 48 kHz and cut or padded to exactly the hole's length in samples::

    samples = round(frames * 48000 / rate)

so that it ends with the last frame: 2002 samples a frame at 24000/1001, 1601.6 a frame at
30000/1001 (the total is rounded, never each frame).  ``apad`` pads a short clip with
silence and ``atrim`` (by sample) cuts a long one; both counted from the audio's own first
sample, as the picture is counted from its first frame (``setpts=PTS-STARTPTS``).

The sound is PCM, 24-bit, in a ``.mov`` (``pcm_s24le``, what editors take as-is).  ffmpeg's
``mp4`` muxer refuses PCM (6.0: "codec not currently supported in container"), so an H.264
``.mp4`` carries ALAC instead: lossless, 24-bit, and with no encoder delay, so the sample
count stays exact.  The channel count is the source's.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Optional, Sequence

import ffmpeg

from shotfill.model import AudioInfo, Codec, ConformTarget, MediaInfo

#: the sample rate every conformed clip's sound is made at
SAMPLE_RATE = 48000


def samples_for(frames: int, rate: Fraction) -> int:
    """The hole's length in 48 kHz samples: ``frames * 48000 / rate``, rounded half up once for the whole."""
    exact = Fraction(frames) * SAMPLE_RATE / Fraction(rate)
    return int(exact + Fraction(1, 2))


def codec_name(codec: Codec) -> str:
    """The audio codec the conformed file carries for this video codec (its container)."""
    return "alac" if codec.suffix == ".mp4" else "pcm_s24le"


def carries(target: ConformTarget, src: MediaInfo) -> bool:
    """True when the conformed file will have sound: it was asked for and the source has some."""
    return target.audio and src.audio is not None


def filters(stream: Any, target: ConformTarget) -> Any:
    """The audio chain: from its first sample, 48 kHz, padded with silence, cut to the exact count."""
    n = samples_for(target.frames, target.rate)
    a = stream.filter("asetpts", "PTS-STARTPTS")
    a = a.filter("aresample", SAMPLE_RATE)
    a = a.filter("apad", whole_len=n)
    return a.filter("atrim", end_sample=n)


def joined_carries(target: ConformTarget, srcs: Sequence[MediaInfo]) -> bool:
    """True when a clip joined from segments will have sound: asked for, and one segment at least has some."""
    return target.audio and any(src.audio is not None for src in srcs)


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def segment_filters(stream: Optional[Any], target: ConformTarget, *, skip: int, frames: int, shown_before: int,
                    channels: int) -> Any:
    """One segment's sound in a joined clip: the samples of exactly the frames it shows.

    The segment shows its frames ``skip`` .. ``skip + frames - 1`` at the joined clip's frames
    ``shown_before`` .. ``shown_before + frames - 1``.  Its share of the joined sound is counted on the
    joined clip's own clock (``samples_for`` of where it ends, less where it starts), so the shares add
    up to the whole clip's samples with one rounding; it is read from the segment's own sound starting at
    the sample of its first shown frame (the repeated first frame's sound dropped with the picture), and
    padded with silence where the segment's sound is short.  ``stream`` None (a segment without sound):
    silence of that length.  Every share has the same rate and channels, as the concat filter needs.
    """
    rate = target.rate
    n = samples_for(shown_before + frames, rate) - samples_for(shown_before, rate)
    # One sample format for every share: left to negotiation, concat with a silent share took anullsrc's
    # 8-bit one for all of them.  32-bit integers hold the 24-bit result losslessly.
    fmt = {"sample_rates": SAMPLE_RATE, "channel_layouts": _layout(channels), "sample_fmts": "s32"}
    if stream is None:
        # A constant lavfi source: no file name or note text reaches this graph.
        a = ffmpeg.input(f"anullsrc=r={SAMPLE_RATE}:cl={_layout(channels)}", f="lavfi")["a:0"]
        return a.filter("aformat", **fmt).filter("atrim", end_sample=n).filter("asetpts", "PTS-STARTPTS")
    first = samples_for(skip, rate)
    a = stream.filter("asetpts", "PTS-STARTPTS").filter("aresample", SAMPLE_RATE).filter("aformat", **fmt)
    a = a.filter("apad", whole_len=first + n)
    return a.filter("atrim", start_sample=first, end_sample=first + n).filter("asetpts", "PTS-STARTPTS")


def encode_kwargs(target: ConformTarget) -> dict[str, Any]:
    """Output options for the sound (they replace the video-only ``an``)."""
    kwargs: dict[str, Any] = {"c:a": codec_name(target.codec), "ar": SAMPLE_RATE}
    if codec_name(target.codec) == "alac":
        kwargs["sample_fmt"] = "s32p"      # 24-bit ALAC
    return kwargs


def matches(info: Optional[AudioInfo], target: ConformTarget, source_has: bool) -> bool:
    """Whether a file's sound is already what the conform would make of it.

    Without sound asked, a file must have none (the conform drops it); with it asked, a source
    without sound has none to carry, and one with sound must already be the exact PCM.
    """
    if not target.audio or not source_has:
        return info is None
    return (info is not None and info.codec == codec_name(target.codec) and info.sample_rate == SAMPLE_RATE
            and info.samples == samples_for(target.frames, target.rate))


def problems(info: Optional[AudioInfo], target: ConformTarget, expected: bool) -> list[str]:
    """What is wrong with a conformed file's sound, in an editor's words; empty when it is right."""
    if not expected:
        return ["it carries sound that was not asked for"] if info is not None else []
    if info is None:
        return ["its sound is missing"]
    found = []
    want = samples_for(target.frames, target.rate)
    if info.codec != codec_name(target.codec):
        found.append(f"its sound is {info.codec}, not {codec_name(target.codec)}")
    if info.sample_rate != SAMPLE_RATE:
        found.append(f"its sound is at {info.sample_rate} Hz, not {SAMPLE_RATE}")
    if info.samples != want:
        found.append(f"its sound has {info.samples if info.samples is not None else 'an unknown number of'} "
                     f"samples, not {want} (the hole's {target.frames} frames)")
    return found
