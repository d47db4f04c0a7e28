"""Write a filled timeline: the editor's own text where we can, OTIO's writers otherwise.

EDL -> .edl, FCP 7 XML -> .xml and FCPXML -> .fcpxml are spliced into the
original document so everything that is not a filled placeholder stays
byte-identical; any other pairing (or a placeholder the splice cannot place
exactly) goes through :func:`shotfill.place.place_clips` and the adapter, with
a warning naming what the format loses.  Every write is atomic.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from shotfill.errors import TimelineError
from shotfill.system.files import write_text
from shotfill.model import Loaded, Placement
from shotfill.timeline.names import make_text_safe
from shotfill.rates import rate_str
from shotfill.timeline.aaf.prepare import prepare_for_aaf
from shotfill.timeline.adapters import write_file
from shotfill.timeline.edl.splice import splice_edl
from shotfill.timeline.fcp7.splice import splice_fcp7
from shotfill.timeline.fcpxml.splice import splice_fcpxml
from shotfill.timeline.place import place_clips
from shotfill.timeline.xml.document import read_xml_source

#: (source text, placements, rate, drop frame, source name, relative_to) -> the edited document
XmlSplice = Callable[..., str]

#: output suffix -> OTIO adapter
OUTPUT_ADAPTERS = {".otio": "otio_json", ".otioz": "otioz", ".edl": "cmx_3600",
                   ".xml": "fcp_xml", ".fcpxml": "fcpx_xml", ".aaf": "AAF"}


def write_output(loaded: Loaded, placements: list[Placement], output: Path, adapter: str,
                 *, relative_paths: bool) -> list[str]:
    """Write the filled timeline atomically; returns warnings about what the format loses."""
    warnings: list[str] = []
    read = loaded.read
    if adapter == "cmx_3600" and read.format == "edl" and read.source_text is not None:
        try:
            text = splice_edl(read.source_text, placements, rate=loaded.info.rate,
                              drop_frame=loaded.info.drop_frame, source_name=Path(loaded.info.path).name)
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
                          relative_to=output.parent if relative_paths else None)
            write_text(output, text, encoding=encoding)
            return warnings
        except TimelineError as exc:
            label = "FCP 7 XML" if adapter == "fcp_xml" else "FCPXML"
            warnings.append(f"{exc.message}; written with OTIO's {label} writer instead")
    if adapter == "fcpx_xml" and not fcpx_writer_can(loaded.info.rate):
        raise TimelineError(
            f"{output.name}: OTIO's FCPXML writer cannot write a {rate_str(loaded.info.rate)} fps timeline "
            "readably (it leaves frameDuration empty), so it was not written; the generated media is kept",
            hint="write the output as .otio or .xml (FCP 7), or start from an FCPXML export")
    # An AAF locator is a URL with no base to resolve a relative path from: always absolute there.
    relative = relative_paths and adapter != "AAF"
    if relative_paths and not relative:
        warnings.append(f"{output.name}: AAF links media by absolute file:// URL; --relative-paths does not apply")
    filled = place_clips(read.timeline, placements, relative_to=output.parent if relative else None)
    if adapter in ("cmx_3600", "fcp_xml", "fcpx_xml"):
        # These writers copy names and URLs into the text as they are: a newline would inject an EDL
        # line, a C0 character would make the XML unreadable.
        make_text_safe(filled)
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


def fcpx_writer_can(rate: Fraction) -> bool:
    """The stock FCPXML writer keys frameDuration on int(rate): NTSC rates come out unreadable."""
    return rate.denominator == 1
