"""The only module that knows the order of the stages.

    read -> scan -> plan -> generate -> conform -> place -> write

Each phase below is a plain function call; progress goes out through the
``on_event`` callback, so the command line, Resolve and the batch engine can
each show it their own way.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Optional, Sequence

from shotfill.config import KEY_ENV, Settings
from shotfill.errors import (ConfigError, Interrupted, MediaError, PlaceholderError, TimelineError, UsageError,
                             WriteError)
from shotfill.events import EventSink, no_events
from shotfill.system.files import make_dirs
from shotfill.model import (Codec, JobSpec, Loaded, Outcome, Placeholder, ReadResult, ScanResult,
                            TimelineInfo)
from shotfill.rates import rate_str
from shotfill.scan.placeholders import long_hole_text, scan_timeline, too_long
from shotfill.timeline.read import read_timeline

# What only a fill, a dry run or a report needs (the job runner, media, providers, writers,
# asyncio) is imported in the function that needs it: `shotfill scan` starts in a fraction of
# the time without them (tests/test_startup.py).
if TYPE_CHECKING:
    from shotfill.jobs.runner import RunSettings
    from shotfill.plan.preview import PlanPreview

__all__ = ["BatchItem", "FillResult", "FillSettings", "Loaded", "check_output", "dry_run", "fill", "fill_many",
           "load", "prepare", "run_placeholders", "settle"]


@dataclass
class FillSettings:
    output: Path
    provider: Optional[str] = None
    model: Optional[str] = None
    media_dir: Optional[Path] = None
    codec: Codec = Codec.PRORES
    relative_paths: bool = False
    #: the timeline's own relative media references made absolute (``--absolute-media``), not rebased
    absolute_media: bool = False
    concurrency: int = 4
    media_search: list[Path] = field(default_factory=list)
    allow_stray_markers: bool = False
    config: Settings = field(default_factory=Settings)
    #: a second file whose markers are merged onto the timeline (``--markers``)
    markers: Optional[Path] = None
    #: journal and cache; default ``.shotfill`` beside the output(s)
    state_dir: Optional[Path] = None
    max_cost: Optional[float] = None
    resubmit: bool = False
    report: bool = True
    #: fill holes longer than scan.MAX_HOLE_SECONDS (``--allow-long``)
    allow_long: bool = False
    #: takes per placeholder (``--takes``) where its note does not say; None: the config's
    takes: Optional[int] = None
    #: handle frames a side (``--handles``) where its note does not say; None: the config's
    handles: Optional[int] = None
    #: ``--match on|off``: the colour match for the run (a note's ``match=`` wins)
    match: Optional[Literal["on", "off"]] = None
    #: ``--prefer-handles``: fill a hole from a neighbour's own media wherever it covers it (free)
    prefer_handles: bool = False
    #: ``--audio``: ask models that make sound for it (a note's ``audio=on|off`` wins)
    audio: bool = False

    def run_settings(self) -> RunSettings:
        from shotfill.jobs.runner import RunSettings   # fill only: see the imports above
        return RunSettings(config=self.config, provider=self.provider, model=self.model, codec=self.codec,
                           concurrency=self.concurrency, max_cost=self.max_cost, resubmit=self.resubmit,
                           takes=self.takes, match=self.match, stills=self.report,
                           handles=self.handles, audio=self.audio)


@dataclass
class FillResult:
    """One timeline's run: what was read, where it went, and each placeholder's outcome."""

    loaded: Loaded
    output: Path
    media_dir: Path
    outcomes: list[Outcome]
    warnings: list[str]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "skipped"]


def _size_from_media(scan: ScanResult) -> Optional[tuple[int, int]]:
    for ph in scan.placeholders:
        for nb in (ph.before, ph.after):
            if nb is not None and nb.media_path:
                from shotfill.media.probe import probe   # only to measure media: see the imports above
                try:
                    info = probe(nb.media_path, exact=False)   # only its size
                    return info.width, info.height
                except MediaError:
                    continue
    return None


def settle(read: ReadResult, path: Path, *, name: Optional[str] = None, rate: Optional[Fraction] = None,
           resolution: Optional[tuple[int, int]] = None, media_search: Optional[list[Path]] = None,
           markers: Optional[Path] = None) -> Loaded:
    """Scan a timeline as read and settle its frame size: the one path for files and for Resolve.

    ``markers``: a second file whose markers are merged onto the timeline's
    stack before the scan (see :mod:`shotfill.timeline.markers`).  The size is
    ``--resolution``, else the timeline's, else the first neighbour's media.
    """
    warnings = list(read.warnings)
    if markers is not None:
        from shotfill.timeline.markers import merge_markers   # only with --markers
        warnings += merge_markers(read.timeline, markers, rate=read.rate, start_frame=read.start_frame,
                                  drop_frame=read.drop_frame)
    if rate is not None and read.format != "edl" and rate != read.rate:
        warnings.append(f"{path.name}: --rate {rate_str(rate)} ignored: the timeline says {rate_str(read.rate)}")
    info = TimelineInfo(path=str(path), format=read.format, name=name or read.timeline.name or path.stem,
                        rate=read.rate, drop_frame=read.drop_frame, start_frame=read.start_frame,
                        width=read.width, height=read.height)
    scan = scan_timeline(read.timeline, info, media_search=media_search)
    size: Optional[tuple[int, int]]
    size_from = "timeline"
    if resolution is not None:
        size, size_from = resolution, "--resolution"
    elif read.width and read.height:
        size = (read.width, read.height)
    else:
        size, size_from = _size_from_media(scan), "neighbour media"
    if size is None:
        size_from = "unknown"
    else:
        info = info.model_copy(update={"width": size[0], "height": size[1]})
        scan.info = info
    scan.warnings[:0] = warnings
    return Loaded(read=read, info=info, scan=scan, size_from=size_from)


def load(path: Path, *, rate: Optional[Fraction] = None, resolution: Optional[tuple[int, int]] = None,
         media_search: Optional[list[Path]] = None, adapter: Optional[str] = None,
         markers: Optional[Path] = None) -> Loaded:
    """Read a timeline file, then :func:`settle` it."""
    return settle(read_timeline(path, rate=rate, adapter=adapter), path, rate=rate, resolution=resolution,
                  media_search=media_search, markers=markers)


def require_size(loaded: Loaded) -> tuple[int, int]:
    """The settled frame size, or the editor's message when nothing tells it."""
    if loaded.info.width is None or loaded.info.height is None:
        raise TimelineError(f"{Path(loaded.info.path).name}: cannot tell the frame size of this timeline (no size "
                            "in the file and no neighbouring media to measure)",
                            hint="pass --resolution WxH, e.g. 1920x1080")
    return loaded.info.width, loaded.info.height


