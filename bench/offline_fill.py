"""Offline fill at 1080p against a bare ProRes 422 HQ encode of as many frames, same ffmpeg.

    python bench/offline_fill.py [RUNS] [--ffmpeg pinned|system|PATH]

A timeline of five 1080p H.264 clips (24000/1001) with four 120-frame holes between them, each
tagged ``GEN:``, is filled with ``python -m shotfill fill ... --provider local --no-report`` in a
fresh process: neighbour frames, four bridges (hold, dissolve, hold, with burn-ins), conform,
write-back.  Beside it, one hand-written ffmpeg command encodes 480 frames of the neighbour
stills (each held for 120 frames) to ProRes 422 HQ at 1920x1080 with the same tags: the bare
encode of the same amount of picture.  The two sides are interleaved, best of RUNS.

Also timed: the neighbour frames alone (``plan.neighbour_frame`` on 1080p H.264, best of RUNS per
frame), goal <= 0.3 s per extracted frame.  The source clips have a 48-frame (2 s) GOP, as camera
and editorial H.264 usually has; a frame costs a decode from its keyframe, so a 250-frame GOP
costs more (printed too).  And per frame when a hole's two neighbours are taken together, as the
plan takes them: one ffmpeg, one start, for both.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT / "otio_adapters"), str(ROOT / "bench")]

import _builds  # noqa: E402

sys.argv[1:] = _builds.choose(sys.argv[1:])

import opentimelineio as otio  # noqa: E402

from shotfill.media import tools  # noqa: E402
from shotfill.media.probe import probe  # noqa: E402
from shotfill.model import Neighbour  # noqa: E402
from shotfill.plan.requests import neighbour_frame, neighbour_frames  # noqa: E402

WORK = ROOT / "bench" / "_work"
RATE = Fraction(24000, 1001)
W, H = 1920, 1080
HOLE = 120
HOLES = 4
SRC_FRAMES = 360
RUNS = 3


def ff(*args: str) -> None:
    tools.run([tools.ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
              what="bench media")


def make_sources() -> list[Path]:
    """Two 15 s 1080p H.264 clips (two moving test patterns), 2 s GOP, plus one with x264's 250."""
    WORK.mkdir(parents=True, exist_ok=True)
    out = []
    for name, graph, gop in (("a", "testsrc2", 48), ("b", "testsrc", 48), ("c", "testsrc2", 250)):
        path = WORK / f"src_{name}_1080p_gop{gop}.mp4"
        if not path.exists():
            ff("-f", "lavfi", "-i", f"{graph}=s={W}x{H}:r=24000/1001", "-frames:v", str(SRC_FRAMES),
               "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop), "-pix_fmt", "yuv420p", str(path))
        out.append(path)
    return out


def build_timeline(path: Path, sources: list[Path]) -> None:
    rt = lambda f: otio.opentime.RationalTime(f, RATE)  # noqa: E731
    tr = lambda s, d: otio.opentime.TimeRange(rt(s), rt(d))  # noqa: E731
    tl = otio.schema.Timeline(name="bench1080", global_start_time=rt(86400 * RATE))
    track = otio.schema.Track(name="V1", kind="Video")
    for i in range(HOLES + 1):
        src = sources[i % 2]
        ref = otio.schema.ExternalReference(target_url=src.as_uri(), available_range=tr(0, SRC_FRAMES))
        # In-points spread over the clip, so neighbour frames land at various depths of their GOP.
        track.append(otio.schema.Clip(name=f"shot{i}", media_reference=ref,
                                      source_range=tr(30 + 37 * i, 120)))
        if i < HOLES:
            gap = otio.schema.Gap(source_range=tr(0, HOLE))
            gap.markers.append(otio.schema.Marker(name=f"GEN: a slow push-in on shot {i} | seed={i}",
                                                  marked_range=tr(0, 1)))
            track.append(gap)
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(path))


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fill(tl: Path, work: Path) -> tuple[float, float]:
    out = work / "out" / "filled.otio"
    env = {**os.environ, "SHOTFILL_FFMPEG": tools.ffmpeg_path(), "SHOTFILL_FFPROBE": tools.ffprobe_path(),
           "XDG_CONFIG_HOME": str(work / "xdg")}
    for d in (work / "out",):
        subprocess.run(["rm", "-rf", str(d)], check=True)
    t0, c0 = time.perf_counter(), cpu_seconds()
    proc = subprocess.run([sys.executable, "-m", "shotfill", "fill", str(tl), "-o", str(out), "--provider", "local",
                           "--no-report", "--quiet"], env=env, capture_output=True, text=True, cwd=work)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    if proc.returncode != 0:
        raise SystemExit(f"fill failed ({proc.returncode}): {proc.stderr[-2000:]}")
    clips = sorted((work / "out" / "filled_media").glob("*.mov"))
    assert len(clips) == HOLES, clips
    for c in clips:
        info = probe(c)
        assert (info.width, info.height, info.frames, info.rate) == (W, H, HOLE, RATE), info
    return wall, cpu


