"""The engine end of the Resolve launcher protocol.

``scan``: snapshot in, the placeholders with each provider's plan and cost
out (for the dialog).  ``run``: snapshot in, generate and conform every
placeholder, and write per placeholder the media, where it goes and how its
marker changes.  Both run the same stages as ``shotfill scan``/``fill``
(:func:`shotfill.scan.scan_timeline`, :func:`shotfill.plan.plan_request`,
the pipeline's job runner), on the OTIO timeline
:mod:`shotfill.resolve.snapshot` builds; neither writes a timeline.

Progress goes to stdout as JSON lines, one object each::

    {"event": "start", "placeholders": 3, "done": 1}
    {"event": "progress", "id": "V1_01000200", "stage": "generate", "detail": "local", "n": 1, "of": 3}
    {"event": "warning", "message": "..."}
    {"event": "finished", "filled": 2, "failed": 1, "out": "/tmp/.../results.json"}
    {"event": "error", "message": "..."}

Anything else a library prints goes to stderr, so stdout stays parseable.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, Literal, Optional

from pydantic import ValidationError

from shotfill.system.bounded import read_bytes
from shotfill.config import Settings, environment_setting, load_settings
from shotfill.errors import ShotFillError, UsageError
from shotfill.events import Stage
from shotfill.system.files import make_dirs, write_text
from shotfill.jobs.runner import RunSettings
from shotfill.jobs.from_media import placement
from shotfill.model import Codec, Loaded, Placeholder, ReadResult
from shotfill.pipeline import plans, require_size, run_placeholders, settle
from shotfill.providers import describe_providers, provider_names
from shotfill.rates import rate_str
from shotfill.scan.placeholders import long_hole_text, too_long
from shotfill.resolve.protocol import (FAILED_PREFIX, NOTE_ERROR_MARK, MarkerUpdate, PlaceholderResult, Report,
                                       Snapshot)
from shotfill.resolve.snapshot import (Built, build, clean_note, done_custom_data, item_marker_key, marker_for,
                                       text_hash)
from shotfill.report.summary import entry_from_outcome
from shotfill.system.secrets import scrub, scrub_data

Emit = Callable[[dict[str, Any]], None]

#: colour a filled GEN: marker turns
DONE_COLOR = "Green"
FAILED_COLOR = "Red"


def _print_emit(obj: dict[str, Any], _out: Any = None) -> None:
    stream = _out or sys.stdout
    stream.write(scrub(json.dumps(obj)) + "\n")
    stream.flush()


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "timeline"


def default_media_dir(snapshot: Snapshot) -> Path:
    """Where generated media goes unless the launcher says: ``~/ShotFill/<project>/<timeline>``.

    It must outlive the run: the media pool refers to these files.
    ``$SHOTFILL_RESOLVE_MEDIA`` replaces ``~/ShotFill``.
    """
    configured = environment_setting("SHOTFILL_RESOLVE_MEDIA")
    base = Path(configured) if configured else Path.home() / "ShotFill"
    return base / _safe(snapshot.project) / _safe(snapshot.timeline.name)


def read_snapshot(path: Path) -> Snapshot:
    try:
        data = json.loads(read_bytes(path, what="snapshot", error=UsageError).decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UsageError(f"{path}: is not JSON ({exc})", hint="the launcher wrote a broken snapshot") from None
    try:
        return Snapshot.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{path}: the snapshot is not what the engine expects ({where}: {first['msg']})",
                         hint="update the launcher: run `shotfill resolve install` again") from None


def _scan(snapshot: Snapshot, media_dir: Path) -> tuple[Built, Loaded]:
    """Build the timeline, then scan it and settle its size exactly as ``shotfill scan`` does."""
    built = build(snapshot, media_dir / f"{_safe(snapshot.timeline.name)}.resolve")
    info = built.info
    read = ReadResult(timeline=built.timeline, format="resolve", rate=info.rate, drop_frame=info.drop_frame,
                      start_frame=info.start_frame, width=info.width, height=info.height, adapter="resolve",
                      warnings=list(built.warnings))
    loaded = settle(read, Path(info.path), name=info.name)
    require_size(loaded)
    # Items a previous run filled (a placeholder clip named GEN: with ShotFill's marker on it).
    keep = []
    for ph in loaded.scan.placeholders:
        item = built.item_of(ph)
        key = (built.resolve_track_index(ph), item.index) if item is not None else None
        if key is not None and key in built.done_items and ph.marker_on == "name":
            built.done.append(f"'{ph.marker_name}' (video track {key[0]})")
            continue
        keep.append(ph)
    loaded.scan.placeholders = keep
    return built, loaded


def _result(built: Built, ph: Placeholder, status: Literal["planned", "filled", "failed"],
            **kw: Any) -> PlaceholderResult:
    return PlaceholderResult(
        id=ph.id, track=ph.track, track_index=built.resolve_track_index(ph), track_name=ph.track_name,
        kind=ph.kind, record_frame=built.resolve_start + ph.start, offset=ph.start, duration=ph.duration,
        timecode=ph.timecode, prompt=ph.prompt, status=status, **kw)


def _marker_update(built: Built, ph: Placeholder, *, ok: bool, request_hash: Optional[str],
                   error: Optional[str], media: Optional[str]) -> Optional[MarkerUpdate]:
    """How the placeholder's GEN: marker changes: done (colour, custom data) or the error in its note."""
    src = marker_for(built, ph)
    if src is not None:
        m = src.marker
        note = clean_note(m.note)
        if ok:
            return MarkerUpdate(owner=src.owner, track=src.track, item=src.item, frame=m.frame,
                                color=DONE_COLOR, name=m.name, note=note, duration=m.duration,
                                custom_data=done_custom_data(request_hash or "", m.name, note),
                                old_color=m.color, old_note=m.note, old_custom_data=m.custom_data)
        return MarkerUpdate(owner=src.owner, track=src.track, item=src.item, frame=m.frame, color=m.color,
                            name=m.name, note=note + NOTE_ERROR_MARK + "failed: " + _one_line(error),
                            duration=m.duration, custom_data=FAILED_PREFIX,
                            old_color=m.color, old_note=m.note, old_custom_data=m.custom_data)
    item = built.item_of(ph)
    if item is None:
        return None
    # A placeholder clip named "GEN: ...": ShotFill adds its own marker on it.
    key = item_marker_key(item, 0)
    existing = next((m for m in item.markers if int(m.frame) == int(key)), None)
    action: Literal["update", "add"] = "update" if existing is not None and existing.custom_data.startswith("shotfill:") else "add"
    return MarkerUpdate(
        action=action, owner="item", track=built.resolve_track_index(ph), item=item.index, frame=key,
        color=DONE_COLOR if ok else FAILED_COLOR, name="ShotFill",
        note=("filled: " + (media or "")) if ok else "failed: " + _one_line(error), duration=1,
        custom_data=done_custom_data(request_hash or "", item.name, "") if ok else FAILED_PREFIX,
        old_color=existing.color if existing else "", old_note=existing.note if existing else "",
        old_custom_data=existing.custom_data if existing else "")


