"""The one place that runs OpenTimelineIO's adapters, so that nothing they do escapes raw.

Adapters raise anything (``KeyError``, ``AttributeError``, their own errors,
``RecursionError`` on deep nesting) and some print to stdout.  ShotFill's
output must stay its own, and every failure must name the file and say what
to do: :func:`call_adapter` runs one with stdout captured and turns whatever
it raises into a :class:`TimelineError`, with an install hint when the adapter
itself is missing.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import opentimelineio as otio

from shotfill.errors import ShotFillError, TimelineError
from shotfill.system.files import atomic_path, folder_errno, os_error, write_failed
from shotfill.timeline.formats import EXPORT_HINT, FORMAT_ADAPTERS, FORMAT_LABELS

T = TypeVar("T")

#: Where each adapter comes from, for the hint when it is missing.
ADAPTER_PACKAGES = {
    "cmx_3600": "otio-cmx3600-adapter (part of opentimelineio-plugins)",
    "fcp_xml": "otio-fcp-adapter (part of opentimelineio-plugins)",
    "fcpx_xml": "otio-fcpx-xml-adapter",
    "AAF": "otio-aaf-adapter (part of opentimelineio-plugins)",
    "xges": "otio-xges-adapter (part of opentimelineio-plugins)",
    "ale": "otio-ale-adapter (part of opentimelineio-plugins)",
    "kdenlive": "otio-kdenlive-adapter",
}


def read_string(text: str, adapter_name: str, **kw: Any) -> Any:
    """OTIO's reader on ``text``; what the adapter prints is kept out of ShotFill's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return otio.adapters.read_from_string(text, adapter_name=adapter_name, **kw)


def read_file(path: str | os.PathLike[str], adapter_name: str, **kw: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return otio.adapters.read_from_file(str(path), adapter_name=adapter_name, **kw)


def write_string(timeline: otio.schema.Timeline, adapter_name: str) -> str:
    with contextlib.redirect_stdout(io.StringIO()):
        return str(otio.adapters.write_to_string(timeline, adapter_name=adapter_name))


def write_file(timeline: otio.schema.Timeline, path: str | os.PathLike[str], *,
               adapter_name: str | None = None, finish: Callable[[Path], None] | None = None, **kw: Any) -> Path:
    """Write ``timeline`` with an OTIO adapter, replacing ``path`` only when the write is whole.

    The adapter writes a temporary sibling with the same suffix (so it is
    chosen by suffix when ``adapter_name`` is None).  OTIO's JSON writer
    reports a failed write (a full disk) only by returning False, so the
    result and the file's size are checked before the rename; on any failure
    ``path`` is left exactly as it was and :class:`TimelineError` (or, for the
    disk itself, :class:`~shotfill.errors.WriteError`) says so.  ``finish``
    completes the written file (before the rename) where the adapter cannot.
    """
    target = Path(path)
    shown = str(path)
    if not target.parent.is_dir():
        raise TimelineError(f"{shown}: the folder {target.parent} does not exist",
                            hint="create it first or choose another output path")
    if target.is_dir():
        raise TimelineError(f"{shown}: is a folder", hint="give a file name for the output")
    if adapter_name is not None:
        adapter_name = FORMAT_ADAPTERS.get(adapter_name, adapter_name)
    with atomic_path(target) as tmp:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                ok = otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter_name, **kw)
        except (ShotFillError, OSError):
            raise
        except Exception as exc:  # adapters raise anything: never let it out raw
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TimelineError(f"{shown}: could not be written ({type(exc).__name__}: {msg})",
                                hint="nothing was changed; check the format can hold this timeline "
                                     "and that the folder is writable") from None
        if ok is False or not tmp.is_file() or tmp.stat().st_size == 0:
            code = folder_errno(target.parent)
            if code is not None:   # the writer does not say why; the disk does
                raise write_failed(target, os_error(code))
            raise TimelineError(f"{shown}: the {adapter_name or target.suffix} writer could not write the file "
                                "whole (is the disk full?); any earlier file there is unchanged",
                                hint="free some space on that disk, or write elsewhere, and run again")
        if finish is not None:
            finish(tmp)
    return target


def call_adapter(shown: str, fmt: str, adapter_name: str, fn: Callable[[], T]) -> T:
    """Run an adapter; anything it raises becomes a TimelineError naming the file.

    Some adapters print to stdout (the Kdenlive one prints a notice); that is
    kept out of ShotFill's output.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return fn()
    except TimelineError:
        raise
    except otio.exceptions.NotSupportedError as exc:
        if "Could not find plugin" in str(exc):
            pkg = ADAPTER_PACKAGES.get(adapter_name, adapter_name)
            hint = f"install the OTIO adapter for it: pip install {pkg.split(' ')[0]}"
            if fmt == "kdenlive":
                hint += ("; or, with Kdenlive 25.04 or later, export the timeline as "
                         "OpenTimelineIO (.otio) from Kdenlive itself")
            raise TimelineError(
                f"{shown}: {FORMAT_LABELS.get(fmt, fmt)} needs the OTIO adapter "
                f"'{adapter_name}', which is not installed", hint=hint) from None
        raise adapter_error(shown, fmt, exc) from None
    except RecursionError:
        raise TimelineError(f"{shown}: is nested too deeply to read", hint=EXPORT_HINT) from None
    except Exception as exc:  # adapters raise anything: never let it out raw
        raise adapter_error(shown, fmt, exc) from None


def adapter_error(shown: str, fmt: str, exc: BaseException) -> TimelineError:
    """The TimelineError for an adapter's failure on ``shown``: its first line, and a hint for the format."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(msg) > 300:
        msg = msg[:300] + "..."
    what = FORMAT_LABELS.get(fmt, fmt)
    hint = {
        "fcpx_xml": "the FCPXML adapter reads projects of plain clips, gaps and compound "
                    "clips; export the timeline as FCP 7 XML or OpenTimelineIO instead",
        "fcp_xml": "export the sequence again as FCP 7 XML (File > Export > XML), "
                   "or as OpenTimelineIO",
    }.get(fmt, EXPORT_HINT)
    if fmt == "fcp_xml" and "No top-level sequences" in msg:
        return TimelineError(f"{shown}: holds no sequence, so there is no timeline in it",
                             hint="export the sequence itself as XML, not a clip or an effect")
    return TimelineError(f"{shown}: could not be read as {what} ({type(exc).__name__}: {msg})",
                         hint=hint)
