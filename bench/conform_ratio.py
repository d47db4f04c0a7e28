"""How much does ShotFill's conform() cost over the fastest hand-written ffmpeg command?

Makes a 1280x720 25 fps H.264 source (120 frames of testsrc2), then produces
the same 1920x1080 24000/1001 ProRes 422 HQ, 115-frame, BT.709, timecoded
file twice: with ``conform()`` (probe + one ffmpeg pass + verifying probe)
and with single hand-written ffmpeg commands.  Prints the best of 3 for each
and the ratio; the goal is <= 1.05.  Not a test: run ``python bench/conform_ratio.py``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT / "otio_adapters"), str(ROOT / "bench")]

import _builds  # noqa: E402

sys.argv[1:] = _builds.choose(sys.argv[1:])

from shotfill.media import tools  # noqa: E402
from shotfill.media.conform import conform  # noqa: E402
from shotfill.media.probe import probe  # noqa: E402
from shotfill.model import Codec, ConformTarget  # noqa: E402

WORK = ROOT / "bench" / "_work"
RUNS = 3
TARGET = ConformTarget(width=1920, height=1080, rate="24000/1001", frames=115,
                       timecode="01:00:00:00", codec=Codec.PRORES)


def make_source() -> Path:
    src = WORK / "src_1280x720_25.mp4"
    if not src.exists():
        tools.run([tools.ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                   "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25", "-frames:v", "120",
                   "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(src)],
                  what="making the bench source")
    return src


def hand_commands(src: Path, out: Path) -> dict[str, list[str]]:
    """Single commands an ffmpeg expert would type for the same file (same pixels, tags, timecode)."""
    common_in = [tools.ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(src)]
    common_out = ["-frames:v", "115", "-c:v", "prores", "-profile:v", "3",
                  "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
                  "-timecode", "01:00:00:00", "-an", str(out)]
    vf = ("fps=24000/1001,scale=1920:1080:in_color_matrix=bt709:out_color_matrix=bt709:out_range=tv,"
          "format=yuv422p10le")
    return {
        "-vf": [*common_in, "-vf", vf, *common_out],
        "-vf -r": [*common_in, "-vf", vf.replace("fps=24000/1001,", ""), "-r", "24000/1001", *common_out],
    }


def timed(fn: Callable[[], object], out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its ffmpeg/ffprobe children)."""
    out.unlink(missing_ok=True)  # both sides write a fresh file
    c0, t0 = os.times(), time.perf_counter()
    fn()
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = sum(getattr(c1, f) - getattr(c0, f) for f in ("user", "system", "children_user", "children_system"))
    return wall, cpu


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    WORK.mkdir(parents=True, exist_ok=True)
    src = make_source()
    ours_out, hand_out = WORK / "ours.mov", WORK / "hand.mov"
    hand = hand_commands(src, hand_out)

    # Interleaved rounds, so load from anything else on the box hits both sides alike.
    times: dict[str, list[tuple[float, float]]] = {"conform()": [], **{f"hand {k}": [] for k in hand}}
    for _ in range(runs):
        times["conform()"].append(timed(lambda: conform(src, ours_out, TARGET), ours_out))
        for name, argv in hand.items():
            times[f"hand {name}"].append(
                timed(lambda argv=argv: tools.run(argv, what="hand-written conform"), hand_out))
            info = probe(hand_out)
            assert (info.width, info.height, info.frames, info.rate) == (1920, 1080, 115, TARGET.rate), info

    wall = {name: min(t[0] for t in ts) for name, ts in times.items()}
    cpu = {name: min(t[1] for t in ts) for name, ts in times.items()}
    fastest = min((n for n in wall if n != "conform()"), key=wall.__getitem__)
    print(_builds.describe())
    print(f"source      {src.name}: 120 frames 1280x720 25 fps h264")
    print("target      1920x1080 24000/1001 ProRes HQ (prores), 115 frames")
    print(f"best of {runs}   wall s   cpu s")
    for name in wall:
        print(f"{name:<12}{wall[name]:7.3f} {cpu[name]:7.3f}")
    print(f"ratio       {wall['conform()'] / wall[fastest]:7.3f} {cpu['conform()'] / cpu[fastest]:7.3f}"
          f"  (conform() / '{fastest}'; goal <= 1.05)")
    print("conform() includes its source probe and verifying probe.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
