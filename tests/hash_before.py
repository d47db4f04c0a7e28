"""A request's hash as ShotFill computed it before takes, handles, segments and sound existed.

The tests that hold a request asking for none of those to its old hash (so earlier caches and
journals still serve it) compare :func:`shotfill.plan.requests.request_hash` with this.
"""

from __future__ import annotations

import hashlib
import json

from shotfill.model import GenerationRequest

#: fields never hashed as they are: the hash itself, the frames and references (hashed by content),
#: and the names the editor sees
_NOT_HASHED = {"request_hash", "first_frame", "last_frame", "references", "placeholder_id", "shot_label"}
#: fields a request gained later
_LATER = {"take", "handles", "segment", "segments", "chained_from", "audio"}


def hash_before_later_fields(req: GenerationRequest) -> str:
    """The hash of ``req`` with no first or last frame, as it was computed then."""
    data = req.model_dump(mode="json", exclude=_NOT_HASHED | _LATER)
    h = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
    for _ in range(2):   # no first frame, no last frame
        h.update(b"\0frame\0")
    return h.hexdigest()
