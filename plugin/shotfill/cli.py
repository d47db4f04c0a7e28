"""The ``shotfill`` command line.

    shotfill scan TIMELINE [--rate R] [--resolution WxH] [--json]
    shotfill fill TIMELINE -o OUTPUT [--provider NAME] [--media-dir DIR] ...

Exit codes: 0 all filled (or scanned); 1 some placeholders failed (the output
holds every success); 2 bad input or usage, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

from shotfill import __version__
from shotfill.errors import ShotFillError, UsageError
from shotfill.model import Codec
from shotfill.rates import frames_to_timecode, parse_rate, rate_str

EPILOG = """\
examples:
  shotfill scan cut.edl --rate 23.976
  shotfill fill cut.otio -o filled/cut.otio
  shotfill fill cut.edl --rate 24000/1001 --resolution 1920x1080 -o cut_filled.edl --codec h264
"""


def parse_resolution(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not m or int(m[1]) <= 0 or int(m[2]) <= 0:
        raise UsageError(f"'{text}' is not a frame size", hint="write it as WIDTHxHEIGHT, e.g. 1920x1080")
    w, h = int(m[1]), int(m[2])
    if w % 2 or h % 2:
        raise UsageError(f"frame size {w}x{h} must have even width and height",
                         hint="video codecs need even sizes, e.g. 1920x1080")
    return w, h


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on its own; keep our message style
        raise UsageError(message, hint=f"see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="shotfill", description="Fill GEN: placeholders in an edit with generated footage.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"shotfill {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("timeline", type=Path, help="EDL, FCP 7 XML, FCPXML, OTIO, AAF ...")
        sp.add_argument("--rate", help="timeline frame rate; needed for EDLs (23.976, 24000/1001, 25, 29.97 ...)")
        sp.add_argument("--resolution", help="frame size WxH when the timeline does not say")
        sp.add_argument("--media-search", action="append", type=Path, default=[], metavar="DIR",
                        help="another folder to look for the neighbours' media in (repeatable)")

    sp = sub.add_parser("scan", help="list the placeholders of a timeline")
    common(sp)
    sp.add_argument("--json", action="store_true", help="print a JSON array")

    fp = sub.add_parser("fill", help="generate, conform and place clips; write a new timeline")
    common(fp)
    fp.add_argument("-o", "--output", type=Path, required=True,
                    help="the filled timeline; its suffix picks the format (.otio .otioz .edl .xml .fcpxml)")
    fp.add_argument("--provider", help="generation provider (default: local, the offline generator)")
    fp.add_argument("--model", help="provider model")
    fp.add_argument("--media-dir", type=Path, help="where generated media goes (default: OUTPUT_media/ beside OUTPUT)")
    fp.add_argument("--codec", choices=[c.value for c in Codec], default=Codec.PRORES.value,
                    help="prores (ProRes 422 HQ .mov, default), prores_ks (slower encoder), dnxhr (DNxHR HQ .mov), h264 (.mp4)")
    fp.add_argument("--relative-paths", action="store_true",
                    help="write media paths relative to OUTPUT instead of absolute")
    fp.add_argument("--concurrency", type=int, default=4, help="generations at once (default 4)")
    fp.add_argument("--allow-stray-markers", action="store_true",
                    help="fill what can be filled even if some GEN: markers cover no placeholder")
    fp.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    return p


def _common(args: argparse.Namespace) -> tuple[Optional[Fraction], Optional[tuple[int, int]]]:
    rate = parse_rate(args.rate) if args.rate else None
    res = parse_resolution(args.resolution) if args.resolution else None
    if not args.timeline.exists():
        raise UsageError(f"{args.timeline}: no such file", hint="check the path of the timeline")
    return rate, res


def cmd_scan(args: argparse.Namespace) -> int:
    from shotfill.pipeline import load

    rate, res = _common(args)
    loaded = load(args.timeline, rate=rate, resolution=res, media_search=args.media_search)
    scan, info = loaded.scan, loaded.info
    for w in scan.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        rows = []
        for ph in scan.placeholders:
            row = ph.model_dump(mode="json")
            row["width"], row["height"] = info.width, info.height
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return 0
    size = f"{info.width}x{info.height} ({loaded.size_from})" if info.width else "size unknown: pass --resolution"
    dfmt = (" DF" if info.drop_frame else " NDF") if info.rate.denominator == 1001 else ""
    print(f"{args.timeline}: {loaded.read.format}, {rate_str(info.rate)} fps{dfmt}, "
          f"starts {frames_to_timecode(info.start_frame, info.rate, info.drop_frame)}, {size}")
    if not scan.placeholders:
        print("  no placeholders (mark a gap or slug with a 'GEN: <prompt>' marker)")
    for ph in scan.placeholders:
        opts = " ".join(f"{k}={v}" for k, v in ph.options.model_dump(mode="json", exclude_none=True).items())
        print(f"  {ph.id}  {ph.track}  {ph.timecode}  start {ph.start}  duration {ph.duration}  "
              f"{ph.kind} (note on {ph.marker_on})")
        print(f"      prompt: {ph.prompt}" + (f"   [{opts}]" if opts else ""))
        nb = lambda n: "none" if n is None else (f"{n.name} ({'media found' if n.media_path else 'no media'})"
                                                 if n.kind == "clip" else n.kind)
        print(f"      before: {nb(ph.before)}   after: {nb(ph.after)}")
        for prob in ph.problems:
            print(f"      PROBLEM: {prob}")
    return 0


def cmd_fill(args: argparse.Namespace) -> int:
    from shotfill.pipeline import FillSettings, fill

    rate, res = _common(args)
    settings = FillSettings(output=args.output, provider=args.provider, model=args.model,
                            media_dir=args.media_dir, codec=Codec(args.codec),
                            relative_paths=args.relative_paths, concurrency=args.concurrency,
                            media_search=args.media_search, allow_stray_markers=args.allow_stray_markers)

    def on_event(pid: str, stage: str, detail: str) -> None:
        if not args.quiet:
            print(f"  {pid:<24} {stage:<9} {detail}", file=sys.stderr, flush=True)

    result = fill(args.timeline, settings, rate=rate, resolution=res, on_event=on_event)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    ok = [o for o in result.outcomes if o.ok]
    print(f"{args.timeline} -> {result.output}: {len(ok)} of {len(result.outcomes)} placeholder(s) filled; "
          f"media in {result.media_dir}")
    for o in result.failed:
        print(f"  FAILED {o.placeholder.id} at {o.placeholder.timecode}: {o.error}")
    return 1 if result.failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return {"scan": cmd_scan, "fill": cmd_fill}[args.command](args)
    except ShotFillError as exc:
        print(f"shotfill: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("shotfill: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
