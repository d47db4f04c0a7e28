"""The ``shotfill`` command line.

    shotfill scan TIMELINE [--rate R] [--resolution WxH] [--json]
    shotfill fill TIMELINE -o OUTPUT [--provider NAME] [--media-dir DIR] ...

Exit codes: 0 all filled (or scanned); 1 some placeholders failed (the output
holds every success); 2 bad input or usage, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from typing import TYPE_CHECKING

from shotfill import __version__
from shotfill.system.children import stopping_like_ctrl_c
from shotfill.cli.parser import Parser
from shotfill.cli.farm import add_farm_parser, run_farm_command
from shotfill.cli.resolve import add_resolve_parser, run_resolve_command
from shotfill.config import Settings, load_settings
from shotfill.errors import ShotFillError, UsageError
from shotfill.system.files import os_failure
from shotfill.jobs.from_media import is_from_media
from shotfill.model import MAX_HANDLES, MAX_TAKES, Codec, Placeholder
from shotfill.pipeline import BatchItem, FillResult, FillSettings, dry_run, fill_many, load, plans
from shotfill.rates import frames_to_timecode, parse_rate, rate_str
from shotfill.system.secrets import ScrubbedStream

# Each command imports what only it needs (progress display, writers, providers, the report)
# in its own function: `shotfill scan` starts without them (tests/test_startup.py).
if TYPE_CHECKING:
    from shotfill.plan.preview import PlanPreview
    from shotfill.report.summary import ReportEntry

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


def _amount(text: str) -> float:
    """--max-cost: a finite amount, not below zero (nan would compare false and lift the budget)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an amount; write it like 40 or 12.5") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not an amount: give a number of 0 or more, like 40")
    return value