def check_output(timeline: Path, output: Path) -> str:
    """The adapter for OUTPUT; refuses unknown suffixes and overwriting the input."""
    from shotfill.timeline.write import OUTPUT_ADAPTERS   # the writers: not for a scan
    adapter = OUTPUT_ADAPTERS.get(output.suffix.lower())
    if adapter is None:
        raise UsageError(f"{output}: cannot write '{output.suffix or '(no suffix)'}' timelines",
                         hint="end the output name with " + ", ".join(OUTPUT_ADAPTERS))
    same = output.resolve() == timeline.resolve()
    if not same and output.exists():
        try:
            same = os.path.samefile(output, timeline)
        except OSError:
            same = False
    if same:
        raise UsageError(f"{output}: refusing to overwrite the input timeline",
                         hint="write the filled timeline to a new file with -o")
    return adapter


def prepare(timeline: Path, settings: FillSettings, *, rate: Optional[Fraction] = None,
            resolution: Optional[tuple[int, int]] = None) -> tuple[Loaded, str]:
    """Everything ``fill`` checks before it spends anything; raises on bad input."""
    adapter = check_output(timeline, settings.output)
    loaded = load(timeline, rate=rate, resolution=resolution, media_search=settings.media_search,
                  markers=settings.markers)
    name = timeline.name
    from shotfill.timeline.write import check_writable   # the writers: not for a scan
    check_writable(loaded, settings.output, adapter)
    require_size(loaded)
    if loaded.scan.stray and not settings.allow_stray_markers:
        raise PlaceholderError(f"{name}: {len(loaded.scan.stray)} GEN: marker(s) cover no gap or placeholder clip:\n"
                               + "\n".join("  " + s for s in loaded.scan.stray),
                               hint="move each onto the hole or slug it is for, or remove its GEN: tag; "
                                    "or pass --allow-stray-markers to fill the rest; nothing was generated")
    bad = [ph for ph in loaded.scan.placeholders if ph.problems]
    if bad:
        lines = [f"  {ph.id} at {ph.timecode}: {'; '.join(ph.problems)}" for ph in bad]
        raise PlaceholderError(f"{name}: {len(bad)} GEN: note(s) cannot be used as written:\n" + "\n".join(lines),
                               hint="fix the notes (see `shotfill scan`) and run again; nothing was generated")
    long = [ph for ph in loaded.scan.placeholders if too_long(ph)]
    if long and not settings.allow_long:
        raise PlaceholderError(f"{name}: {len(long)} placeholder(s) too long to be meant:\n"
                               + "\n".join("  " + long_hole_text(ph) for ph in long),
                               hint="check the gap's out point in the edit, or pass --allow-long to render it "
                                    "anyway; nothing was generated")
    return loaded, adapter


