"""Several takes per placeholder: one job per take, one outcome per placeholder.

A placeholder with ``takes=N`` (or ``--takes N``, or ``takes`` in
``shotfill.toml``; the note wins) becomes N jobs before the run: take k has its
own seed (the placeholder's plus k - 1), request hash, journal row, cache entry
and cost, so the runner plans, budgets, generates and conforms each take like
any other job.  After the run the takes of a placeholder are gathered back into
one :class:`~shotfill.model.Outcome` whose ``takes`` lists each take's own; the
placement then carries every filled take, the first filled one active.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

from shotfill.model import JobSpec, Outcome, Placeholder, Placement, Take
from shotfill.rates import frames_before


def takes_for(ph: Placeholder, default: int) -> int:
    """How many takes a placeholder gets: its note's ``takes=``, else the run's."""
    return ph.options.takes or default


def take_key(key: str, take: int, takes: int) -> str:
    return key if takes == 1 else f"{key} take {take}"


def expand(specs: Sequence[JobSpec], default: int) -> list[JobSpec]:
    """One job per take, the takes of a placeholder next to each other (the budget pays for them in order)."""
    out: list[JobSpec] = []
    for spec in specs:
        n = takes_for(spec.placeholder, default)
        out += [replace(spec, key=take_key(spec.key, k, n), take=k, takes=n) for k in range(1, n + 1)]
    return out


def merge(specs: Sequence[JobSpec], outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Gather the outcomes of :func:`expand`'s jobs back into one per placeholder of ``specs``."""
    merged: list[Outcome] = []
    i = 0
    for spec in specs:
        n = outcomes[i].spec.takes if i < len(outcomes) else 1
        group = list(outcomes[i:i + n])
        i += n
        merged.append(group[0] if n == 1 else _gather(spec, group))
    return merged


def _gather(spec: JobSpec, takes: list[Outcome]) -> Outcome:
    n = len(takes)
    for t in takes:
        if t.provenance is not None:
            t.provenance = {**t.provenance, "take": t.spec.take, "take_count": n}
    filled = [t for t in takes if t.ok]
    lead = filled[0] if filled else next((t for t in takes if t.status == "failed"), takes[0])
    out = Outcome(spec=replace(spec, takes=n), status=lead.status, media=lead.media, error=lead.error,
                  request=lead.request, provenance=lead.provenance, before_frame=lead.before_frame,
                  after_frame=lead.after_frame, takes=takes, worker=lead.worker, colour=lead.colour,
                  segments=lead.segments, handles=lead.handles,
                  audio=lead.audio, audio_channels=lead.audio_channels)
    sent = [t.estimated_cost for t in takes if t.status != "skipped"]
    known = [c for c in sent if c is not None]
    out.estimated_cost = sum(known) if known else lead.estimated_cost if not sent else None
    for key in ("plan", "generate", "conform", "total"):
        spent = [t.timings[key] for t in takes if key in t.timings]
        if spent:
            out.timings[key] = sum(spent)
    # Every take is planned alike, so a shrinking of the handles is said once, not once a take.
    said = {h.note for t in takes if (h := t.handles) is not None and h.note}
    out.warnings += sorted(said)
    for t in takes:
        out.warnings += [f"take {t.spec.take}: {w}" for w in t.warnings if w not in said]
        if filled and not t.ok:
            verb = "not made" if t.status == "skipped" else "failed"
            out.warnings.append(f"take {t.spec.take} of {n} {verb}: {t.error}")
    if filled and len(filled) < n:
        out.warnings.insert(0, f"{len(filled)} of {n} takes made")
    return out


def filled_takes(outcome: Outcome) -> list[Take]:
    """The placeholder's filled takes, numbered as asked for (take 2 stays take 2 when take 1 failed)."""
    group = outcome.takes or [outcome]
    return [Take(number=t.spec.take, media_path=t.media, provenance=t.provenance or {})
            for t in group if t.ok and t.media is not None]


def placement(outcome: Outcome, active: Optional[int] = None) -> Placement:
    """Where a filled outcome's media goes: every filled take, the first (or ``active``) shown."""
    takes = filled_takes(outcome)
    chosen = next((t for t in takes if t.number == active), takes[0])
    ph = outcome.placeholder
    # With handles the file starts h frames before the hole (wrapped at midnight, as its timecode is).
    h = outcome.request.handles if outcome.request is not None else 0
    shown = next((t for t in outcome.takes or [outcome] if t.spec.take == chosen.number), outcome)
    return Placement(ph, chosen.media_path, chosen.provenance,
                     takes=tuple(takes) if len(outcome.takes) > 1 else (), active=chosen.number,
                     source_in=h, media_frames=ph.duration + 2 * h,
                     media_start=frames_before(ph.record_frame, h, ph.rate, ";" in ph.timecode),
                     audio=bool(shown.audio), audio_channels=shown.audio_channels or 2)
