"""The only module that knows the order of the stages.

    read -> scan -> plan -> generate -> conform -> place -> write

Each phase below is a plain function call; progress goes out through the
``on_event`` callback, so the command line, Resolve and the batch engine can
each show it their own way.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Optional

from shotfill import __version__
from shotfill.errors import ConformError, MediaError, PlaceholderError, ShotFillError, TimelineError, UsageError
from shotfill.media.conform import conform
from shotfill.media.probe import probe
from shotfill.model import Codec, ConformTarget, Fit, GeneratedMedia, GenerationRequest, Placeholder, TimelineInfo
from shotfill.place import Placement, place_clips
from shotfill.plan import PlanSettings, plan_request
from shotfill.config import Settings
from shotfill.journal import Journal
from shotfill.providers import get_provider
from shotfill.providers.base import ProviderContext
from shotfill.rates import rate_str
from shotfill.scan import ScanResult, scan_timeline
from shotfill.timeline_io import ReadResult, read_timeline, write_timeline_atomic

#: output suffix -> OTIO adapter
OUTPUT_ADAPTERS = {".otio": "otio_json", ".otioz": "otioz", ".edl": "cmx_3600",
                   ".xml": "fcp_xml", ".fcpxml": "fcpx_xml"}

Event = Callable[[str, str, str], None]   # (placeholder id, stage, detail)


def _no_event(pid: str, stage: str, detail: str) -> None:
    pass


@dataclass
class Loaded:
    read: ReadResult
    info: TimelineInfo
    scan: ScanResult
    size_from: str


@dataclass
class FillSettings:
    output: Path
    provider: Optional[str] = None
    model: Optional[str] = None
    media_dir: Optional[Path] = None
    codec: Codec = Codec.PRORES
    relative_paths: bool = False
    concurrency: int = 4
    media_search: list[Path] = field(default_factory=list)
    allow_stray_markers: bool = False
    config: Settings = field(default_factory=Settings)
    #: a second file whose markers are merged onto the timeline (``--markers``)
    markers: Optional[Path] = None


@dataclass
class Outcome:
    placeholder: Placeholder
    ok: bool
    media: Optional[Path] = None
    error: Optional[str] = None
    request: Optional[GenerationRequest] = None
    provenance: Optional[dict] = None


@dataclass
class FillResult:
    loaded: Loaded
    output: Path
    media_dir: Path
    outcomes: list[Outcome]
    warnings: list[str]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def _size_from_media(scan: ScanResult) -> Optional[tuple[int, int]]:
    for ph in scan.placeholders:
        for nb in (ph.before, ph.after):
            if nb is not None and nb.media_path:
                try:
                    info = probe(nb.media_path)
                    return info.width, info.height
                except MediaError:
                    continue
    return None


def load(path: Path, *, rate: Optional[Fraction] = None, resolution: Optional[tuple[int, int]] = None,
         media_search: Optional[list[Path]] = None, adapter: Optional[str] = None,
         markers: Optional[Path] = None) -> Loaded:
    """Read and scan a timeline, and settle its frame size.

    ``markers``: a second file whose markers are merged onto the timeline's
    stack before the scan (see :mod:`shotfill.markers`).
    """
    read = read_timeline(path, rate=rate, adapter=adapter)
    warnings = list(read.warnings)
    if markers is not None:
        from shotfill.markers import merge_markers

        warnings += merge_markers(read.timeline, markers, rate=read.rate, start_frame=read.start_frame,
                                  drop_frame=read.drop_frame)
    if rate is not None and read.format != "edl" and rate != read.rate:
        warnings.append(f"{path.name}: --rate {rate_str(rate)} ignored: the timeline says {rate_str(read.rate)}")
    info = TimelineInfo(path=str(path), format=read.format, name=read.timeline.name or path.stem,
                        rate=read.rate, drop_frame=read.drop_frame, start_frame=read.start_frame,
                        width=read.width, height=read.height)
    scan = scan_timeline(read.timeline, info, media_search=media_search)
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


def check_output(timeline: Path, output: Path) -> str:
    """The adapter for OUTPUT; refuses unknown suffixes and overwriting the input."""
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


def _provenance(req: GenerationRequest, gen: GeneratedMedia) -> dict:
    return {
        "provider": gen.provider, "model": gen.model, "job_id": gen.job_id,
        "prompt": req.prompt, "negative": req.negative, "seed": req.seed,
        "request_hash": req.request_hash, "shotfill_version": __version__,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


async def _run_jobs(loaded: Loaded, settings: FillSettings, media_dir: Path, on_event: Event) -> list[Outcome]:
    info = loaded.info
    plan = _plan_settings(loaded, settings)
    work = media_dir / ".shotfill"
    journal = Journal(work / "journal.sqlite")
    ctx = ProviderContext(settings=settings.config, journal=journal, on_event=on_event)
    providers: dict[str, object] = {}
    gen_sem = asyncio.Semaphore(max(1, settings.concurrency))
    # Each service has its own concurrency limit (its account tier), on top of the run's.
    provider_sems: dict[str, asyncio.Semaphore] = {}

    def provider_sem(name: str) -> asyncio.Semaphore:
        if name not in provider_sems:
            limit = settings.config.provider(name).concurrency if name in settings.config.providers \
                else (max(1, (os.cpu_count() or 2) // 2) if name == "local" else 2)
            provider_sems[name] = asyncio.Semaphore(limit)
        return provider_sems[name]
    conform_sem = asyncio.Semaphore(max(1, (os.cpu_count() or 2) // 2))
    stem = Path(info.path).stem

    async def one(ph: Placeholder) -> Outcome:
        req: Optional[GenerationRequest] = None
        try:
            on_event(ph.id, "plan", ph.prompt)
            req = await asyncio.to_thread(plan_request, ph, plan, work / "frames" / stem)
            if req.provider not in providers:
                providers[req.provider] = get_provider(req.provider, ctx)
            provider = providers[req.provider]
            async with gen_sem, provider_sem(req.provider):
                on_event(ph.id, "generate", req.provider)
                gen = await provider.generate(req, work / "generated")
            target = ConformTarget(width=info.width, height=info.height, rate=ph.rate, frames=ph.duration,
                                   timecode=ph.timecode, codec=settings.codec, fit=ph.options.fit or Fit.FILL)
            dst = media_dir / f"{stem}_{ph.id}_{req.request_hash[:8]}{settings.codec.suffix}"
            async with conform_sem:
                on_event(ph.id, "conform", dst.name)
                await asyncio.to_thread(conform, Path(gen.path), dst, target)
            on_event(ph.id, "done", str(dst))
            return Outcome(ph, True, media=dst, request=req, provenance=_provenance(req, gen))
        except UsageError:
            raise
        except ShotFillError as exc:
            on_event(ph.id, "failed", str(exc))
            return Outcome(ph, False, error=str(exc), request=req)
        except Exception as exc:  # one hole's bug must not lose the others' paid work
            on_event(ph.id, "failed", f"internal error: {exc!r}")
            return Outcome(ph, False, error=f"internal error: {exc!r}", request=req)

    try:
        return list(await asyncio.gather(*(one(ph) for ph in loaded.scan.placeholders)))
    finally:
        journal.close()


def write_output(loaded: Loaded, placements: list[Placement], output: Path, adapter: str,
                 *, relative_paths: bool) -> list[str]:
    """Write the filled timeline atomically; returns warnings about what the format loses."""
    warnings: list[str] = []
    read = loaded.read
    if adapter == "cmx_3600" and read.format == "edl" and read.source_text is not None:
        from shotfill.edl_splice import splice_edl

        try:
            text = splice_edl(read.source_text, placements, rate=loaded.info.rate,
                              drop_frame=loaded.info.drop_frame, source_name=Path(loaded.info.path).name)
            _write_text_atomic(output, text, read.encoding or "utf-8")
            return warnings
        except TimelineError as exc:
            warnings.append(f"{exc.message}; written with OTIO's EDL writer instead")
    if adapter in ("fcp_xml", "fcpx_xml") and read.format == adapter:
        # FCP 7 XML -> .xml and FCPXML -> .fcpxml: edit the editor's document, as for EDLs.
        from shotfill.fcp7_splice import splice_fcp7
        from shotfill.fcpxml_splice import splice_fcpxml
        from shotfill.xml_doc import read_xml_source

        splice = splice_fcp7 if adapter == "fcp_xml" else splice_fcpxml
        try:
            source, encoding = read_xml_source(Path(loaded.info.path))
            text = splice(source, placements, rate=loaded.info.rate, drop_frame=loaded.info.drop_frame,
                          source_name=Path(loaded.info.path).name,
                          relative_to=output.parent if relative_paths else None)
            _write_text_atomic(output, text, encoding)
            return warnings
        except TimelineError as exc:
            label = "FCP 7 XML" if adapter == "fcp_xml" else "FCPXML"
            warnings.append(f"{exc.message}; written with OTIO's {label} writer instead")
    filled = place_clips(read.timeline, placements, relative_to=output.parent if relative_paths else None)
    kwargs = {}
    if adapter == "cmx_3600":
        kwargs["rate"] = float(loaded.info.rate)
    write_timeline_atomic(filled, output, adapter_name=adapter, **kwargs)
    return warnings


def _write_text_atomic(path: Path, text: str, encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def prepare(timeline: Path, settings: FillSettings, *, rate: Optional[Fraction] = None,
            resolution: Optional[tuple[int, int]] = None) -> tuple[Loaded, str]:
    """Everything ``fill`` checks before it spends anything; raises on bad input."""
    adapter = check_output(timeline, settings.output)
    loaded = load(timeline, rate=rate, resolution=resolution, media_search=settings.media_search,
                  markers=settings.markers)
    name = timeline.name
    if loaded.info.width is None or loaded.info.height is None:
        raise TimelineError(f"{name}: cannot tell the frame size of this timeline (no size in the file "
                            "and no neighbouring media to measure)", hint="pass --resolution WxH, e.g. 1920x1080")
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
    return loaded, adapter


def _plan_settings(loaded: Loaded, settings: FillSettings) -> PlanSettings:
    assert loaded.info.width and loaded.info.height
    return PlanSettings(width=loaded.info.width, height=loaded.info.height,
                        provider=settings.provider or settings.config.default_provider, model=settings.model)


def dry_run(timeline: Path, settings: FillSettings, *, rate: Optional[Fraction] = None,
            resolution: Optional[tuple[int, int]] = None) -> list[dict]:
    """What ``fill`` would send, per placeholder, with its estimated cost; sends nothing, writes nothing."""
    loaded, _ = prepare(timeline, settings, rate=rate, resolution=resolution)
    plan = _plan_settings(loaded, settings)
    ctx = ProviderContext(settings=settings.config)
    rows = []
    with tempfile.TemporaryDirectory(prefix="shotfill-dry-") as tmp:
        for ph in loaded.scan.placeholders:
            req = plan_request(ph, plan, Path(tmp))
            row: dict = {"id": ph.id, "timecode": ph.timecode, "frames": ph.duration, "provider": req.provider,
                         "prompt": ph.prompt, "plan": None, "body": None}
            try:
                preview = get_provider(req.provider, ctx).request_preview(req)
                row.update(plan=preview["plan"], body=preview["body"], refused=preview["plan"].get("refused"))
            except ShotFillError as exc:
                row["refused"] = str(exc)
            rows.append(row)
    return rows


def fill(timeline: Path, settings: FillSettings, *, rate: Optional[Fraction] = None,
         resolution: Optional[tuple[int, int]] = None, on_event: Event = _no_event) -> FillResult:
    """Fill every placeholder of one timeline and write OUTPUT."""
    # Phase 1: read, scan and check everything that can be checked before spending.
    loaded, adapter = prepare(timeline, settings, rate=rate, resolution=resolution)
    # Phase 2: generate and conform, concurrently.
    media_dir = settings.media_dir or settings.output.parent / f"{settings.output.stem}_media"
    media_dir.mkdir(parents=True, exist_ok=True)
    outcomes = asyncio.run(_run_jobs(loaded, settings, media_dir, on_event))
    # Phase 3: place and write.
    placements = [Placement(o.placeholder, o.media, o.provenance or {})
                  for o in outcomes if o.ok and o.media]
    warnings = list(loaded.scan.warnings)
    warnings += write_output(loaded, placements, settings.output, adapter, relative_paths=settings.relative_paths)
    return FillResult(loaded=loaded, output=settings.output, media_dir=media_dir, outcomes=outcomes,
                      warnings=warnings)