def _whole_number(what: str, most: int, least: int = 1) -> Callable[[str], int]:
    """An argument type: a whole number of ``what`` from ``least`` to ``most``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if not least <= value <= most:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number of {what}: give a whole number from {least} "
                                             f"to {most}")
        return value
    return parse


_count = _whole_number("jobs", 256)          # --concurrency
_takes = _whole_number("takes", MAX_TAKES)   # --takes
_handles = _whole_number("handle frames", MAX_HANDLES, least=0)   # --handles


def _common_args(sp: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        sp.add_argument("timeline", type=Path, nargs="+",
                        help="timelines (EDL, FCP 7 XML, FCPXML, OTIO, AAF ...), folders of them, or globs")
    else:
        sp.add_argument("timeline", type=Path, help="EDL, FCP 7 XML, FCPXML, OTIO, AAF ...")
    sp.add_argument("--config", type=Path, help="a shotfill.toml to use instead of ./shotfill.toml")
    sp.add_argument("--provider", help="generation provider (default: the config's, else local)")
    sp.add_argument("--model", help="provider model")
    sp.add_argument("--rate", help="timeline frame rate; needed for EDLs (23.976, 24000/1001, 25, 29.97 ...)")
    sp.add_argument("--resolution", help="frame size WxH when the timeline does not say")
    sp.add_argument("--media-search", action="append", type=Path, default=[], metavar="DIR",
                    help="another folder to look for the neighbours' media in (repeatable)")
    sp.add_argument("--takes", type=_takes, metavar="N",
                    help=f"takes per placeholder (1 to {MAX_TAKES}; a note's takes= wins; default: the "
                         "config's takes, else 1)")
    sp.add_argument("--prefer-handles", action="store_true",
                    help="fill a hole from a neighbour's own unused media wherever it covers the hole (free; "
                         "a note's source=handles asks for it per hole)")
    sp.add_argument("--handles", type=_handles, metavar="N",
                    help="frames generated before and after each hole, to trim or dissolve into (0 to "
                         f"{MAX_HANDLES}; a note's handles= wins; default: the config's handles, else 0)")
    sp.add_argument("--match", choices=("on", "off"),
                    help="bring each clip's colour and exposure toward the shots around its hole (default: on "
                         "when a neighbour frame can be read, unless the offline generator made it)")
    sp.add_argument("--markers", type=Path, metavar="FILE",
                    help="merge the markers of FILE onto the timeline (Resolve's 'Timeline Markers "
                         "to EDL' export, or any timeline ShotFill reads)")
    sp.add_argument("--audio", action="store_true",
                    help="ask models that make sound for it and place it on an audio track under each clip "
                         "(a note's audio=on|off wins; default: off)")


def fill_args(fp: argparse.ArgumentParser) -> None:
    """The arguments of ``fill`` (``farm export`` takes the same)."""
    _common_args(fp, many=True)
    fp.add_argument("-o", "--output", type=Path, required=True,
                    help="the filled timeline; its suffix picks the format (.otio .otioz .edl .xml .fcpxml .aaf); "
                         "with several timelines, a folder")
    fp.add_argument("--format", help="with an output folder: write every timeline as this format "
                                     "(otio, otioz, edl, xml, fcpxml, aaf); default: each input's own")
    fp.add_argument("--media-dir", type=Path, help="where generated media goes (default: OUTPUT_media/ beside OUTPUT)")
    fp.add_argument("--codec", choices=[c.value for c in Codec], default=Codec.PRORES.value,
                    help="prores (ProRes 422 HQ .mov, default), prores_ks (slower encoder), dnxhr (DNxHR HQ .mov), h264 (.mp4)")
    fp.add_argument("--relative-paths", action="store_true",
                    help="write media paths relative to OUTPUT instead of absolute")
    fp.add_argument("--absolute-media", action="store_true",
                    help="write the timeline's own relative media references as absolute paths "
                         "(default: rebased to OUTPUT's folder)")
    fp.add_argument("--concurrency", type=_count, default=4, help="generations at once (default 4)")
    fp.add_argument("--allow-long", action="store_true",
                    help="fill holes longer than 20 minutes (refused by default: usually a slip in the edit)")
    fp.add_argument("--allow-stray-markers", action="store_true",
                    help="fill what can be filled even if some GEN: markers cover no placeholder")
    fp.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    fp.add_argument("--dry-run", action="store_true",
                    help="print each request that would be sent (no secrets) and the estimated cost; send nothing")
    fp.add_argument("--json", action="store_true",
                    help="print a machine-readable summary (or, with --dry-run, the requests) on stdout")
    fp.add_argument("--max-cost", type=_amount, metavar="AMOUNT",
                    help="never submit a job that would take the run's estimated spend past AMOUNT; "
                         "the placeholders left out are listed as skipped")
    fp.add_argument("--resubmit", action="store_true",
                    help="send again a submit an earlier run may already have made (it may be paid twice)")
    fp.add_argument("--state-dir", type=Path,
                    help="journal and cache folder (default: .shotfill beside the outputs)")
    fp.add_argument("--no-report", action="store_true", help="do not write report.json / report.html")
    fp.add_argument("--executor", metavar="WHERE",
                    help="where media work runs: local (default), dask (a cluster of worker processes here), "
                         "or dask://HOST:PORT (an existing Dask scheduler); default: [executor] in shotfill.toml")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="shotfill", description="Fill GEN: placeholders in an edit with generated footage.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"shotfill {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    sp = sub.add_parser("scan", help="list the placeholders of a timeline")
    _common_args(sp)
    sp.add_argument("--json", action="store_true", help="print a JSON array")

    fp = sub.add_parser("fill", help="generate, conform and place clips; write a new timeline")
    fill_args(fp)

    kp = sub.add_parser("pick", help="make another take active in a timeline ShotFill filled with takes")
    kp.add_argument("timeline", type=Path, help="a timeline `shotfill fill` wrote (.otio .otioz .edl .xml .fcpxml)")
    kp.add_argument("picks", nargs="+", metavar="ID=K", help="placeholder id and take number (1-based)")
    kp.add_argument("-o", "--output", type=Path, required=True, help="the timeline to write, in the same format")

    pp = sub.add_parser("providers", help="list the providers, whether each is configured, and what it supports")
    pp.add_argument("--config", type=Path, help="a shotfill.toml to use instead of ./shotfill.toml")
    pp.add_argument("--json", action="store_true", help="print JSON")

    add_resolve_parser(sub)
    add_farm_parser(sub, fill_args)
    return p


def _common(args: argparse.Namespace) -> tuple[Optional[Fraction], Optional[tuple[int, int]]]:
    rate = parse_rate(args.rate) if args.rate else None
    res = parse_resolution(args.resolution) if args.resolution else None
    if not args.timeline.exists():
        raise UsageError(f"{args.timeline}: no such file", hint="check the path of the timeline")
    return rate, res


def _markers_arg(args: argparse.Namespace) -> Optional[Path]:
    if args.markers is not None and not args.markers.exists():
        raise UsageError(f"{args.markers}: no such file", hint="check the path given to --markers")
    return args.markers


def cmd_farm(args: argparse.Namespace) -> int:
    return run_farm_command(args, fill_settings, lambda argv: build_parser().parse_args(argv))


def cmd_resolve(args: argparse.Namespace) -> int:
    return run_resolve_command(args)


def _endpoint_lines(pairs: Iterable[tuple[str, Optional[dict[str, Any]]]]) -> list[str]:
    """A line per provider used: where its requests go and which setting says so."""
    lines: list[str] = []
    seen: set[str] = set()
    for name, ep in pairs:
        if name in seen or not ep or not ep.get("base_url"):
            continue
        seen.add(name)
        lines.append(f"provider {name}: {ep['base_url']} (set by {ep['base_url_source']})")
        if ep.get("refused"):
            lines.append(f"  REFUSED: {ep['refused']}")
    return lines


def cmd_scan(args: argparse.Namespace) -> int:
    rate, res = _common(args)
    settings = load_settings(args.config)
    loaded = load(args.timeline, rate=rate, resolution=res, media_search=args.media_search,
                  markers=_markers_arg(args))
    scan, info = loaded.scan, loaded.info
    planned = {row.id: row.plan_or_refusal()
               for row in plans(loaded, settings, provider=args.provider, model=args.model, takes=args.takes,
                                prefer_handles=args.prefer_handles, handles=args.handles, match=args.match,
                                audio=args.audio)}
    from shotfill.scan.runon import media_json, media_lines

    for w in scan.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        rows = []
        for ph in scan.placeholders:
            row = ph.model_dump(mode="json")
            row["width"], row["height"] = info.width, info.height
            row["plan"] = planned.get(ph.id)
            row["neighbour_media"] = media_json(ph)   # what text scan says as "media: ..." lines
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return 0
    size = f"{info.width}x{info.height} ({loaded.size_from})" if info.width else "size unknown: pass --resolution"
    dfmt = (" DF" if info.drop_frame else " NDF") if info.rate.denominator == 1001 else ""
    print(f"{args.timeline}: {loaded.read.format}, {rate_str(info.rate)} fps{dfmt}, "
          f"starts {frames_to_timecode(info.start_frame, info.rate, info.drop_frame)}, {size}")
    if not scan.placeholders:
        print("  no placeholders (mark a gap or slug with a 'GEN: <prompt>' marker)")
    for line in _endpoint_lines((p["provider"], p.get("endpoint")) for p in planned.values()):
        print("  " + line)
    for ph in scan.placeholders:
        opts = " ".join(f"{k}={v}" for k, v in ph.options.model_dump(mode="json", exclude_none=True).items())
        print(f"  {ph.id}  {ph.track}  {ph.timecode}  start {ph.start}  duration {ph.duration}  "
              f"{ph.kind} (note on {ph.marker_on})")
        print(f"      prompt: {ph.prompt}" + (f"   [{opts}]" if opts else ""))
        nb = lambda n: "none" if n is None else (f"{n.name} ({'media found' if n.media_path else 'no media'})"
                                                 if n.kind == "clip" else n.kind)
        print(f"      before: {nb(ph.before)}   after: {nb(ph.after)}")
        for line in media_lines(ph):
            print(f"      {line}")
        for prob in ph.problems:
            print(f"      PROBLEM: {prob}")
        plan = planned.get(ph.id)
        if plan:
            print("      " + _plan_line(plan, ph))
    return 0


def _length(plan: dict[str, Any]) -> str:
    """What the service is asked to make: frames at its rate where it counts them, else seconds."""
    if plan.get("frames") and plan.get("fps"):
        return f"{plan['frames']} frames at {plan['fps']} fps ({plan['seconds']:.2f} s)"
    return f"{plan['seconds']:g} s"


def _plan_line(plan: dict[str, Any], ph: Placeholder) -> str:
    if plan.get("refused"):
        return f"plan: {plan['provider']}: REFUSED: {plan['refused']}"
    if plan.get("from_media"):
        return f"plan: {plan['from_media']}: no generation"
    uses = [n for n, used, nb in (("first frame from the shot before", plan["use_first"], ph.before),
                                  ("last frame from the shot after", plan["use_last"], ph.after)) if used]
    cost, n = plan.get("estimated_cost"), plan.get("takes", 1)
    text = (f"plan: {plan['provider']} {plan['model']}: {_length(plan)} at {plan['size_label']}"
            + (f", {', '.join(uses)}" if uses else ", text only")
            + (", with audio" if plan.get("audio") else "")
            + (f", {n} takes" if n > 1 else "")
            + (f", handles {plan['handles_made']} frames each side" if plan.get("handles_made") else "")
            + (f", est. {cost * n:.2f}" + (f" ({cost:.2f} a take)" if n > 1 else "") if cost is not None
               else ", price unknown"))
    notes = plan.get("notes") or []
    segs = plan.get("segments")
    if segs:   # a hole longer than the longest clip: each segment its own job and cost
        text += f"\n        in {segs['summary']}" + "".join(
            f"\n        segment {s['segment']}: {s['frames']} frames shown, {s['seconds']:g} s asked"
            + (f", est. {s['estimated_cost']:.2f}" if s["estimated_cost"] is not None else "") for s in segs["segments"])
    if plan.get("match"):
        text += f"\n        colour match: {plan['match']}"
    return text + "".join(f"\n        note: {n}" for n in notes)


def with_executor(config: Settings, text: Optional[str]) -> Settings:
    """``--executor`` over ``[executor]``: local, dask, or dask://HOST:PORT."""
    if text is None:
        return config
    m = re.fullmatch(r"(local|dask)(?:://([^\s/:]+):(\d+)/?)?", text.strip())
    if not m or (m[1] == "local" and m[2]):
        raise UsageError(f"--executor {text}: not an executor",
                         hint="give local, dask, or dask://HOST:PORT (an existing Dask scheduler)")
    address = f"tcp://{m[2]}:{m[3]}" if m[2] else None
    ex = config.executor.model_copy(update={"kind": m[1], "address": address if m[1] == "dask" else None})
    return config.model_copy(update={"executor": ex})


