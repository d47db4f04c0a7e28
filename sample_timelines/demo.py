"""`make demo`: fill the sample timeline with the offline generator.

Renders the neighbour media the samples point at, fills the three sample
timelines (OTIO, EDL, FCP 7 XML) in one batch run into ``demo_output/``,
then re-reads the OTIO output and measures every generated clip with
ffprobe, so what it prints is checked, not assumed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import opentimelineio as otio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import make_media  # noqa: E402

from shotfill.cli.app import main as shotfill  # noqa: E402
from shotfill.media.probe import probe  # noqa: E402
from shotfill.rates import rate_str  # noqa: E402


def run() -> int:
    make_media.main()
    out_dir = ROOT / "demo_output"
    inputs = [HERE / "coast.otio", HERE / "coast.edl", HERE / "coast.xml"]
    # One batch: the EDL needs the rate and size its format cannot carry; the others agree.
    argv = ["fill", *map(str, inputs), "-o", str(out_dir), "--rate", "23.976", "--resolution", "640x360"]
    print(f"\n$ shotfill {' '.join(argv)}", flush=True)
    code = shotfill(argv)
    if code != 0:
        return code
    results = [out_dir / p.name for p in inputs]

    print("\nChecked by re-reading the output and probing the media:")
    tl = otio.adapters.read_from_file(str(results[0]))
    picks: list[str] = []
    for clip in tl.find_clips():
        if "shotfill" not in clip.metadata:
            continue
        path = otio.url_utils.filepath_from_url(clip.media_reference.target_url)
        info = probe(path)
        where = clip.range_in_parent().start_time.to_frames()
        print(f"  {clip.name:<22} record frame {where:>4}  {clip.duration().to_frames():>3} frames in timeline | "
              f"file: {info.frames} frames {info.width}x{info.height} @ {rate_str(info.rate)} tc {info.timecode}")
        refs = clip.media_references()
        if len(refs) > 1:
            # takes=3 in its note: every take is a media reference of the one clip, the active one shown
            for key, ref in refs.items():
                take = probe(otio.url_utils.filepath_from_url(ref.target_url))
                mark = " (active)" if key == clip.active_media_reference_key else ""
                print(f"    {key}{mark:<9} {Path(take.path).name}: {take.frames} frames")
            picks.append(clip.metadata["shotfill"]["placeholder_id"])
    for pid in picks:
        picked = out_dir / "coast_take2.otio"
        argv = ["pick", str(results[0]), f"{pid}=2", "-o", str(picked)]
        print(f"\n$ shotfill {' '.join(argv)}", flush=True)
        if shotfill(argv) != 0:
            return 1
        results.append(picked)
    print("\nOutputs:")
    for r in results:
        print(f"  {r}")
    print(f"  media: {out_dir / 'coast_media'}")
    print(f"  report: {out_dir / 'report.html'} (open it in a browser)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