def _one_line(text: Optional[str]) -> str:
    t = " ".join((text or "unknown error").split())
    return t if len(t) <= 400 else t[:397] + "..."


def _report(built: Built, loaded: Loaded, command: Literal["scan", "run"], settings: Settings,
            media_dir: Path) -> Report:
    info = loaded.info
    return Report(command=command, timeline=info.name, rate=rate_str(info.rate), drop_frame=info.drop_frame,
                  width=info.width, height=info.height, media_dir=str(media_dir),
                  default_provider=settings.default_provider, done=list(built.done),
                  warnings=list(loaded.scan.warnings))


def scan_command(snapshot: Snapshot, *, settings: Settings, emit: Emit) -> Report:
    """Placeholders, and each provider's plan and cost for them; generates nothing."""
    media_dir = Path(snapshot.settings.media_dir) if snapshot.settings.media_dir else default_media_dir(snapshot)
    built, loaded = _scan(snapshot, media_dir)
    report = _report(built, loaded, "scan", settings, media_dir)
    report.providers = [{k: r[k] for k in ("name", "configured", "needs", "default_model", "models")}
                        for r in describe_providers(settings)]
    emit({"event": "start", "placeholders": len(loaded.scan.placeholders), "done": len(built.done)})
    # The dialog offers every provider: one preview per provider, the run's model for the run's provider.
    per_provider = {name: {row.id: row for row in plans(
        loaded, settings, provider=name,
        model=snapshot.settings.model if name == snapshot.settings.provider else None)}
        for name in provider_names()}
    for ph in loaded.scan.placeholders:
        shown: dict[str, Any] = {}
        for rows in per_provider.values():
            row = rows.get(ph.id)
            if row is not None:
                shown[row.provider] = row.plan_or_refusal()
        report.placeholders.append(_result(built, ph, "planned", plans=shown,
                                           error="; ".join(ph.problems) or None))
    return report