def plans(loaded: Loaded, config: Settings, *, provider: Optional[str] = None, model: Optional[str] = None,
          frames_dir: Optional[Path] = None, bodies: bool = False, takes: Optional[int] = None,
          prefer_handles: bool = False, handles: Optional[int] = None,
          match: Optional[Literal["on", "off"]] = None, audio: bool = False) -> list[PlanPreview]:
    """The plan preview of a loaded timeline's usable placeholders (none while its size is unknown)."""
    if not loaded.info.width or not loaded.info.height:
        return []
    from shotfill.plan.preview import preview_plans   # providers: only with placeholders to plan
    return preview_plans([ph for ph in loaded.scan.placeholders if not ph.problems], width=loaded.info.width,
                         height=loaded.info.height, settings=config, provider=provider, model=model,
                         frames_dir=frames_dir, bodies=bodies, takes=takes, prefer_handles=prefer_handles,
                         handles=handles, match=match, audio=audio)


def dry_run(timeline: Path, settings: FillSettings, *, rate: Optional[Fraction] = None,
            resolution: Optional[tuple[int, int]] = None) -> list[PlanPreview]:
    """What ``fill`` would send, per placeholder, with its estimated cost; sends nothing, writes nothing."""
    loaded, _ = prepare(timeline, settings, rate=rate, resolution=resolution)
    with tempfile.TemporaryDirectory(prefix="shotfill-dry-") as tmp:
        return plans(loaded, settings.config, provider=settings.provider, model=settings.model,
                     frames_dir=Path(tmp), bodies=True, takes=settings.takes,
                     prefer_handles=settings.prefer_handles, handles=settings.handles, match=settings.match,
                     audio=settings.audio)


@dataclass
class BatchItem:
    """One timeline of a run and where its filled copy goes."""

    timeline: Path
    output: Path


def media_dir_for(item: BatchItem, settings: FillSettings) -> Path:
    return settings.media_dir or item.output.parent / f"{item.output.stem}_media"


def fill_many(items: list[BatchItem], settings: FillSettings, *, rate: Optional[Fraction] = None,
              resolution: Optional[tuple[int, int]] = None, on_event: EventSink = no_events) -> list[FillResult]:
    """Fill the placeholders of many timelines in one run, sharing providers, limits, cache and journal.

    Every timeline is read and checked before anything is spent; then all
    their placeholders run together; each output is written once its own
    placeholders are done.
    """
    import asyncio   # the run's own imports: see the imports above

    from shotfill.jobs import from_media
    from shotfill.jobs.journal import check_journal
    from shotfill.jobs.runner import Runner

    prepared = prepare_batch(items, settings, rate=rate, resolution=resolution)
    # Phase 2: generate and conform every placeholder of every timeline, concurrently.
    specs = batch_specs(prepared, settings)
    state_dir = batch_state_dir(items, settings)
    check_journal(state_dir / "journal.sqlite")
    make_dirs(state_dir)   # before any media folder, so a state "folder" that is a file leaves nothing behind
    for spec in specs:
        make_dirs(spec.media_dir)
    runner = Runner(settings.run_settings(), state_dir, on_event)
    to_run, done = from_media.split(specs, settings.prefer_handles)   # no job for what the neighbours' media fills
    try:
        outcomes = from_media.ordered(specs, asyncio.run(runner.run(to_run)) + done)
    except KeyboardInterrupt:
        raise Interrupted("interrupted: nothing half-written; jobs already submitted are in the journal",
                          hint=f"run the same command again to resume (state in {state_dir})") from None
    if runner.write_errors:
        raise unwritten(runner.write_errors, items, state_dir)
    return write_batch(prepared, outcomes, settings)