def hand_encode(stills: list[Path], work: Path) -> tuple[float, float]:
    """One ffmpeg: each still scaled once and held 120 frames, concatenated, ProRes 422 HQ, BT.709 tags."""
    inputs: list[str] = []
    for s in stills:
        inputs += ["-i", str(s)]
    # BT.709 pixels under BT.709 tags (scale's default matrix is BT.601's), as the fill writes them.
    chains = "".join(f"[{i}:v]scale={W}:{H}:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv422p10le,"
                     f"setpts=PTS-STARTPTS,fps=24000/1001,tpad=stop=-1:stop_mode=clone,trim=end_frame={HOLE}[v{i}];" for i in range(len(stills)))
    graph = chains + "".join(f"[v{i}]" for i in range(len(stills))) + f"concat=n={len(stills)}:v=1:a=0[out]"
    out = work / "hand.mov"
    argv = [tools.ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *inputs,
            "-filter_complex", graph, "-map", "[out]", "-frames:v", str(HOLE * HOLES),
            "-c:v", "prores", "-profile:v", "3", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-colorspace", "bt709", "-timecode", "01:00:00:00", "-f", "mov", str(out)]
    t0, c0 = time.perf_counter(), cpu_seconds()
    tools.run(argv, what="hand-written encode")
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert probe(out).frames == HOLE * HOLES
    return wall, cpu


def neighbour_seconds(src: Path, frames: list[int], work: Path, runs: int) -> float:
    """Best-of-runs seconds per extracted frame, through the planner's own call."""
    best = []
    for i, f in enumerate(frames):
        nb = Neighbour(kind="clip", name="n", media_path=str(src), source_frame=f, source_rate=str(RATE),
                       available_start=0)
        times = []
        for r in range(runs):
            png = work / f"nb_{i}_{r}.png"
            t0 = time.perf_counter()
            assert neighbour_frame(nb, png) is not None
            times.append(time.perf_counter() - t0)
        best.append(min(times))
    return sum(best) / len(best)


def pair_seconds(srcs: tuple[Path, Path], frames: list[int], work: Path, runs: int) -> float:
    """Best-of-runs seconds per extracted frame when a hole's two neighbours are taken together, as the plan
    takes them (one ffmpeg for both: its start is paid once)."""
    best = []
    for i, f in enumerate(frames):
        nbs = [Neighbour(kind="clip", name="n", media_path=str(src), source_frame=f, source_rate=str(RATE),
                         available_start=0) for src in srcs]
        times = []
        for r in range(runs):
            t0 = time.perf_counter()
            got = neighbour_frames([(nb, work / f"pair_{i}_{r}_{k}.png") for k, nb in enumerate(nbs)])
            times.append(time.perf_counter() - t0)
            assert all(got)
        best.append(min(times) / len(srcs))
    return sum(best) / len(best)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    print(_builds.describe())
    _builds.compile_package()
    sources = make_sources()
    with tempfile.TemporaryDirectory(prefix="shotfill-bench-") as d:
        work = Path(d)
        tl = work / "bench.otio"
        build_timeline(tl, sources)
        stills = []
        for i in range(HOLES):
            png = work / f"still{i}.png"
            ff("-i", str(sources[i % 2]), "-vf", f"select=eq(n\\,{30 + 37 * i + 119})", "-frames:v", "1",
               "-update", "1", str(png))
            stills.append(png)
        fills, hands = [], []
        for _ in range(runs):   # interleaved, so the machine's other load hits both sides alike
            fills.append(fill(tl, work))
            hands.append(hand_encode(stills, work))
        frames = [40, 95, 150, 205, 286]
        per_frame = neighbour_seconds(sources[0], frames, work, runs)
        per_frame_long_gop = neighbour_seconds(sources[2], frames, work, runs)
        per_frame_pair = pair_seconds((sources[0], sources[1]), frames, work, runs)
    t_fill, t_hand = min(w for w, _ in fills), min(w for w, _ in hands)
    c_fill, c_hand = min(c for _, c in fills), min(c for _, c in hands)
    print(f"timeline    {HOLES} holes x {HOLE} frames, {W}x{H} {RATE.numerator}/{RATE.denominator}, --provider local")
    print(f"best of {runs}   fill {t_fill:6.2f} s   hand-written ProRes HQ encode of {HOLE * HOLES} frames {t_hand:6.2f} s")
    print(f"ratio       {t_fill / t_hand:6.2f}  (fill / bare encode, wall; goal <= 1.5)")
    print(f"cpu         fill {c_fill:6.2f} s   hand {c_hand:6.2f} s   ratio {c_fill / c_hand:.2f} (user+system, all processes)")
    print(f"neighbour   {per_frame:6.3f} s per extracted frame, 1080p H.264, 48-frame GOP (goal <= 0.3)")
    print(f"            {per_frame_pair:6.3f} s per extracted frame, a hole's two neighbours in one ffmpeg as the plan "
          "takes them (goal <= 0.3)")
    print(f"            {per_frame_long_gop:6.3f} s per extracted frame with a 250-frame GOP (decode from the keyframe)")
    print(f"load        {open('/proc/loadavg').read().split()[0]} (1-min load average at the end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