def run_command(snapshot: Snapshot, *, settings: Settings, emit: Emit) -> Report:
    """Generate and conform every placeholder; the launcher places the media."""
    run = snapshot.settings
    media_dir = Path(run.media_dir) if run.media_dir else default_media_dir(snapshot)
    make_dirs(media_dir)
    built, loaded = _scan(snapshot, media_dir)
    report = _report(built, loaded, "run", settings, media_dir)
    for w in loaded.scan.warnings:
        emit({"event": "warning", "message": w})

    good = [ph for ph in loaded.scan.placeholders if not ph.problems and not too_long(ph)]
    total = len(loaded.scan.placeholders)
    emit({"event": "start", "placeholders": total, "done": len(built.done)})
    results: dict[str, PlaceholderResult] = {}
    for ph in loaded.scan.placeholders:
        if ph.problems or too_long(ph):
            err = ("the GEN: note cannot be used as written: " + "; ".join(ph.problems) if ph.problems else
                   long_hole_text(ph) + ": usually a slip in the edit; shorten the hole or fill it with "
                   "`shotfill fill --allow-long` from an export")
            results[ph.id] = _result(built, ph, "failed", error=err,
                                     marker=_marker_update(built, ph, ok=False, request_hash=None,
                                                           error=err, media=None))
            emit({"event": "progress", "id": ph.id, "stage": Stage.FAILED, "detail": err})

    if good:
        codec = Codec(run.codec) if run.codec else Codec.PRORES
        rs = RunSettings(config=settings, provider=run.provider, model=run.model, codec=codec,
                         concurrency=settings.concurrency)
        order = {ph.id: i + 1 for i, ph in enumerate(loaded.scan.placeholders)}

        def on_event(pid: str, stage: Stage, detail: str) -> None:
            emit({"event": "progress", "id": pid, "stage": stage, "detail": detail,
                  "n": order.get(pid, 0), "of": total})

        loaded.scan.placeholders = good
        outcomes = run_placeholders(loaded, rs, media_dir, on_event)
        for o in outcomes:
            ph = o.placeholder
            e = entry_from_outcome(o, timeline=snapshot.timeline.name, output=None)
            if e.result == "filled" and e.media:
                results[ph.id] = _result(
                    built, ph, "filled", media_path=str(Path(e.media).resolve()), request_hash=e.request_hash,
                    provider=e.provider, model=e.model, source_in=placement(o).source_in,
                    takes=[str(Path(t.media).resolve()) for t in e.takes if t.result == "filled" and t.media],
                    marker=_marker_update(built, ph, ok=True, request_hash=e.request_hash or "",
                                          error=None, media=e.media))
            else:
                results[ph.id] = _result(
                    built, ph, "failed", error=e.error, request_hash=e.request_hash, provider=e.provider,
                    marker=_marker_update(built, ph, ok=False, request_hash=None, error=e.error, media=None))
    report.placeholders = sorted(results.values(), key=lambda r: (r.offset, r.track_index))
    return report


def write_report(report: Report, out: Path) -> None:
    write_text(out, scrub(report.model_dump_json(indent=1)))


def engine_main(command: str, snapshot_path: Path, out: Path, *, config: Optional[Path] = None,
                provider: Optional[str] = None, model: Optional[str] = None,
                emit: Optional[Emit] = None) -> int:
    """Run ``scan`` or ``run``; 0 all filled (or scanned), 1 some failed, 2 nothing could be done.

    With no ``emit``, progress lines go to the real stdout and everything else
    printed meanwhile goes to stderr.
    """
    real_stdout = sys.stdout
    # Scrubbed here too (not only when printed): a launcher's own emit gets clean objects.
    sink: Emit = (lambda obj: emit(scrub_data(obj))) if emit else (lambda obj: _print_emit(obj, real_stdout))
    redirect = contextlib.redirect_stdout(sys.stderr) if emit is None else contextlib.nullcontext()
    with redirect:
        try:
            snapshot = read_snapshot(snapshot_path)
            if provider or model:
                snapshot = snapshot.model_copy(update={"settings": snapshot.settings.model_copy(
                    update={k: v for k, v in (("provider", provider), ("model", model)) if v})})
            settings = load_settings(config)
            fn = scan_command if command == "scan" else run_command
            report = fn(snapshot, settings=settings, emit=sink)
        except ShotFillError as exc:
            report = Report(command="run" if command == "run" else "scan", ok=False, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - the launcher must get an answer, not a traceback
            report = Report(command="run" if command == "run" else "scan", ok=False,
                            error=f"internal error: {exc!r}")
        try:
            write_report(report, out)
        except ShotFillError as exc:   # a full or read-only disk: the launcher still hears why, on stdout
            sink({"event": "error", "message": str(exc)})
            return 2
        if not report.ok:
            sink({"event": "error", "message": report.error})
            return 2
        filled = sum(1 for p in report.placeholders if p.status == "filled")
        failed = len(report.failed)
        sink({"event": "finished", "filled": filled, "failed": failed, "done": len(report.done),
              "placeholders": len(report.placeholders), "out": str(out)})
        return 1 if failed else 0


__all__ = ["engine_main", "scan_command", "run_command", "read_snapshot", "default_media_dir", "text_hash"]
