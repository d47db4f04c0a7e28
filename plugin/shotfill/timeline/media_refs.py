"""The editor's own media references, made to resolve from the output's folder.

A timeline may name its media relative to itself (``media/shot_a.mov``).  The
filled copy is often written into another folder, where the same text names
nothing, and every editor's shot plays black.  A :class:`Rebase` turns each
relative reference into one relative to the output's folder (or, with
``--absolute-media``, into an absolute one); absolute paths and URLs of any
scheme are left exactly as they were, and so is everything when the output
sits in the input's own folder.

References come in two spellings: URLs (FCP 7 ``<pathurl>``, FCPXML ``src``,
OTIO ``target_url`` read from XML), percent-encoded, and plain paths (EDL
comments, OTIO ``target_url`` from anything else).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import opentimelineio as otio

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")       # two letters or more: not a drive letter
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def is_relative(ref: str) -> bool:
    """True for a reference that counts from the timeline's folder (no scheme, no root, no drive)."""
    r = ref.strip()
    return bool(r) and not (_SCHEME.match(r) or _DRIVE.match(r) or r.startswith(("/", "\\")))


@dataclass(frozen=True)
class Rebase:
    """Where relative references count from (the input's folder) and where they must count from now."""

    source_dir: Path
    output_dir: Path
    absolute: bool = False

    def _target(self, rel: str) -> Optional[Path]:
        src, out = self.source_dir.resolve(), self.output_dir.resolve()
        if src == out and not self.absolute:
            return None                    # the same folder: the text already resolves
        return Path(os.path.normpath(src / rel.replace("\\", "/")))

    def path(self, ref: str) -> Optional[str]:
        """A plain-path reference rebased, or None when it stays as written."""
        if not is_relative(ref):
            return None
        target = self._target(ref.strip())
        if target is None:
            return None
        new = str(target) if self.absolute else Path(os.path.relpath(target, self.output_dir.resolve())).as_posix()
        return None if new == ref else new

    def url(self, ref: str, *, host: str = "") -> Optional[str]:
        """A URL reference rebased (percent-encoded, ``file://{host}/...`` when absolute), or None."""
        if not is_relative(ref):
            return None
        target = self._target(urllib.parse.unquote(ref.strip(), errors="surrogateescape"))
        if target is None:
            return None
        if self.absolute:
            p = target.as_posix()
            new = f"file://{host}" + urllib.parse.quote(p if p.startswith("/") else "/" + p, safe="/",
                                                        errors="surrogateescape")
        else:
            rel = Path(os.path.relpath(target, self.output_dir.resolve())).as_posix()
            new = urllib.parse.quote(rel, safe="/", errors="surrogateescape")
        return None if new == ref else new

    def timeline(self, timeline: otio.schema.Timeline, *, urls: bool) -> None:
        """Rebase, in place, every media reference of ``timeline``'s clips (``urls``: they are URLs)."""
        for clip in timeline.find_clips():
            refs: list[Any] = list(clip.media_references().values())
            for ref in refs:
                for attr in ("target_url", "target_url_base"):
                    value = getattr(ref, attr, None)
                    if not value:
                        continue
                    new = self.url(value) if urls else self.path(value)
                    if new is not None:
                        setattr(ref, attr, new + ("/" if attr == "target_url_base" and not new.endswith("/")
                                                  and value.endswith("/") else ""))
