"""Every take in an ``.otioz``: OTIO's bundler packs only each clip's active media reference.

A clip with several takes (media references ``take1`` ... ``takeN``) would
leave the inactive ones pointing outside the bundle, so a pick made later
would show a take the bundle does not hold.  :func:`pack_takes` relinks them to
``media/<name>`` before OTIO writes, and adds their files to the zip after, so
the bundle holds every take; :func:`rewrite_bundle` edits the timeline of a
bundle and copies its media as it is (``shotfill pick``).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Callable

import opentimelineio as otio

from shotfill.errors import TimelineError
from shotfill.system.bounded import MAX_TIMELINE_BYTES, check_zip
from shotfill.system.files import atomic_path
from shotfill.timeline.adapters import read_string, write_file, write_string

#: where OTIO's otioz bundler puts media, and the timeline's member name
MEDIA_DIR = "media"
CONTENT = "content.otio"


def pack_takes(timeline: otio.schema.Timeline) -> tuple[otio.schema.Timeline, dict[str, Path]]:
    """A copy whose inactive takes point into the bundle, and the files to add: member name -> file."""
    out = timeline.deepcopy()
    extra: dict[str, Path] = {}
    for clip in out.find_clips():
        refs = clip.media_references()
        if len(refs) < 2:
            continue
        for key, ref in refs.items():
            if key == clip.active_media_reference_key or not isinstance(ref, otio.schema.ExternalReference):
                continue
            url = ref.target_url or ""
            if not url.startswith("file:"):
                continue
            path = Path(otio.url_utils.filepath_from_url(url))
            if not path.is_file():
                continue
            member = f"{MEDIA_DIR}/{path.name}"
            extra[member] = path
            ref.target_url = otio.url_utils.url_from_filepath(member)
        clip.set_media_references(refs, clip.active_media_reference_key)
    return out, extra


def write_bundle(timeline: otio.schema.Timeline, output: Path) -> None:
    """Write ``output`` as ``.otioz`` with every take's media inside."""
    packed, extra = pack_takes(timeline)

    def add_takes(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "a") as z:
            have = set(z.namelist())
            for member, path in extra.items():
                if member not in have:
                    z.write(path, member, compress_type=zipfile.ZIP_STORED)

    write_file(packed, output, adapter_name="otioz", finish=add_takes if extra else None)


def rewrite_bundle(src: Path, output: Path, edit: Callable[[otio.schema.Timeline], None]) -> None:
    """Write ``output``: the bundle ``src`` with its timeline edited by ``edit``, its media copied as it is."""
    check_zip(src)
    with zipfile.ZipFile(src) as z:
        try:
            info = z.getinfo(CONTENT)
        except KeyError:
            raise TimelineError(f"{src}: holds no {CONTENT}", hint="pick in a bundle ShotFill wrote") from None
        if info.file_size > MAX_TIMELINE_BYTES:
            raise TimelineError(f"{src}: its {CONTENT} is too large", hint="check that this is the timeline you meant")
        timeline = read_string(z.read(CONTENT).decode("utf-8"), "otio_json")
        edit(timeline)
        text = write_string(timeline, "otio_json")
        with atomic_path(output) as tmp, zipfile.ZipFile(tmp, "w") as out:
            for member in z.infolist():
                if member.filename == CONTENT:
                    out.writestr(member, text.encode("utf-8"))
                    continue
                with z.open(member) as a, out.open(member, "w") as b:
                    shutil.copyfileobj(a, b, 1024 * 1024)