#: one input of a batch, read and checked: the item, what was loaded, and the output adapter
Prepared = tuple[BatchItem, Loaded, str]


def prepare_batch(items: list[BatchItem], settings: FillSettings, *, rate: Optional[Fraction] = None,
                  resolution: Optional[tuple[int, int]] = None) -> list[Prepared]:
    """Phase 1: read, scan and check every input, and the providers they need; nothing is spent."""
    from shotfill.plan import audio   # providers: fill only, see the imports above
    from shotfill.scan.runon import serving

    prepared = []
    for item in items:
        s = replace(settings, output=item.output)
        loaded, adapter = prepare(item.timeline, s, rate=rate, resolution=resolution)
        prepared.append((item, loaded, adapter))
    # What a neighbour's own media fills needs no provider: only the rest is checked.
    generated = [ph for _, loaded, _ in prepared for ph in loaded.scan.placeholders
                 if serving(ph, settings.prefer_handles) is None]
    check_providers_ready(generated, settings)
    audio.check(generated, settings.config, provider=settings.provider, model=settings.model, audio=settings.audio)
    return prepared


def batch_specs(prepared: list[Prepared], settings: FillSettings) -> list[JobSpec]:
    """Every placeholder of every input, keyed ``ID`` (one timeline) or ``NAME:ID`` (a batch)."""
    specs: list[JobSpec] = []
    many = len(prepared) > 1
    names = [i.timeline.name for i, _, _ in prepared]
    for item, loaded, _ in prepared:
        media_dir = media_dir_for(item, settings)
        label = item.timeline.name if names.count(item.timeline.name) == 1 else str(item.timeline)
        for ph in loaded.scan.placeholders:
            key = f"{label}:{ph.id}" if many else ph.id
            specs.append(JobSpec(key=key, info=loaded.info, placeholder=ph, media_dir=media_dir))
    return specs


def batch_state_dir(items: list[BatchItem], settings: FillSettings) -> Path:
    return settings.state_dir or (items[0].output.parent / ".shotfill")


def write_batch(prepared: list[Prepared], outcomes: list[Outcome], settings: FillSettings) -> list[FillResult]:
    """Phase 3: place each timeline's filled placeholders, write it, then the run's report."""
    from shotfill.jobs import from_media   # the run's own imports: see the imports above
    from shotfill.timeline.write import write_output
    items = [item for item, _, _ in prepared]
    many = len(items) > 1
    results = []
    for item, loaded, adapter in prepared:
        mine = [o for o in outcomes if o.spec.info is loaded.info]
        placements = [from_media.placement(o) for o in mine if o.ok and o.media]
        warnings = list(loaded.scan.warnings)
        warnings += write_output(loaded, placements, item.output, adapter, relative_paths=settings.relative_paths,
                                 absolute_media=settings.absolute_media)
        results.append(FillResult(loaded=loaded, output=item.output, media_dir=media_dir_for(item, settings),
                                  outcomes=mine, warnings=warnings))
    if settings.report and results:
        try:
            write_run_report(results, items[0].output.parent if not many else _common_parent(items))
        except WriteError as exc:
            written = ", ".join(str(r.output) for r in results[:3]) + (", ..." if len(results) > 3 else "")
            raise WriteError(f"{exc.message}\nthe timelines were written ({written}); only the report is missing",
                             hint=f"{exc.hint}; or pass --no-report") from None
    return results


