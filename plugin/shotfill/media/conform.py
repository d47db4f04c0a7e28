"""Make a clip exactly what the timeline slot needs, in one ffmpeg pass, and prove it.

One decode, one filter chain, one encode: start at pts 0, ``fps`` to the
target rate as a rational (``24000/1001``, never 23.976), hold the last frame
(``tpad`` clone) and cut (``trim`` + ``-frames:v``) to the exact frame count,
then scale (the fit policy, computed here from the source's display aspect so
anamorphic sources come out right) straight into the encoder's pixel format
and BT.709, ``setsar=1``, and tag BT.709 and the start timecode.

The BT.709 tags are set twice: on the frames by ``setparams`` in the graph and
as output options.  The output options alone reach the file only on some
builds: Debian 12's ffmpeg 5.1 left the ProRes frame header untagged (so its
ffprobe read "unknown", and every offline clip was encoded a second time),
while ``setparams`` lands on every ffmpeg from 4.3 on and every ffprobe reads
it back.  Rate and
length are fixed *before* scaling so no dropped frame is ever scaled.

``prores`` (not ``prores_ks``) is the default ProRes encoder because it was
measured: 115 frames of 1080p HQ took 2.5 s against 9.5 s on a 2-core box.

:func:`conform` skips the encode when the source already matches (only the
timecode is rewritten by a stream copy, or the file is copied), writes to a
temporary sibling, probes the result and renames it into place only when
size, rate, frame count, codec and timecode are right.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from shotfill.system.files import atomic_path
from shotfill.errors import ConformError, UsageError
from shotfill.media import audio, tools
from shotfill.media.probe import probe
from shotfill.model import Codec, ConformTarget, Fit, MediaInfo
from shotfill.rates import rate_str

BT709 = "bt709"

#: a clip this many frames short of its hole is a service's rounding: held without a word
PAD_QUIET_FRAMES = 2
#: a clip that leaves more than this share of its hole to a held last frame is refused, not placed
PAD_MAX_SHARE = Fraction(1, 4)


@dataclass(frozen=True)
class CodecSpec:
    """How to encode one :class:`Codec`, and what ffprobe reports for the result."""

    encoder: str
    profile: str          # value given to -profile:v
    codec_name: str       # ffprobe codec_name of the result
    profile_name: str     # ffprobe profile of the result
    pix_fmt: str
    muxer: str
    extra: tuple[tuple[str, str], ...] = ()


CODECS: dict[Codec, CodecSpec] = {
    Codec.PRORES: CodecSpec("prores", "3", "prores", "HQ", "yuv422p10le", "mov"),
    Codec.PRORES_KS: CodecSpec("prores_ks", "3", "prores", "HQ", "yuv422p10le", "mov"),
    Codec.DNXHR: CodecSpec("dnxhd", "dnxhr_hq", "dnxhd", "DNXHR HQ", "yuv422p", "mov"),
    Codec.H264: CodecSpec("libx264", "high", "h264", "High", "yuv420p", "mp4",
                          (("movflags", "+faststart"),)),
}


def conform_argv(
    src: MediaInfo, dst: str | os.PathLike[str], target: ConformTarget, *, threads: int | None = None,
    look: str | os.PathLike[str] | None = None,
) -> list[str]:
    """The single ffmpeg command that turns ``src`` into ``dst`` as ``target`` asks. Runs nothing.

    ``look`` is a ``.cube`` 3D LUT (the colour match) applied in the same pass, before the fit.
    """
    inp = ffmpeg.input(tools.file_url(src.path), **_decode_threads(threads))
    v = tag_bt709(_fitted(_retimed(inp["v:0"], target.rate, target.frames), src, target, look))
    if audio.carries(target, src):
        # Sound asked for and present: the same pass makes it exactly the hole's length (media.audio).
        a = audio.filters(inp["a:0"], target)
        # No -frames:v here: ffmpeg 6.0 ends the whole output when the picture reaches it, cutting the
        # sound short (99179 of 100100 samples); trim has already made the picture exactly that long.
        kwargs = {k: x for k, x in encode_kwargs(target, threads=threads).items() if k not in ("an", "frames:v")}
        out = ffmpeg.output(v, a, tools.file_url(dst), **kwargs, **audio.encode_kwargs(target))
    else:
        out = ffmpeg.output(v, tools.file_url(dst), **encode_kwargs(target, threads=threads))
    return tools.compile_argv(out)


def _decode_threads(threads: int | None) -> dict[str, int]:
    # The decoder takes every core unless told: with several conforms at once (or several Dask workers on
    # one machine) each is given its share, for the decode as for the encode, so none starves the others.
    return {"threads": threads} if threads else {}


def _retimed(v: Any, rate: Fraction, frames: int, skip: int = 0) -> Any:
    """Frames ``skip`` .. ``skip + frames - 1`` of ``v`` at ``rate``, from pts 0."""
    v = v.filter("setpts", expr="PTS-STARTPTS")
    v = v.filter("fps", fps=rate_str(rate))
    # Pad "forever" by holding the last frame and let trim cut: exact whatever
    # the source length, with no frame-count arithmetic that rounding could break.
    v = v.filter("tpad", stop=-1, stop_mode="clone")
    if not skip:
        return v.filter("trim", end_frame=frames)
    return v.filter("trim", start_frame=skip, end_frame=skip + frames).filter("setpts", expr="PTS-STARTPTS")


def _fitted(v: Any, src: MediaInfo, target: ConformTarget, look: str | os.PathLike[str] | None) -> Any:
    """The look (if any), the fit to the target's size, square pixels and the encoder's pixel format."""
    if look is not None:
        # To 16-bit RGB read with the source's own matrix (as the match read it), so the LUT sees the
        # colours it was computed from and the 10-bit encode loses nothing; ffmpeg-python escapes the path.
        v = v.filter("scale", **rgb_input_options(src)).filter("format", pix_fmts="rgb48le")
        v = v.filter("lut3d", file=os.path.abspath(look), interp="tetrahedral")
    v = fit_filters(v, src, target)
    v = v.filter("setsar", sar="1")
    return v.filter("format", pix_fmts=CODECS[target.codec].pix_fmt)


@dataclass(frozen=True)
class Part:
    """One segment of a clip made in segments: its file, the frames it shows, and the frames of its
    start it does not show (its first frame repeats the segment before's last: see shotfill.plan.segments)."""

    path: str
    frames: int
    skip: int = 0


def joined_argv(srcs: list[MediaInfo], parts: list[Part], dst: str | os.PathLike[str], target: ConformTarget, *,
                threads: int | None = None, look: str | os.PathLike[str] | None = None) -> list[str]:
    """The single ffmpeg command that joins ``parts`` frame-exactly into ``dst``. Runs nothing.

    Each input is retimed to the timeline rate and cut to its own frames (as :func:`conform_argv` cuts
    one clip), fitted to the target size on its own (segments may come back in different sizes), then
    the concat filter joins them and the one encode writes exactly ``target.frames``.  With sound asked
    for, each segment's sound is cut to the samples of the frames it shows and joined in the same concat
    (:func:`shotfill.media.audio.segment_filters`).
    """
    inputs = [ffmpeg.input(tools.file_url(src.path), **_decode_threads(threads)) for src in srcs]
    streams = [_fitted(_retimed(inp["v:0"], target.rate, part.frames, part.skip), src, target, look)
               for inp, src, part in zip(inputs, srcs, parts)]
    if not audio.joined_carries(target, srcs):
        v = tag_bt709(ffmpeg.concat(*streams, v=1, a=0))
        return tools.compile_argv(ffmpeg.output(v, tools.file_url(dst), **encode_kwargs(target, threads=threads)))
    # Each segment's sound cut to the frames it shows, joined with the picture in the same concat, then
    # made exactly the whole clip's samples as one clip's sound is (media.audio).
    channels = next(src.audio.channels for src in srcs if src.audio is not None)
    pairs: list[Any] = []
    shown = 0
    for inp, src, part, v in zip(inputs, srcs, parts, streams):
        pairs += [v, audio.segment_filters(inp["a:0"] if src.audio is not None else None, target, skip=part.skip,
                                           frames=part.frames, shown_before=shown, channels=channels)]
        shown += part.frames
    joined = ffmpeg.concat(*pairs, v=1, a=1).node
    # No -frames:v: it would end the output with the picture and cut the sound short (see conform_argv).
    kwargs = {k: x for k, x in encode_kwargs(target, threads=threads).items() if k not in ("an", "frames:v")}
    out = ffmpeg.output(tag_bt709(joined[0]), audio.filters(joined[1], target), tools.file_url(dst), **kwargs,
                        **audio.encode_kwargs(target))
    return tools.compile_argv(out)


def conform_joined(parts: list[Part], dst: str | os.PathLike[str], target: ConformTarget, *,
                   threads: int | None = None, look: str | os.PathLike[str] | None = None) -> MediaInfo:
    """:func:`conform` for a clip made in segments: one pass over every part, the result probed."""
    if sum(p.frames for p in parts) != target.frames:
        raise ConformError(f"{dst}: the segments show {sum(p.frames for p in parts)} frames, not the hole's "
                           f"{target.frames}")
    srcs = [probe(p.path) for p in parts]
    with atomic_path(Path(dst)) as tmp:
        tools.run(joined_argv(srcs, parts, tmp, target, threads=threads, look=look),
                  what=f"joining {len(parts)} segments into {Path(dst).name}")
        result = _checked(tmp, Path(dst), target, ", ".join(p.path for p in parts),
                          sound=audio.joined_carries(target, srcs))
    return result.model_copy(update={"path": str(dst)})


def last_shown_frame(part: Part, rate: Fraction, out_png: str | os.PathLike[str]) -> Path:
    """The last frame of ``part`` that the joined clip shows, through the same retime, as a PNG.

    This is the frame the next segment is asked to start on: taken by the conform's own chain, the
    join continues exactly from what the viewer last saw, whatever the service's rate and length.
    """
    v = _retimed(ffmpeg.input(tools.file_url(part.path))["v:0"], rate, 1, part.skip + part.frames - 1)
    with atomic_path(Path(out_png)) as tmp:
        # bitexact: the same file gives the same bytes, so the next segment's request hash is stable
        out = ffmpeg.output(v, tools.file_url(tmp), **{"frames:v": 1, "update": 1, "format": "image2", "c:v": "png",
                                                       "map_metadata": -1, "fflags": "+bitexact",
                                                       "flags:v": "+bitexact"})
        tools.run(tools.compile_argv(out), what=f"taking the last frame of {part.path}")
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise ConformError(f"ffmpeg wrote no picture for the last frame of {part.path}")
    return Path(out_png)


def tag_bt709(v: Any) -> Any:
    """Mark the frames BT.709, limited range, so the encoder writes it into the bitstream and container."""
    return v.filter("setparams", color_primaries=BT709, color_trc=BT709, colorspace=BT709, range="tv")


def encode_kwargs(target: ConformTarget, *, threads: int | None = None) -> dict[str, Any]:
    """Output options shared by conform and the synthetic renders, so both produce identical kinds of file."""
    spec = CODECS[target.codec]
    kwargs: dict[str, Any] = {
        "c:v": spec.encoder,
        "profile:v": spec.profile,
        "color_primaries": BT709,
        "color_trc": BT709,
        "colorspace": BT709,
        "color_range": "tv",
        "frames:v": target.frames,
        "timecode": target.timecode,
        "an": None,
        "sn": None,
        "dn": None,
        "map_metadata": -1,
        "map_chapters": -1,
        "format": spec.muxer,
        **dict(spec.extra),
    }
    if threads:
        # The run's share of the cores binds the filter graph too, not only the codecs: filters (scale,
        # lut3d) otherwise slice-thread over every core, and conforms side by side (or a Dask worker of
        # one thread sharing the machine with others) would oversubscribe it. Global options, which
        # ffmpeg takes in an output's place as well.
        kwargs.update(threads=threads, filter_threads=threads, filter_complex_threads=threads)
    return kwargs


def rgb_input_options(src: MediaInfo) -> dict[str, Any]:
    """``scale`` options that read ``src`` into RGB with the matrix the conform assumes for it."""
    if src.color_space is None:
        # Untagged video: HD and up is BT.709 in practice, SD is BT.601 (swscale's own default).
        return {"in_color_matrix": BT709 if src.height >= 720 else "bt601"}
    return {}


def fit_filters(v: Any, src: MediaInfo, target: ConformTarget) -> Any:
    """Scale (with the BT.709 conversion) and crop or pad ``v`` from ``src``'s size to the target's."""
    w, h = target.width, target.height
    display_w = src.width * _sar(src.sample_aspect_ratio)
    scale_opts: dict[str, Any] = {"out_color_matrix": BT709, "out_range": "tv", **rgb_input_options(src)}

    if target.fit is Fit.STRETCH:
        return v.filter("scale", w=w, h=h, **scale_opts)

    if target.fit is Fit.FILL:
        f = max(Fraction(w) / display_w, Fraction(h, src.height))
        sw, sh = max(w, _even(display_w * f)), max(h, _even(src.height * f))
        v = v.filter("scale", w=sw, h=sh, **scale_opts)
        if (sw, sh) != (w, h):
            v = v.filter("crop", w=w, h=h, x=_even(Fraction(sw - w, 2), down=True), y=_even(Fraction(sh - h, 2), down=True))
        return v

    f = min(Fraction(w) / display_w, Fraction(h, src.height))
    sw, sh = min(w, _even(display_w * f)), min(h, _even(src.height * f))
    v = v.filter("scale", w=sw, h=sh, **scale_opts)
    if (sw, sh) != (w, h):
        v = v.filter("pad", w=w, h=h, x=_even(Fraction(w - sw, 2), down=True), y=_even(Fraction(h - sh, 2), down=True),
                     color="black")
    return v


def _sar(text: str | None) -> Fraction:
    try:
        num, _, den = (text or "1:1").partition(":")
        value = Fraction(int(num), int(den or 1))
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return value if value > 0 else Fraction(1)


def _even(x: Fraction | int, *, down: bool = False) -> int:
    # Even sizes and offsets keep 4:2:2 / 4:2:0 chroma aligned.
    half = Fraction(x) / 2
    n = int(half) if down else round(half)
    return max(0 if down else 2, 2 * n)


def matches(info: MediaInfo, target: ConformTarget) -> bool:
    """True when ``info`` can be used as it is: only its timecode may still differ."""
    # Sound too: none unless asked for, and then exactly the PCM the conform makes.
    return picture_matches(info, target) and audio.matches(info.audio, target, source_has=info.audio is not None)


def picture_matches(info: MediaInfo, target: ConformTarget) -> bool:
    """True when ``info``'s picture needs no encode (its timecode and sound may still differ)."""
    spec = CODECS[target.codec]
    return (
        (info.width, info.height) == (target.width, target.height)
        and info.rate == target.rate
        and info.frames == target.frames
        and info.codec == spec.codec_name
        and info.profile == spec.profile_name
        and info.pix_fmt == spec.pix_fmt
        and info.sample_aspect_ratio in (None, "1:1")
        and (info.color_primaries, info.color_transfer, info.color_space) == (BT709, BT709, BT709)
    )


def problems(info: MediaInfo, target: ConformTarget, *, sound: bool = False) -> list[str]:
    """What is wrong with a conformed file, in an editor's words; empty when it is right.

    ``sound``: the file must carry the clip's sound (asked for, and the source had some).
    """
    spec = CODECS[target.codec]
    found: list[str] = audio.problems(info.audio, target, sound)
    if (info.width, info.height) != (target.width, target.height):
        found.append(f"size is {info.width}x{info.height}, not {target.width}x{target.height}")
    if info.rate != target.rate:
        found.append(f"rate is {rate_str(info.rate)} fps, not {rate_str(target.rate)}")
    if info.frames != target.frames:
        found.append(f"it has {info.frames} frames, not {target.frames}")
    if info.codec != spec.codec_name:
        found.append(f"codec is {info.codec}, not {spec.codec_name}")
    if info.timecode != target.timecode:
        found.append(f"timecode starts at {info.timecode or 'nothing'}, not {target.timecode}")
    colour = (info.color_primaries, info.color_transfer, info.color_space)
    if colour != (BT709, BT709, BT709):
        found.append("colour is tagged " + "/".join(c or "unknown" for c in colour)
                     + " (primaries/transfer/matrix), not bt709/bt709/bt709")
    return found


def frames_at(src: MediaInfo, rate: Fraction) -> int:
    """How many frames ``src`` gives at ``rate`` (what the ``fps`` filter keeps), before any hold."""
    if src.rate <= 0:
        return src.frames
    exact = Fraction(src.frames) * Fraction(rate) / Fraction(src.rate)
    return int(exact + Fraction(1, 2))   # half up, in exact fractions


def length_check(src_path: str | os.PathLike[str], target: ConformTarget) -> list[str]:
    """Warnings for a source short of ``target.frames``; ConformError past :data:`PAD_MAX_SHARE` of the hole.

    Conform holds the last frame of a short source, which is right for a frame or two of a
    service's rounding and wrong for a clip that stops well before the hole ends.
    """
    src = probe(src_path)
    have = frames_at(src, target.rate)
    held = target.frames - have
    if held <= PAD_QUIET_FRAMES:
        return []
    share = Fraction(held, target.frames)
    what = (f"the generated clip {src_path} has {src.frames} frames at {src.width}x{src.height} and "
            f"{rate_str(src.rate)} fps, {have} at the timeline's {rate_str(target.rate)} fps, for a "
            f"{target.frames}-frame hole")
    if share > PAD_MAX_SHARE:
        raise ConformError(
            f"{what}: its last frame would be held for {held} frames ({float(share):.0%} of the hole, more than "
            f"the {float(PAD_MAX_SHARE):.0%} allowed), so it was not placed",
            hint="the clip is kept (journal and cache), so a later run does not pay for it again; choose a model "
                 "or duration that covers the hole, or shorten the placeholder")
    return [f"{what}: its last frame is held for the last {held} frames ({float(share):.0%} of the hole)"]


def conform(
    src_path: str | os.PathLike[str], dst: str | os.PathLike[str], target: ConformTarget,
    *, threads: int | None = None, look: str | os.PathLike[str] | None = None,
) -> MediaInfo:
    """Write ``dst`` as ``target`` asks from ``src_path`` and return what it now holds.

    ``look``: a ``.cube`` LUT applied in the same single pass (so a clip with one is always encoded).
    Raises ConformError (and leaves no ``dst``) when the result is not exactly
    the size, rate, frame count, codec and timecode asked for.
    """
    dst = Path(dst)
    if dst.suffix.lower() != target.codec.suffix:
        raise UsageError(
            f"{dst} must end in {target.codec.suffix} for {target.codec.value}",
            hint=f"name the output *{target.codec.suffix} or choose another codec",
        )
    src = probe(src_path)
    same_file = dst.exists() and os.path.samefile(src_path, dst)
    if same_file and look is None and matches(src, target) and src.timecode == target.timecode:
        return src

    with atomic_path(dst) as tmp:
        sound_to_make = audio.carries(target, src) and not matches(src, target)
        if look is not None or not picture_matches(src, target) or sound_to_make:
            tools.run(conform_argv(src, tmp, target, threads=threads, look=look), what=f"conforming {src_path}")
        elif (src.timecode == target.timecode and Path(src_path).suffix.lower() == dst.suffix.lower()
              and matches(src, target)):
            # Same bytes: a hard link costs no disk (media never changes once written).
            try:
                os.link(src_path, tmp)
            except OSError:
                shutil.copyfile(src_path, tmp)
        else:
            # A new timecode, or sound not asked for to drop: a stream copy either way.
            tools.run(_restamp_argv(src, tmp, target), what=f"setting the timecode of {src_path}")
        result = _checked(tmp, dst, target, str(src_path), sound=audio.carries(target, src))
    return result.model_copy(update={"path": str(dst)})


def _checked(tmp: Path, dst: Path, target: ConformTarget, source: str, *, sound: bool = False) -> MediaInfo:
    """What ffprobe finds in the written file; ConformError unless it is exactly what was asked."""
    result = probe(tmp)
    wrong = problems(result, target, sound=sound)
    if wrong:
        raise ConformError(
            f"{dst}: the conformed file is wrong: " + "; ".join(wrong),
            hint=f"the source {source} may be damaged or unusual; check it plays, or re-export it",
        )
    return result


def _restamp_argv(src: MediaInfo, dst: str | os.PathLike[str], target: ConformTarget) -> list[str]:
    """Stream copy that only rewrites the container (and so the timecode track)."""
    spec = CODECS[target.codec]
    inp = ffmpeg.input(tools.file_url(src.path))
    # Sound already exact (``matches``) is copied with the picture; otherwise there is none to keep.
    streams = [inp["v:0"], inp["a:0"]] if audio.carries(target, src) else [inp["v:0"]]
    sound: dict[str, Any] = {"c:a": "copy"} if len(streams) > 1 else {"an": None}
    out = ffmpeg.output(
        *streams, tools.file_url(dst),
        **{"c:v": "copy", "timecode": target.timecode, **sound, "sn": None, "dn": None,
           "map_metadata": -1, "map_chapters": -1, "format": spec.muxer, **dict(spec.extra)},
    )
    return tools.compile_argv(out)