def fill_settings(args: argparse.Namespace) -> tuple[list[BatchItem], FillSettings, Optional[Fraction],
                                                   Optional[tuple[int, int]]]:
    """What ``fill`` (and each ``farm`` step) runs: the batch, its settings, --rate and --resolution."""
    from shotfill.cli.inputs import plan_outputs   # fill's own: see the imports above
    rate = parse_rate(args.rate) if args.rate else None
    res = parse_resolution(args.resolution) if args.resolution else None
    items = plan_outputs(args.timeline, args.output, args.format)
    config = with_executor(load_settings(args.config), args.executor)
    settings = FillSettings(output=items[0].output, provider=args.provider, model=args.model, config=config,
                            media_dir=args.media_dir, codec=Codec(args.codec),
                            relative_paths=args.relative_paths, absolute_media=args.absolute_media,
                            concurrency=args.concurrency,
                            media_search=args.media_search, allow_stray_markers=args.allow_stray_markers,
                            markers=_markers_arg(args), state_dir=args.state_dir, max_cost=args.max_cost,
                            resubmit=args.resubmit, report=not args.no_report, allow_long=args.allow_long,
                            takes=args.takes, match=args.match, prefer_handles=args.prefer_handles,
                            handles=args.handles, audio=args.audio)
    return items, settings, rate, res


