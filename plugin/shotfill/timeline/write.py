"""Write a filled timeline: the editor's own text where we can, OTIO's writers otherwise.

EDL -> .edl, FCP 7 XML -> .xml and FCPXML -> .fcpxml are spliced into the
original document so everything that is not a filled placeholder stays
byte-identical; any other pairing (or a placeholder the splice cannot place
exactly) goes through :func:`shotfill.place.place_clips` and the adapter, with
a warning naming what the format loses.  Every write is atomic.
"""

from __future__ import annotations

import contextlib
import io
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Optional

import opentimelineio as otio

from shotfill.errors import TimelineError, UsageError
from shotfill.system.files import write_text
from shotfill.model import Loaded, Placement
from shotfill.timeline.names import make_text_safe
from shotfill.rates import rate_str
from shotfill.timeline.aaf.prepare import prepare_for_aaf
from shotfill.timeline.adapters import write_file
from shotfill.timeline.edl.splice import splice_edl
from shotfill.timeline.fcp7.splice import splice_fcp7
from shotfill.timeline.fcpxml.splice import CompoundClipError, splice_fcpxml
from shotfill.timeline.media_refs import Rebase
from shotfill.timeline.otio.bundle import write_bundle
from shotfill.timeline.place import place_clips
from shotfill.timeline.xml.document import read_xml_source

#: (source text, placements, rate, drop frame, source name, relative_to) -> the edited document
XmlSplice = Callable[..., str]

#: output suffix -> OTIO adapter
OUTPUT_ADAPTERS = {".otio": "otio_json", ".otioz": "otioz", ".edl": "cmx_3600",
                   ".xml": "fcp_xml", ".fcpxml": "fcpx_xml", ".aaf": "AAF"}


def media_rebase(loaded: Loaded, output: Path, adapter: str, *, absolute_media: bool) -> Optional[Rebase]:
    """How the editor's relative media references are moved for ``output`` (None: they stay)."""
    if loaded.read.format == "otioz":
        return None        # its references name files inside the bundle, which the OTIOZ reader does not extract
    src = Path(loaded.info.path)
    # OTIO's OTIOZ writer takes a relative reference as relative to the working folder, and an AAF
    # locator is a URL with no base to resolve one from: give both absolute ones.
    return Rebase(src if src.is_dir() else src.parent, output.parent,
                  absolute=absolute_media or adapter in ("otioz", "AAF"))


def write_output(loaded: Loaded, placements: list[Placement], output: Path, adapter: str,
                 *, relative_paths: bool, absolute_media: bool = False) -> list[str]:
    """Write the filled timeline atomically; returns warnings about what the format loses.

    The editor's relative media references are rebased to ``output``'s folder (made absolute with
    ``absolute_media``), so they still name the same files from there.
    """
    warnings: list[str] = []
    read = loaded.read
    rebase = media_rebase(loaded, output, adapter, absolute_media=absolute_media)
    if adapter == "cmx_3600" and read.format == "edl" and read.source_text is not None:
        try:
            text = splice_edl(read.source_text, placements, rate=loaded.info.rate,
                              drop_frame=loaded.info.drop_frame, source_name=Path(loaded.info.path).name,
                              rebase=rebase)
            write_text(output, text, encoding=read.encoding or "utf-8")
            return warnings
        except TimelineError as exc:
            warnings.append(f"{exc.message}; written with OTIO's EDL writer instead")
    if adapter in ("fcp_xml", "fcpx_xml") and read.format == adapter:
        # FCP 7 XML -> .xml and FCPXML -> .fcpxml: edit the editor's document, as for EDLs.
        splice: XmlSplice = splice_fcp7 if adapter == "fcp_xml" else splice_fcpxml
        try:
            source, encoding = read_xml_source(Path(loaded.info.path))
            text = splice(source, placements, rate=loaded.info.rate, drop_frame=loaded.info.drop_frame,
                          source_name=Path(loaded.info.path).name,
                          relative_to=output.parent if relative_paths else None, rebase=rebase)
            write_text(output, text, encoding=encoding)
            return warnings
        except CompoundClipError:
            raise
        except TimelineError as exc:
            label = "FCP 7 XML" if adapter == "fcp_xml" else "FCPXML"
            warnings.append(f"{exc.message}; written with OTIO's {label} writer instead")
    if adapter == "fcpx_xml" and not fcpx_writer_can(loaded.info.rate):
        raise TimelineError(
            f"{output.name}: OTIO's FCPXML writer cannot write a {rate_str(loaded.info.rate)} fps timeline "
            "readably (it leaves frameDuration empty), so it was not written; the generated media is kept",
            hint="write the output as .otio or .xml (FCP 7), or start from an FCPXML export")
    # OTIOZ copies the media into the bundle and names it there: it needs to find it, so absolute paths.
    # An AAF locator is a URL with no base to resolve a relative path from: always absolute there too.
    if relative_paths and adapter == "AAF":
        warnings.append(f"{output.name}: AAF links media by absolute file:// URL; --relative-paths does not apply")
    relative_to = output.parent if relative_paths and adapter not in ("otioz", "AAF") else None
    filled = place_clips(read.timeline, placements, relative_to=relative_to,
                         rebase=rebase, urls=read.format in ("fcp_xml", "fcpx_xml"),
                         audio=adapter in ("otio_json", "otioz"))
    if adapter not in ("otio_json", "otioz") and any(pl.audio for pl in placements):
        warnings.append(f"{output.name}: the generated clips' sound is in their files but not on an audio track: "
                        "OTIO's writer for this format is not given one; write .otio, or the input's own format")
    if adapter in ("fcp_xml", "fcpx_xml"):
        give_ranges(filled)
    if adapter in ("cmx_3600", "fcp_xml", "fcpx_xml"):
        # These writers copy names and URLs into the text as they are: a newline would inject an EDL
        # line, a C0 character would make the XML unreadable.
        make_text_safe(filled)
    if adapter == "otioz":
        write_bundle(filled, output)   # OTIO's bundler would pack the active take only
        return warnings
    kwargs: dict[str, Any] = {}
    if adapter == "AAF":
        warnings += prepare_for_aaf(filled, loaded.info.rate, size=(loaded.info.width, loaded.info.height))
        # shotfill_otio's post-write hook adds the markers the writer drops and sets drop frame right.
        kwargs["hook_function_argument_map"] = {"shotfill_markers": True,
                                                "shotfill_drop_frame": loaded.info.drop_frame}
    if adapter == "cmx_3600":
        kwargs["rate"] = float(loaded.info.rate)
    write_file(filled, output, adapter_name=adapter, **kwargs)
    return warnings


