"""A content-addressed cache of generated media: the same request is never generated twice.

The key is the request hash (provider, model, prompt, options, seed, size,
duration, rate and the bytes of the reference frames; see
:func:`shotfill.plan.request_hash`).  Each entry is the raw generated file plus
a small JSON sidecar with its size and SHA-256, so a truncated or damaged
entry is noticed and regenerated instead of placed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

from shotfill.errors import MediaError
from shotfill.media.probe import probe
from shotfill.system.files import atomic_path, file_sha256, make_dirs, write_text


class MediaCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _entry(self, request_hash: str) -> tuple[Path, Path]:
        folder = self.root / request_hash[:2]
        return folder / request_hash, folder / f"{request_hash}.json"

    def get(self, request_hash: str) -> Optional[tuple[Path, dict[str, Any]]]:
        """The cached file and its metadata, or None; a damaged entry is removed and reported as a miss."""
        media, meta_path = self._entry(request_hash)
        if not media.is_file() or not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if media.stat().st_size != meta["size"] or file_sha256(media) != meta["sha256"]:
                raise ValueError("size or checksum differs")
            probe(media)
        except (ValueError, KeyError, OSError, MediaError):
            self.evict(request_hash)
            return None
        return media, meta

    def put(self, request_hash: str, src: Path, meta: dict[str, Any]) -> Path:
        """Add ``src`` under ``request_hash`` (hard link when possible); returns the cached path."""
        media, meta_path = self._entry(request_hash)
        make_dirs(media.parent)
        with atomic_path(media) as tmp:
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
        record = {**meta, "size": media.stat().st_size, "sha256": file_sha256(media), "suffix": src.suffix}
        write_text(meta_path, json.dumps(record, sort_keys=True, indent=1))
        return media

    def evict(self, request_hash: str) -> None:
        for p in self._entry(request_hash):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
