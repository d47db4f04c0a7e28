"""What a video file really holds, read with ffprobe: size, exact rate, exact frame count.

The frame count is the number of frames a decoder delivers, because that is
what conform and frame extraction see.  Containers usually know it (the
``nb_frames`` sample count), but an edit list (a stream-copied cut of an
mp4) keeps samples that are never shown, so three cheap figures are read in
one demux pass: ``nb_frames``, the counted packets, and duration x rate.  When
all three agree (the duration to within 1/20 frame) the count is taken; otherwise the stream is decoded and its
frames counted, which is exact but costs a decode.

A file is read once per process: answers are kept by the file's identity
(device, inode, size and modification time; a rename or a link keeps them) and the ffprobe that gave
them, so a render, its rename into place and a hard link of it cost one
ffprobe, and a file written again is read again.  Callers that ask for the same file at the same
time (two placeholders beside one shot, planned in parallel) share one ffprobe: the second waits
for the first's answer instead of starting its own.

Counting the packets demuxes the whole file, which on a long camera original used as a
neighbour costs seconds.  It is asked for where the file's frame count is what is checked (a
downloaded clip, a conformed result, media conformed as a clip): ``exact=True``, the default.
Locating a frame in a neighbour's media (``exact=False``) takes the container's sample count when
it agrees with duration x rate, and decodes to count otherwise, as before; an exact answer serves
a locating caller, never the other way round.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path
from typing import Any

from shotfill.errors import MediaError
from shotfill.media import tools
from shotfill.model import AudioInfo, MediaInfo
from shotfill.rates import normalize_rate

_UNKNOWN = {"", "unknown", "unspecified", "N/A", "0:1", "0/0"}

#: identity -> (answer, start offset, whether the packets were counted)
_KNOWN: OrderedDict[tuple[object, ...], tuple[MediaInfo, Fraction | None, bool]] = OrderedDict()
_KNOWN_MAX = 512
_KNOWN_LOCK = threading.Lock()
#: identity -> the ffprobe reading it now, which callers asking for the same file wait for
_READING: dict[tuple[object, ...], "_Reading"] = {}


class _Reading:
    """One ffprobe in flight: whether it counts packets, and (once done) its error, if it failed."""

    def __init__(self, path: Path, exact: bool) -> None:
        self.path, self.exact = path, exact
        self.done = threading.Event()
        self.error: BaseException | None = None


def probe(path: str | os.PathLike[str], *, exact: bool = True) -> MediaInfo:
    """Describe the first video stream of ``path``; MediaError naming the file if it has none.

    ``exact=False``: the frame count may be the container's own when it agrees with the duration
    (see the module doc); for locating frames and reading sizes, not for checking a clip.
    """
    return probe_for_seek(path, exact=exact)[0]


def probe_for_seek(path: str | os.PathLike[str], *, exact: bool = True) -> tuple[MediaInfo, Fraction | None]:
    """:func:`probe`, and where the first frame's timestamp lies after the file's start, from the same ffprobe.

    The offset is None when frame index and time may disagree: a variable
    frame rate, or a container whose sample count had to be checked by
    decoding (an edit list); frames of such a file are found by decode index.
    """
    p = Path(path)
    try:
        st = p.stat()
        key: tuple[object, ...] = (tools.ffprobe_path(), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        return _probe(p, exact)     # not there: _probe says so, naming it
    while True:
        with _KNOWN_LOCK:
            known = _KNOWN.get(key)
            if known is not None and (known[2] or not exact):
                _KNOWN.move_to_end(key)
                return known[0].model_copy(update={"path": str(p)}), known[1]
            reading = _READING.get(key)
            if reading is None or (exact and not reading.exact):
                mine = _Reading(p, exact)
                if reading is None:
                    _READING[key] = mine
                break
        reading.done.wait()
        if reading.error is not None and reading.path == p:
            raise reading.error
        # It answered (the loop finds the answer) or failed for another name of the file: ask again.
    try:
        info, offset = _probe(p, exact)
    except BaseException as exc:
        mine.error = exc
        raise
    else:
        with _KNOWN_LOCK:
            if not (key in _KNOWN and _KNOWN[key][2] and not exact):
                _KNOWN[key] = (info, offset, exact)
            while len(_KNOWN) > _KNOWN_MAX:
                _KNOWN.popitem(last=False)
    finally:
        with _KNOWN_LOCK:
            if _READING.get(key) is mine:
                del _READING[key]
        mine.done.set()
    return info, offset


def _probe(p: Path, exact: bool) -> tuple[MediaInfo, Fraction | None]:
    if not p.is_file():
        raise MediaError(
            f"media file {p} does not exist" if not p.exists() else f"{p} is not a file",
            hint="check the path, or relink the clip in the timeline",
        )
    data = _ffprobe_json(p, ["-show_streams", "-show_format", *(["-count_packets"] if exact else [])])
    streams: list[dict[str, Any]] = data.get("streams") or []
    video = next(
        (s for s in streams
         if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")),
        None,
    )
    if video is None:
        raise MediaError(f"{p} has no video stream", hint="use a video file (.mov, .mp4, .mxf ...)")

    rate = _rate(video)
    if rate is None:
        raise MediaError(f"{p} has no usable frame rate", hint="re-export it at a constant frame rate")
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise MediaError(f"{p} has a video stream without a picture size")

    fmt = data.get("format") or {}
    if not exact and _one_picture(fmt, video):
        frames, from_container = 1, False   # a still (a neighbour frame PNG): read for its size, never counted
    else:
        frames, from_container = _frame_count(p, video, rate, exact)
    info = MediaInfo(
        path=str(p),
        width=width,
        height=height,
        rate=rate,
        frames=frames,
        codec=str(video.get("codec_name") or "unknown"),
        profile=_known(video.get("profile")),
        pix_fmt=_known(video.get("pix_fmt")),
        timecode=_timecode(video, streams, data.get("format") or {}),
        color_primaries=_known(video.get("color_primaries")),
        color_transfer=_known(video.get("color_transfer")),
        color_space=_known(video.get("color_space")),
        sample_aspect_ratio=_known(video.get("sample_aspect_ratio")),
        audio=_audio(streams),
    )
    return info, (_start_offset(video, data.get("format") or {}) if from_container else None)


#: demuxers that read one picture from a file (ffmpeg names them ``<codec>_pipe``; ``image2`` with a pattern)
_PICTURE_FORMATS = ("image2",)


def _one_picture(fmt: dict[str, Any], video: dict[str, Any]) -> bool:
    """A single still image: an image demuxer that gives no frame count (decoding to count would say 1)."""
    name = str(fmt.get("format_name") or "")
    return (name.endswith("_pipe") or name in _PICTURE_FORMATS) and _int(video.get("nb_frames")) is None \
        and int(fmt.get("nb_streams") or 0) == 1


def _audio(streams: list[dict[str, Any]]) -> AudioInfo | None:
    """The first audio stream: codec, rate, channels, and its samples where the container counts them."""
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if audio is None:
        return None
    rate = _int(audio.get("sample_rate")) or 0
    samples = None
    tb, ts = _fraction(audio.get("time_base")), _int(audio.get("duration_ts"))
    if tb is not None and ts is not None and rate > 0:
        exact = ts * tb * rate        # duration_ts at 1/sample_rate (mov, mp4) is the sample count
        samples = int(exact) if exact.denominator == 1 else None
    return AudioInfo(codec=str(audio.get("codec_name") or "unknown"), sample_rate=rate,
                     channels=_int(audio.get("channels")) or 0, samples=samples)


def _start_offset(video: dict[str, Any], fmt: dict[str, Any]) -> Fraction | None:
    if video.get("r_frame_rate") != video.get("avg_frame_rate"):
        return None      # variable rate: time says nothing exact about the index
    try:
        # -ss counts from the file's start; the video may start later than the audio.
        return max(Fraction(0), Fraction(str(video["start_time"])) - Fraction(str(fmt["start_time"])))
    except (KeyError, ValueError, ZeroDivisionError):
        return None


def _ffprobe_json(p: Path, args: list[str]) -> dict[str, Any]:
    argv = [tools.ffprobe_path(), "-v", "error", "-print_format", "json", *args, tools.file_url(p)]
    proc = tools.run(argv, what=f"ffprobe reading {p}")
    try:
        data: dict[str, Any] = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        raise MediaError(f"ffprobe gave unreadable output for {p}") from None
    return data


def _known(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in _UNKNOWN else text


def _fraction(text: object) -> Fraction | None:
    try:
        num, _, den = str(text).partition("/")
        value = Fraction(int(num), int(den or 1))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _rate(video: dict[str, Any]) -> Fraction | None:
    # avg_frame_rate is frames/duration; r_frame_rate is ffmpeg's guess of the
    # timestamp base and reads double for field-coded streams, so it is second.
    for key in ("avg_frame_rate", "r_frame_rate"):
        value = _fraction(video.get(key))
        if value is not None:
            return normalize_rate(value)
    return None


def _duration(video: dict[str, Any]) -> Fraction | None:
    tb = _fraction(video.get("time_base"))
    ts = video.get("duration_ts")
    if tb is not None and ts not in (None, "N/A"):
        return int(ts) * tb
    try:
        return Fraction(str(video["duration"]))
    except (KeyError, ValueError):
        return None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _frame_count(p: Path, video: dict[str, Any], rate: Fraction, exact: bool) -> tuple[int, bool]:
    """The shown frame count, and whether the container's own figures gave it.

    ``exact``: the counted packets must agree too (they were read); otherwise the sample count and
    the duration suffice.
    """
    nb_frames = _int(video.get("nb_frames"))
    packets = _int(video.get("nb_read_packets")) if exact else nb_frames
    duration = _duration(video)
    # Not rounded: an edit list that starts mid-frame leaves a fractional
    # duration, and that is exactly the case where samples != shown frames.
    if (nb_frames is not None and nb_frames == packets and duration is not None
            and abs(duration * rate - nb_frames) < Fraction(1, 20)):
        return nb_frames, True
    return _decoded_frame_count(p, int(video.get("index", 0))), False


def _decoded_frame_count(p: Path, index: int) -> int:
    data = _ffprobe_json(
        p, ["-select_streams", str(index), "-count_frames", "-show_entries", "stream=nb_read_frames"]
    )
    streams = data.get("streams") or [{}]
    count = _int(streams[0].get("nb_read_frames"))
    if count is None:
        raise MediaError(f"could not count the frames of {p}")
    return count


def _timecode(video: dict[str, Any], streams: list[dict[str, Any]], fmt: dict[str, Any]) -> str | None:
    # mov/mp4 keep it on the video stream and a tmcd data stream; mxf and some
    # writers only at the format level.
    candidates = [video, *(s for s in streams if s is not video), fmt]
    for entry in candidates:
        tc = (entry.get("tags") or {}).get("timecode")
        if tc:
            return str(tc)
    return None
