"""Turn the command line's timelines (files, folders, globs) and ``-o`` into (input, output) pairs.

One file and an ``-o`` with a timeline suffix is the plain case.  Several
inputs, a folder or a glob make ``-o`` a folder: one output per input, named
after the input, in the input's own format unless ``--format`` says otherwise
(formats ShotFill cannot write, such as AAF, come out as ``.otio``).
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Optional

from shotfill.errors import UsageError
from shotfill.pipeline import BatchItem
from shotfill.timeline.write import OUTPUT_ADAPTERS

#: what a folder is searched for
TIMELINE_SUFFIXES = (".edl", ".xml", ".fcpxml", ".otio", ".otioz", ".aaf", ".redl")
_GLOB_CHARS = set("*?[")


def expand_inputs(args: list[Path]) -> tuple[list[Path], bool]:
    """The timeline files named, and whether any came from a folder or glob (which makes it a batch)."""
    found: list[Path] = []
    batch = len(args) > 1
    for arg in args:
        text = str(arg)
        if not arg.exists() and _GLOB_CHARS & set(text):
            hits = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not hits:
                raise UsageError(f"{text}: matches no file", hint="check the pattern (quote it so the shell leaves it)")
            found += hits
            batch = True
        elif arg.is_dir():
            hits = sorted(p for p in arg.iterdir() if p.is_file() and p.suffix.lower() in TIMELINE_SUFFIXES
                          and not p.name.startswith("."))
            if not hits:
                raise UsageError(f"{arg}: no timelines in this folder",
                                 hint="timelines end in " + ", ".join(TIMELINE_SUFFIXES))
            found += hits
            batch = True
        elif arg.exists():
            found.append(arg)
        else:
            raise UsageError(f"{arg}: no such file", hint="check the path of the timeline")
    seen: set[Path] = set()
    unique = []
    for p in found:
        r = p.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(p)
    return unique, batch


def _suffix(fmt: Optional[str], source: Path) -> str:
    if fmt:
        s = fmt if fmt.startswith(".") else f".{fmt}"
        if s.lower() not in OUTPUT_ADAPTERS:
            raise UsageError(f"--format {fmt}: cannot write that format",
                             hint="choose one of " + ", ".join(x.lstrip(".") for x in OUTPUT_ADAPTERS))
        return s.lower()
    s = source.suffix.lower()
    return s if s in OUTPUT_ADAPTERS else ".otio"


def plan_outputs(args: list[Path], output: Path, fmt: Optional[str] = None) -> list[BatchItem]:
    inputs, batch = expand_inputs(args)
    if not batch and output.suffix and not output.is_dir():
        if fmt:
            raise UsageError("--format goes with an output folder", hint="or give -o a name ending in the format")
        return [BatchItem(inputs[0], output)]
    if output.exists() and not output.is_dir():
        raise UsageError(f"{output}: is a file; with several timelines -o names a folder",
                         hint="give -o a folder, e.g. -o filled/")
    # Outputs are named after their inputs; two inputs that would give the same name
    # (reel1.edl from two folders) get their folder's name in front.
    names: dict[str, int] = {}
    for p in inputs:
        key = f"{p.stem}{_suffix(fmt, p)}"
        names[key] = names.get(key, 0) + 1
    items = []
    for p in inputs:
        suffix = _suffix(fmt, p)
        name = p.stem if names[f"{p.stem}{suffix}"] == 1 else f"{p.parent.name}_{p.stem}"
        items.append(BatchItem(p, output / f"{name}{suffix}"))
    return items