def unwritten(errors: list[WriteError], items: list[BatchItem], state_dir: Path) -> WriteError:
    """A media or state file could not be written: no timeline is written, so the earlier outputs stay as they were.

    A full disk fails every placeholder after it alike; writing the timelines
    anyway would replace a good earlier output with one whose holes are empty.
    """
    first = errors[0]
    outputs = ", ".join(str(i.output) for i in items[:3]) + (", ..." if len(items) > 3 else "")
    more = f" (and {len(errors) - 1} more file(s) like it)" if len(errors) > 1 else ""
    return WriteError(f"{first.message}{more}\nno timeline was written, so each stays as it was: {outputs}",
                      hint=f"{first.hint}; media already generated is kept in {state_dir} and is not paid "
                           "for again")


def check_providers_ready(placeholders: Sequence[Placeholder], settings: FillSettings) -> None:
    """Refuse before anything is spent when a provider the run needs has no key (or, ComfyUI, no workflow)."""
    from shotfill.providers import provider_class, provider_endpoint   # fill only: see the imports above
    default = (settings.provider or settings.config.default_provider).lower()
    needed = sorted({(ph.options.provider or default).lower() for ph in placeholders})
    for name in needed:
        provider_class(name)   # an unknown name stops here, before any folder is made
    missing = []
    for name in needed:
        env = KEY_ENV.get(name)
        if env and not settings.config.api_key(name):
            missing.append(f"{name}: set {env} in the environment (or api_key under [providers.{name}] in "
                           "shotfill.toml)")
        ps = settings.config.provider(name)
        if name == "comfyui" and (ps.workflow is None or ps.inputs is None):
            missing.append("comfyui: set workflow and [providers.comfyui.inputs] in shotfill.toml")
        refused = provider_endpoint(settings.config, name)["refused"] if name in KEY_ENV else None
        if refused:
            missing.append(refused)
    if missing:
        raise ConfigError("not ready to generate:\n" + "\n".join("  " + m for m in missing),
                          hint="nothing was generated or written; see `shotfill providers`")


def _common_parent(items: list[BatchItem]) -> Path:
    return Path(os.path.commonpath([str(i.output.parent.resolve()) for i in items]))


def write_run_report(results: list[FillResult], out_dir: Path) -> tuple[Path, Path]:
    """report.json and report.html (the contact sheet) beside the outputs."""
    from shotfill.report.summary import entry_from_outcome   # the report's own imports
    from shotfill.report.write import write_report
    entries = [entry_from_outcome(o, timeline=r.loaded.info.path, output=r.output)
               for r in results for o in r.outcomes]
    return write_report(entries, out_dir)


def fill(timeline: Path, settings: FillSettings, *, rate: Optional[Fraction] = None,
         resolution: Optional[tuple[int, int]] = None, on_event: EventSink = no_events) -> FillResult:
    """Fill every placeholder of one timeline and write ``settings.output``."""
    return fill_many([BatchItem(timeline, settings.output)], settings, rate=rate, resolution=resolution,
                     on_event=on_event)[0]


def run_placeholders(loaded: Loaded, run: RunSettings, media_dir: Path, on_event: EventSink, *,
                     state_dir: Optional[Path] = None) -> list[Outcome]:
    """Generate and conform one loaded timeline's placeholders without writing a timeline (Resolve's path)."""
    import asyncio   # the run's own imports: see the imports above

    from shotfill.jobs import from_media
    from shotfill.jobs.runner import Runner

    specs = [JobSpec(key=ph.id, info=loaded.info, placeholder=ph, media_dir=media_dir)
             for ph in loaded.scan.placeholders]
    runner = Runner(run, state_dir or media_dir / ".shotfill", on_event)
    to_run, done = from_media.split(specs, False)   # a note's source=handles: no job
    try:
        return from_media.ordered(specs, asyncio.run(runner.run(to_run)) + done)
    except KeyboardInterrupt:
        raise Interrupted("interrupted: nothing half-written; jobs already submitted are in the journal",
                          hint="run ShotFill again to resume") from None


def __getattr__(name: str) -> object:
    """``write_output``, still importable from here, imported when asked for (a scan writes nothing)."""
    if name == "write_output":
        from shotfill.timeline.write import write_output
        return write_output
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
