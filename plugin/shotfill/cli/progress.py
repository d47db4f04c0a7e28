"""Showing a run's progress: one live line per placeholder on a terminal, plain lines elsewhere.

The pipeline only calls ``display(pid, stage, detail)``; how that looks is
decided here.  On a terminal a rich table redraws in place (queued,
submitted, the provider's %, downloading, conforming, done/failed) with
totals; in a log or CI each event is one line; ``--quiet`` shows nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Optional, TextIO

_FINAL = {"done", "failed", "skipped"}


@dataclass
class _Row:
    pid: str
    label: str
    stage: str = "queued"
    detail: str = ""
    started: float = field(default_factory=time.monotonic)
    ended: Optional[float] = None


class PlainDisplay:
    """One line per event, for logs and pipes."""

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()

    def add(self, pid: str, label: str) -> None:
        pass

    def __call__(self, pid: str, stage: str, detail: str) -> None:
        with self._lock:
            print(f"  {pid:<24} {stage:<9} {detail}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class QuietDisplay(PlainDisplay):
    def __call__(self, pid: str, stage: str, detail: str) -> None:
        pass


class LiveDisplay:
    """A rich table redrawn in place: a line per placeholder and a totals line."""

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._console = Console(file=stream if stream is not None else sys.stderr)
        # Started on the first event, so an error before any work prints alone.
        self._live = Live(console=self._console, refresh_per_second=8, transient=False,
                          get_renderable=self._render)
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._live.start()

    def add(self, pid: str, label: str) -> None:
        with self._lock:
            self._rows.setdefault(pid, _Row(pid, label))
        self._start()

    def __call__(self, pid: str, stage: str, detail: str) -> None:
        self._start()
        with self._lock:
            row = self._rows.setdefault(pid, _Row(pid, pid))
            if stage == "failed":
                self._console.log(f"[red]{pid}[/red] failed: {detail}")
            row.stage, row.detail = stage, detail
            if stage in _FINAL:
                row.ended = time.monotonic()

    def _render(self):  # noqa: ANN202 (a rich renderable)
        from rich.table import Table

        with self._lock:
            rows = list(self._rows.values())
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for col in ("placeholder", "stage", "", "time"):
            table.add_column(col)
        colours = {"done": "green", "failed": "red", "skipped": "grey50", "cached": "cyan"}
        now = time.monotonic()
        for r in rows:
            elapsed = (r.ended or now) - r.started
            style = colours.get(r.stage, "yellow" if r.stage != "queued" else "grey50")
            detail = r.detail if len(r.detail) < 60 else r.detail[:57] + "..."
            table.add_row(r.label, f"[{style}]{r.stage}[/{style}]", detail, f"{elapsed:5.1f}s")
        counts = {k: sum(1 for r in rows if r.stage == k) for k in ("done", "failed", "skipped")}
        running = len(rows) - sum(counts.values())
        table.caption = (f"{counts['done']} done, {counts['failed']} failed, {counts['skipped']} skipped, "
                         f"{running} to go")
        return table

    def close(self) -> None:
        if self._started:
            self._live.stop()


def make_display(*, quiet: bool = False, stream: Optional[TextIO] = None, live: Optional[bool] = None):
    """The right display for where the output goes."""
    stream = stream if stream is not None else sys.stderr
    if quiet:
        return QuietDisplay(stream)
    if live is None:
        live = stream.isatty()
    if live:
        try:
            return LiveDisplay(stream)
        except ImportError:  # rich missing: plain lines still work
            pass
    return PlainDisplay(stream)