def cmd_fill(args: argparse.Namespace) -> int:
    items, settings, rate, res = fill_settings(args)

    if args.dry_run:
        rows: list[PlanPreview] = []
        for item in items:
            rows += dry_run(item.timeline, replace(settings, output=item.output), rate=rate, resolution=res)
        return _print_dry_run(rows, as_json=args.json)

    from shotfill.cli.progress import make_display   # fill's own: see the imports above
    display = make_display(quiet=args.quiet)
    try:
        results = fill_many(items, settings, rate=rate, resolution=res, on_event=display)
    finally:
        display.close()
    for r in results:
        for w in r.warnings:
            print(f"warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(_summary(results), indent=2))
    else:
        for r in results:
            filled = sum(1 for o in r.outcomes if o.ok)
            extra = f", {len(r.skipped)} skipped" if r.skipped else ""
            print(f"{r.loaded.info.path} -> {r.output}: {filled} of {len(r.outcomes)} placeholder(s) filled{extra}; "
                  f"media in {r.media_dir}")
            for o in r.outcomes:
                for w in o.warnings:
                    print(f"  WARNING {o.placeholder.id} at {o.placeholder.timecode}: {w}")
            for o in r.outcomes:
                if is_from_media(o):
                    print(f"  {o.placeholder.id} at {o.placeholder.timecode}: {(o.provenance or {}).get('note')}")
            for o in r.failed:
                print(f"  FAILED {o.placeholder.id} at {o.placeholder.timecode}: {o.error}")
            for o in r.skipped:
                print(f"  SKIPPED {o.placeholder.id} at {o.placeholder.timecode}: {o.error}")
        if settings.report and results:
            print(f"report: {_report_dir(results)}/report.html")
    return 1 if any(r.failed for r in results) else 0


def _report_dir(results: list[FillResult]) -> Path:
    return Path(os.path.commonpath([str(r.output.parent.resolve()) for r in results]))


def _summary_row(e: ReportEntry) -> dict[str, Any]:
    return {"timeline": e.timeline, "output": e.output, "id": e.placeholder_id, "track": e.track,
            "timecode": e.timecode, "start": e.start, "duration": e.duration, "rate": e.rate, "prompt": e.prompt,
            "result": e.result, "error": e.error, "warnings": e.warnings, "media": e.media, "provider": e.provider, "job_id": e.job_id,
            "estimated_cost": e.estimated_cost, "timings": e.timings, "worker": e.worker, "source": e.source,
            "handles": e.handles, "handles_made": e.handles_made, "match": e.match,
            "colour_distance_before": e.colour_distance_before, "colour_distance_after": e.colour_distance_after,
            "takes": [t.model_dump(mode="json") for t in e.takes],
            "segments": e.segments.model_dump(mode="json") if e.segments else None}


def _summary(results: list[FillResult]) -> dict[str, Any]:
    from shotfill.report.summary import entry_from_outcome   # fill's own: see the imports above
    rows = [_summary_row(entry_from_outcome(o, timeline=r.loaded.info.path, output=str(r.output)))
            for r in results for o in r.outcomes]
    totals = {k: sum(1 for x in rows if x["result"] == k) for k in ("filled", "failed", "skipped")}
    return {"timelines": [{"input": str(r.loaded.info.path), "output": str(r.output),
                           "filled": sum(1 for o in r.outcomes if o.ok), "failed": len(r.failed),
                           "skipped": len(r.skipped)} for r in results],
            "totals": totals, "placeholders": rows}


def _print_dry_run(rows: list[PlanPreview], *, as_json: bool) -> int:
    total = sum(r.total_cost or 0 for r in rows)
    unknown = [r.id for r in rows if (r.plan is None or r.plan.estimated_cost is None) and not r.refused
               and not r.from_media]
    if as_json:
        shown = [{**r.model_dump(mode="json"), "total_cost": r.total_cost} for r in rows]
        print(json.dumps({"placeholders": shown, "estimated_total": round(total, 4),
                          "unpriced": unknown}, indent=2, default=str))
        return 0
    for line in _endpoint_lines((r.provider, r.endpoint) for r in rows):
        print(line)
    for r in rows:
        extra = f" + {r.handles.made} handle frames each side" if r.handles and r.handles.made else ""
        print(f"{r.id}  {r.timecode}  {r.frames} frames{extra}  provider {r.provider}")
        if r.from_media:
            print(f"  {r.from_media}: no generation, nothing sent")
            continue
        if r.refused or r.plan is None:
            print(f"  REFUSED: {r.refused}")
            continue
        plan = r.plan
        cost = r.take_cost
        seeds = f", seeds {plan.seed} to {plan.seed + r.takes - 1}" if plan.seed is not None else ""
        takes = f" x {r.takes} takes{seeds}" if r.takes > 1 else ""
        each = f" a take, {r.total_cost:.2f} in all" if r.takes > 1 and r.total_cost is not None else ""
        length = f"{r.segments.count} segments" if r.segments is not None else _length(plan.model_dump(mode="json"))
        print(f"  {plan.model}: {length} at {plan.size_label}{takes}; "
              f"est. {'%.2f' % cost if cost is not None else 'unknown (set price_per_second)'}{each}")
        if r.segments is not None:
            print(f"  in {r.segments.summary()}")
            for k, (f, sp) in enumerate(zip(r.segments.frames, r.segments.plans), 1):
                each_cost = f"{sp.estimated_cost:.2f}" if sp.estimated_cost is not None else "unknown"
                print(f"    segment {k}: {f} frames shown, {_length(sp.model_dump(mode='json'))} asked; est. {each_cost}")
        if r.match:
            print(f"  colour match: {r.match}")
        for n in plan.notes:
            print(f"  note: {n}")
        if r.body is not None:
            print("  request: " + json.dumps(r.body, indent=2, default=str).replace("\n", "\n  "))
    print(f"estimated total: {total:.2f}" + (f" (+ {len(unknown)} unpriced)" if unknown else "")
          + "; nothing was sent")
    return 0


def cmd_pick(args: argparse.Namespace) -> int:
    from shotfill.timeline.pick import parse_choices, pick   # pick's own: see the imports above
    choices = parse_choices(args.picks)
    pick(args.timeline, choices, args.output)
    print(f"{args.timeline} -> {args.output}: " + ", ".join(f"{i} take {k}" for i, k in choices.items()))
    return 0


def cmd_providers(args: argparse.Namespace) -> int:
    from shotfill.providers import describe_providers   # every provider: only for this command
    rows = describe_providers(load_settings(args.config))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        state = "configured" if r["configured"] else f"not configured ({r['needs']})"
        where = f" (set by {r['base_url_source']})" if r["base_url"] else ""
        print(f"{r['name']:<10} {state}   base {r['base_url'] or '-'}{where}")
        if r.get("refused"):
            print(f"    REFUSED: {r['refused']}")
        print(f"    default model: {r['default_model'] or '- (declare one in shotfill.toml)'}")
        for m in r["models"]:
            print("    " + _model_line(m))
    return 0


def _model_line(m: dict[str, Any]) -> str:
    """One catalog entry in a line: its lengths, frame rule and rates, sizes, keyframes, price."""
    frames = "+".join(k for k in ("first", "last") if m.get(f"{k}_frame")) or "text only"
    price = m.get("price_per_second")
    price_text = ("price unknown" if price is None else f"{price}/s" if not isinstance(price, dict)
                  else ", ".join(f"{k} {v}/s" for k, v in price.items()))
    if m.get("durations"):
        length = "durations " + ", ".join(f"{d:g}" for d in m["durations"]) + " s"
    elif m.get("min_seconds") is not None or m.get("max_seconds") is not None:
        length = f"{m.get('min_seconds', 0):g}..{m.get('max_seconds', float('inf')):g} s"
    else:
        length = "durations any"
    if m.get("frames"):
        length += f", frames {m['frames']}"
    rates = f"; rates {', '.join(str(r) for r in m['rates'])}" if m.get("rates") else ""
    refs = f"; references {m['references']}" if m.get("references") else ""
    own = "" if m.get("builtin", True) else " (shotfill.toml)"
    return (f"{m['name']:<28} {length}{rates}; sizes {', '.join(m.get('sizes') or []) or 'any'}; "
            f"keyframes {frames}{refs}; seed {'yes' if m.get('seed') else 'no'}; "
            f"negative {'yes' if m.get('negative') else 'no'}; {price_text}{own}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    # Every line the command prints (errors, warnings, progress, --json) passes the secret scrubber.
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(real_out), ScrubbedStream(real_err)
    try:
        # SIGTERM/SIGHUP stop like Ctrl-C; every ffmpeg is killed on the way out.
        with stopping_like_ctrl_c():
            args = build_parser().parse_args(argv)
            return {"scan": cmd_scan, "fill": cmd_fill, "providers": cmd_providers, "pick": cmd_pick,
                    "resolve": cmd_resolve, "farm": cmd_farm}[args.command](args)
    except ShotFillError as exc:
        _say(f"shotfill: error: {exc}")
        return exc.exit_code
    except OSError as exc:   # a write no helper wrapped: the editor's message still, never a traceback
        err = os_failure(exc)
        print(f"shotfill: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        _say("shotfill: interrupted: nothing half-written\n  -> run the same command again to resume")
        return 130
    finally:
        sys.stdout, sys.stderr = real_out, real_err


def _say(text: str) -> None:
    # After SIGHUP the terminal may be gone; the exit code still tells.
    try:
        print(text, file=sys.stderr)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
