"""Render the neighbour media the sample timelines point at (media/*.mov).

Media is made on demand rather than committed: each clip is a few seconds of
a synthetic picture with its name and source timecode burned in, carrying
the timecode its timeline expects.  Run: ``python sample_timelines/make_media.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shotfill.media.tools import ffmpeg_path, font_file, run

HERE = Path(__file__).resolve().parent
MEDIA = HERE / "media"

#: file -> (lavfi source, source timecode of frame 0, frames); all 640x360 at 24000/1001
CLIPS = {
    "shot_a.mov": ("testsrc2=s=640x360:r=24000/1001", "00:00:10:00", 96),
    "shot_b.mov": ("mandelbrot=s=640x360:r=24000/1001", "00:00:20:00", 96),
    "shot_c.mov": ("life=s=640x360:r=24000/1001:seed=1987:mold=10:ratio=0.1:death_color=#203050:life_color=#d0a060", "00:00:30:00", 96),
}


def render(name: str, source: str, timecode: str, frames: int) -> Path:
    out = MEDIA / name
    if out.exists():
        return out
    MEDIA.mkdir(exist_ok=True)
    font = font_file()
    # The names are this script's own constants (letters, digits, underscores): safe in a filter.
    text = f"drawtext=text='{Path(name).stem}':fontsize=28:fontcolor=white:box=1:boxcolor=black@0.5:x=16:y=16"
    tc = (f"drawtext=timecode='{timecode.replace(':', chr(92) + ':')}':timecode_rate=24000/1001:"
          "fontsize=24:fontcolor=yellow:box=1:boxcolor=black@0.5:x=16:y=h-40")
    if font:
        esc = font.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
        text += f":fontfile='{esc}'"
        tc += f":fontfile='{esc}'"
    argv = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
            "-vf", f"{text},{tc},format=yuv420p", "-frames:v", str(frames), "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "23", "-timecode", timecode, str(out.with_suffix(".tmp.mov"))]
    run(argv, what=f"making sample media {name}")
    out.with_suffix(".tmp.mov").replace(out)
    return out


def main() -> int:
    for name, (source, tc, frames) in CLIPS.items():
        print(f"media: {render(name, source, tc, frames)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
