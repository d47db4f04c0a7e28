"""What a run reports as it goes: one event type with named stages.

The runner and the providers call ``sink(key, stage, detail)``; the command
line's display, the Resolve engine's JSON lines and the tests each decide how
an event looks.  ``key`` is the placeholder's label in the run.
"""

from __future__ import annotations

import enum
from typing import Callable


class Stage(str, enum.Enum):
    """Where a placeholder is; the values are what displays and JSON lines show."""

    PLAN = "plan"
    SKIPPED = "skipped"
    CACHED = "cached"
    RESUMED = "resumed"
    GENERATE = "generate"
    SUBMIT = "submit"
    SUBMITTED = "submitted"
    RECOVERED = "recovered"
    PROGRESS = "progress"
    DOWNLOAD = "download"
    CONFORM = "conform"
    DONE = "done"
    FAILED = "failed"

    # The value in text and format specs on every Python (3.11 and 3.12 differ for mixins).
    __str__ = str.__str__

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)


FINAL_STAGES = frozenset({Stage.DONE, Stage.FAILED, Stage.SKIPPED})

#: ``sink(key, stage, detail)``
EventSink = Callable[[str, Stage, str], None]


def no_events(key: str, stage: Stage, detail: str) -> None:
    """The sink for callers that show nothing."""
