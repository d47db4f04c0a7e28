"""Turn the command line's timelines (files, folders, globs) and ``-o`` into (input, output) pairs.

One file and an ``-o`` with a timeline suffix is the plain case.  Several
inputs, a folder or a glob make ``-o`` a folder: one output per input, named
after the input, in the input's own format unless ``--format`` says otherwise
(formats ShotFill cannot write, such as Kdenlive or XGES, come out as ``.otio``).
"""

from __future__ import annotations

import glob
import os
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
    items = [BatchItem(p, output / name) for p, name in zip(inputs, _output_names(inputs, fmt))]
    return items


def _output_names(inputs: list[Path], fmt: Optional[str]) -> list[str]:
    """One file name per input, never two alike (also not alike but for case, for macOS and Windows).

    Outputs are named after their inputs.  Where names clash (reel1.edl from
    two folders, or cut.edl and cut.otio written with --format edl), each
    clashing name takes one more folder of its input's path in front, then its
    input's own suffix, then a counter, until every name is distinct.
    """
    suffixes = [_suffix(fmt, p) for p in inputs]
    parents = [p.resolve().parent for p in inputs]
    # Only the folders below the ones all inputs share tell inputs apart.
    common = Path(os.path.commonpath(parents)) if len({p.anchor for p in parents}) == 1 else None
    folders = [p.relative_to(common).parts if common else p.parts for p in parents]

    def name(i: int, level: int) -> str:
        p, depth = inputs[i], len(folders[i])
        parts = [*folders[i][depth - min(level, depth):], p.stem]
        if level > depth and p.suffix:
            parts.append(p.suffix.lstrip("."))
        return "_".join(parts) + suffixes[i]

    levels = [0] * len(inputs)
    top = max((len(f) for f in folders), default=0) + 1
    while True:
        names = [name(i, lv) for i, lv in enumerate(levels)]
        groups: dict[str, list[int]] = {}
        for i, n in enumerate(names):
            groups.setdefault(n.casefold(), []).append(i)
        clashing = [i for g in groups.values() if len(g) > 1 for i in g if levels[i] < top]
        if not clashing:
            break
        for i in clashing:
            levels[i] += 1
    # Names still alike (same folders, stem and suffix but for case): a counter settles them.
    taken: set[str] = set()
    for i, n in enumerate(names):
        stem, suffix = n[: -len(suffixes[i])], suffixes[i]
        k = 2
        while n.casefold() in taken:
            n = f"{stem}_{k}{suffix}"
            k += 1
        taken.add(n.casefold())
        names[i] = n
    return names
