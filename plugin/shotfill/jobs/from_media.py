"""Holes filled from a neighbour's own media (``source=handles`` or ``--prefer-handles``): no job at all.

Before the run, the jobs whose hole a neighbour's unused media covers (see
:mod:`shotfill.scan.runon`) are taken out: each becomes a filled
:class:`~shotfill.model.Outcome` at once, its media the neighbour's own file,
with no request, no generation, no journal row and no cost.  Its provenance
carries the frames of that file the clip shows, so :func:`placement` places a
clip that continues the neighbour exactly.  Everything else runs as usual.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from shotfill.jobs import takes
from shotfill.model import JobSpec, Outcome, Placement
from shotfill.scan.runon import SOURCE, RunOn, label, serving


def split(specs: Sequence[JobSpec], prefer: bool) -> tuple[list[JobSpec], list[Outcome]]:
    """(the jobs to run, the outcomes of the holes a neighbour's own media fills)."""
    run: list[JobSpec] = []
    done: list[Outcome] = []
    for spec in specs:
        r = serving(spec.placeholder, prefer)
        if r is None:
            run.append(spec)
        else:
            done.append(outcome(spec, r))
    return run, done


def outcome(spec: JobSpec, r: RunOn) -> Outcome:
    ph = spec.placeholder
    prov = {"source": SOURCE, "placeholder_id": ph.id, "provider": None, "prompt": ph.prompt,
            "from": r.name, "side": r.side, "media": r.media_path, "source_in": r.source_in,
            "media_frames": r.media_frames, "media_start": r.media_start, "note": label(r)}
    return Outcome(spec=spec, status="filled", media=Path(r.media_path), provenance=prov, estimated_cost=0.0)


def is_from_media(o: Outcome) -> bool:
    return (o.provenance or {}).get("source") == SOURCE


def placement(o: Outcome) -> Placement:
    """Where a filled outcome's media goes; a neighbour's file shows the frames that continue the cut."""
    pl = takes.placement(o)
    if not is_from_media(o):
        return pl
    prov = o.provenance or {}
    return replace(pl, source_in=int(prov["source_in"]), media_frames=int(prov["media_frames"]),
                   media_start=int(prov["media_start"]))


def ordered(specs: Sequence[JobSpec], outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The outcomes in the order of ``specs`` (the run's own and those from media, merged)."""
    by_key = {o.spec.key: o for o in outcomes}
    return [by_key[s.key] for s in specs if s.key in by_key]