def check_writable(loaded: Loaded, output: Path, adapter: str) -> None:
    """Refuse, before anything is generated or paid, an output that cannot hold the filled timeline.

    The write is rehearsed on the placeholders with stand-in media: the splice, if it applies,
    and otherwise OTIO's writer (in memory), so that what would fail after generation (a second
    video track into an EDL, an NTSC FCPXML through OTIO's writer, a writer that needs what the
    timeline lacks) fails now, with the same words, for ``fill`` and ``--dry-run`` alike.
    """
    read = loaded.read
    placeholders = [ph for ph in loaded.scan.placeholders if not ph.problems]
    stand_in = [Placement(ph, output.parent / f"{ph.id}.mov", {}) for ph in placeholders]
    name = Path(loaded.info.path).name
    why = ""
    try:
        if adapter == "cmx_3600" and read.format == "edl" and read.source_text is not None:
            splice_edl(read.source_text, stand_in, rate=loaded.info.rate, drop_frame=loaded.info.drop_frame,
                       source_name=name)
            return
        if adapter in ("fcp_xml", "fcpx_xml") and read.format == adapter:
            source, _ = read_xml_source(Path(loaded.info.path))
            splice: XmlSplice = splice_fcp7 if adapter == "fcp_xml" else splice_fcpxml
            splice(source, stand_in, rate=loaded.info.rate, drop_frame=loaded.info.drop_frame, source_name=name)
            return
    except CompoundClipError as exc:
        raise UsageError(f"{output.name}: {exc.message}", hint=exc.hint) from None
    except TimelineError as exc:
        why = f" ({exc.message})"
    if adapter not in ("cmx_3600", "fcp_xml", "fcpx_xml"):
        return                       # OTIO JSON and OTIOZ hold any timeline
    label = {"cmx_3600": "EDL", "fcp_xml": "FCP 7 XML", "fcpx_xml": "FCPXML"}[adapter]
    hint = "write the output as .otio (or another format that holds it); nothing was generated"
    if adapter == "fcpx_xml" and not fcpx_writer_can(loaded.info.rate):
        raise UsageError(f"{output.name}: OTIO's FCPXML writer cannot write a {rate_str(loaded.info.rate)} fps "
                         f"timeline readably, and {name} has to go through it{why}",
                         hint="write the output as .otio or .xml (FCP 7); nothing was generated")
    filled = place_clips(read.timeline, stand_in)
    make_text_safe(filled)
    give_ranges(filled)
    kwargs: dict[str, Any] = {"rate": float(loaded.info.rate)} if adapter == "cmx_3600" else {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            otio.adapters.write_to_string(filled, adapter, **kwargs)
    except Exception as exc:  # adapters raise anything: it is the editor's message either way
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{output.name}: OTIO's {label} writer cannot hold {name} filled{why}: {msg}",
                         hint=hint) from None


def give_ranges(timeline: otio.schema.Timeline) -> None:
    """Give file references without an ``available_range`` the clip's own range.

    OTIO's XML writers need one and fail on a reference without it (an EDL's ``* FROM CLIP:``
    names a file but not its length); the clip's range is the part of the file known to exist.
    """
    for clip in timeline.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.available_range is None \
                and clip.source_range is not None:
            ref.available_range = clip.source_range


def fcpx_writer_can(rate: Fraction) -> bool:
    """The stock FCPXML writer keys frameDuration on int(rate): NTSC rates come out unreadable."""
    return rate.denominator == 1
