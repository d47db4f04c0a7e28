"""``shotfill farm export`` (an Open Job Description bundle) and ``shotfill farm step ...`` (its tasks).

    shotfill farm export TIMELINE... -o OUTPUT --bundle DIR [fill options]

writes DIR/template.yaml and DIR/parameter_values.yaml; each of the job's
tasks calls ``shotfill farm step submit|media|place`` (internal: the bundle
says how).  Exit codes as ``fill``: the Place step exits 1 when a placeholder
failed (the timelines hold every success), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Optional

from shotfill.cli.parser import Parser
from shotfill.errors import UsageError
from shotfill.pipeline import BatchItem, FillResult, FillSettings, batch_specs, batch_state_dir, prepare_batch

# The farm's steps, bundle writer, progress display and report are imported by the command
# that runs them: every other command builds this parser too (tests/test_startup.py).

FillSetup = Callable[[argparse.Namespace], tuple[list[BatchItem], FillSettings, Optional[Fraction],
                                                 Optional[tuple[int, int]]]]
ParseFill = Callable[[list[str]], argparse.Namespace]


def add_farm_parser(sub: "argparse._SubParsersAction[Parser]", fill_args: Callable[[argparse.ArgumentParser], None]) \
        -> argparse.ArgumentParser:
    fp = sub.add_parser("farm", help="render farms: export a batch as an Open Job Description job bundle",
                        description="Export a fill as an Open Job Description job (AWS Deadline Cloud and other "
                                    "farms): a Submit step, one Media task per placeholder, a Place step.")
    fsub = fp.add_subparsers(dest="farm_command", required=True, parser_class=type(fp), metavar="export")
    ep = fsub.add_parser("export", help="write DIR/template.yaml and DIR/parameter_values.yaml for this fill")
    fill_args(ep)
    ep.add_argument("--bundle", type=Path, required=True, metavar="DIR", help="the job bundle folder to write")
    # The job's tasks: hidden from the help, written into the bundle by export.
    sp = fsub.add_parser("step")
    sp.add_argument("step", choices=["submit", "media", "place"])
    sp.add_argument("--timelines", required=True, help="a JSON list of timeline paths")
    sp.add_argument("--output", required=True)
    sp.add_argument("--state-dir", required=True)
    sp.add_argument("--options", required=True, help="a JSON list of the other fill options")
    sp.add_argument("--placeholder", help="the placeholder key (media)")
    return fp


# --------------------------------------------------------------------------- export

def _abs(p: Path) -> str:
    return os.path.abspath(p)


def fill_options(args: argparse.Namespace) -> list[str]:
    """The fill options of ``args`` as command-line words, every path absolute (the tasks run elsewhere)."""
    if args.resubmit:
        raise UsageError("farm export: --resubmit cannot go into a farm job (every retried task would pay again)",
                         hint="run `shotfill fill ... --resubmit` once by hand for the uncertain placeholders")
    words: list[str] = []
    config = args.config or (Path(os.environ["SHOTFILL_CONFIG"]) if os.environ.get("SHOTFILL_CONFIG") else None)
    if config is None and Path("shotfill.toml").is_file():
        config = Path("shotfill.toml")   # the tasks do not run in this folder: name the file it would read
    if config is not None:
        words += ["--config", _abs(config)]
    for flag, value in (("--provider", args.provider), ("--model", args.model), ("--rate", args.rate),
                        ("--resolution", args.resolution), ("--format", args.format), ("--codec", args.codec),
                        ("--executor", args.executor), ("--takes", args.takes), ("--handles", args.handles),
                        ("--match", args.match)):
        if value is not None:
            words += [flag, str(value)]
    for flag, path in (("--media-dir", args.media_dir), ("--markers", args.markers)):
        if path is not None:
            words += [flag, _abs(path)]
    for d in args.media_search:
        words += ["--media-search", _abs(d)]
    if args.concurrency != 4:
        words += ["--concurrency", str(args.concurrency)]
    if args.max_cost is not None:
        words += ["--max-cost", repr(args.max_cost)]
    for flag, on in (("--relative-paths", args.relative_paths), ("--allow-long", args.allow_long),
                     ("--allow-stray-markers", args.allow_stray_markers), ("--no-report", args.no_report),
                     ("--audio", args.audio), ("--prefer-handles", args.prefer_handles),
                     ("--absolute-media", args.absolute_media)):
        if on:
            words.append(flag)
    return words


def _shotfill_command() -> str:
    here = Path(sys.argv[0])
    if here.name == "shotfill" and here.is_file():
        return _abs(here)
    return shutil.which("shotfill") or str(Path(sys.executable).with_name("shotfill"))


def cmd_export(args: argparse.Namespace, setup: FillSetup) -> int:
    from shotfill.farm import steps   # see the imports above
    from shotfill.farm.bundle import job_template, validate, write_bundle
    items, settings, rate, res = setup(args)
    prepared = prepare_batch(items, settings, rate=rate, resolution=res)   # refuses bad input before any file
    every = len(batch_specs(prepared, settings))
    keys = steps.media_keys(prepared, settings)   # a hole the neighbours' own media fills needs no task
    timelines = [_abs(i.timeline) for i in items]
    output = _abs(args.output)
    state_dir = _abs(batch_state_dir(items, settings))
    name = f"ShotFill: {items[0].timeline.name}" + (f" and {len(items) - 1} more" if len(items) > 1 else "")
    template = job_template(name=name, shotfill=_shotfill_command(), timelines=timelines,
                            output=output, state_dir=state_dir, options=fill_options(args), keys=keys)
    problem = validate(template)
    if problem not in (None, "unchecked"):
        raise UsageError(f"farm export: the job template is not valid Open Job Description: {problem}",
                         hint="report this as a ShotFill bug; nothing was written")
    tpl, vals = write_bundle(args.bundle, template)
    free = f"; {every - len(keys)} from the neighbours' own media, placed by Place" if every > len(keys) else ""
    print(f"{tpl}: {len(keys)} placeholder(s) as Media tasks, after Submit, before Place{free}")
    print(f"{vals}: the defaults (output {output}, state {state_dir})")
    if problem == "unchecked":
        print("warning: openjd-model is not installed, so the template was not validated "
              "(pip install 'shotfill[farm]')", file=sys.stderr)
    print(f"run it here: openjd run {tpl}   submit it: deadline bundle submit {args.bundle}")
    return 0


# --------------------------------------------------------------------------- steps

def _json_list(text: str, what: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"farm step: {what} is not a JSON list of strings: {text[:80]}",
                         hint="export the bundle again with `shotfill farm export`")
    return value


def cmd_step(args: argparse.Namespace, setup: FillSetup, parse_fill: ParseFill) -> int:
    from shotfill.cli.progress import make_display   # see the imports above
    from shotfill.farm import steps
    from shotfill.jobs.from_media import is_from_media
    timelines = _json_list(args.timelines, "--timelines")
    options = _json_list(args.options, "--options")
    fill = parse_fill(["fill", *timelines, "-o", args.output, "--state-dir", args.state_dir, *options])
    items, settings, rate, res = setup(fill)
    prepared = prepare_batch(items, settings, rate=rate, resolution=res)
    display = make_display(quiet=False, live=False)
    try:
        if args.step == "submit":
            outcomes = steps.submit(prepared, settings, display)
            left = [o for o in outcomes if o.status in ("failed", "skipped")]
            free = [o for o in outcomes if is_from_media(o)]   # a neighbour's own media: no job, no Media task
            print(f"submitted: {len(outcomes) - len(left) - len(free)} placeholder(s) go on to Media"
                  + (f"; {len(free)} from the neighbours' own media (free)" if free else "")
                  + (f"; {len(left)} failed or skipped (reported by Place)" if left else ""))
            return 0
        if args.step == "media":
            if not args.placeholder:
                raise UsageError("farm step media needs --placeholder KEY", hint="see the bundle's template.yaml")
            out = steps.media(prepared, settings, args.placeholder, display)
            print(f"{out.spec.key}: {out.status}" + (f": {out.error}" if out.error else "")
                  + (f" -> {out.media}" if out.media else ""))
            # A failed placeholder is the Place step's to report (exit 1 there, as fill): this task did its work.
            return 0
        results = steps.place(prepared, settings)
    finally:
        display.close()
    return _summary(results)


def _summary(results: list[FillResult]) -> int:
    from shotfill.report.summary import entry_from_outcome   # see the imports above
    for r in results:
        for w in r.warnings:
            print(f"warning: {w}", file=sys.stderr)
        filled = sum(1 for o in r.outcomes if o.ok)
        print(f"{r.loaded.info.path} -> {r.output}: {filled} of {len(r.outcomes)} placeholder(s) filled; "
              f"media in {r.media_dir}")
        for o in r.outcomes:
            e = entry_from_outcome(o, timeline=r.loaded.info.path, output=r.output)
            if e.result != "filled":
                print(f"  {e.result.upper()} {e.placeholder_id} at {e.timecode}: {e.error}")
    return 1 if any(r.failed for r in results) else 0


def run_farm_command(args: argparse.Namespace, setup: FillSetup, parse_fill: ParseFill) -> int:
    if args.farm_command == "export":
        return cmd_export(args, setup)
    return cmd_step(args, setup, parse_fill)


__all__: list[Any] = ["add_farm_parser", "run_farm_command"]
