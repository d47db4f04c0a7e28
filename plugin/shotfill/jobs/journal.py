"""A SQLite journal of provider jobs, so a paid generation is never lost or paid twice.

One row per request hash.  The order of writes is the point:

1. ``submitting`` is written *before* the submit is sent: if the process dies
   while it is in flight, the next run knows a job may exist.
2. ``submitted`` with the remote job id is written as soon as the service
   answers, before the answer is acted on.
3. ``downloaded`` with the media path and the SHA-256 of its bytes once the
   file is whole on disk (a later run places it only if they still match).
4. ``failed`` with the service's reason, or ``uncertain`` when a submit may
   have reached the service without an answer.

Each write is its own committed transaction (WAL mode), so a SIGKILL leaves
the journal consistent.  Every text written is scrubbed of known secrets
(:mod:`shotfill.system.secrets`) first: a service's error may echo the key.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

from shotfill.errors import ShotFillError, StateError, WriteError
from shotfill.system.files import disk_errno, folder_errno, make_dirs, os_error, write_failed
from shotfill.system.secrets import scrub

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    request_hash TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    model        TEXT,
    job_id       TEXT,
    state        TEXT NOT NULL,
    media_path   TEXT,
    cost         REAL,
    data         TEXT,
    error        TEXT,
    updated_at   REAL NOT NULL,
    sha256       TEXT
)
"""

#: columns added since the first schema, with their type: an older journal gains them when opened
ADDED_COLUMNS = {"sha256": "TEXT"}

#: a job's state, in the order the lifecycle writes them (``failed`` and ``uncertain`` end it early)
JobState = Literal["submitting", "submitted", "downloaded", "failed", "uncertain"]


@dataclass(frozen=True)
class JobRecord:
    request_hash: str
    provider: str
    model: Optional[str]
    job_id: Optional[str]
    state: JobState
    media_path: Optional[str]
    cost: Optional[float]
    data: dict[str, Any]
    error: Optional[str]
    updated_at: float = 0.0
    #: SHA-256 of the downloaded file as it landed (None in rows older than the column)
    sha256: Optional[str] = None


class Journal:
    """Thread-safe; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        make_dirs(path.parent)
        self.path = path
        self._lock = threading.Lock()
        new = not path.exists()
        sidecars = _absent_sidecars(path)
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(SCHEMA)
            _check_open(self._db)
            _migrate(self._db)
        except sqlite3.Error as exc:
            if hasattr(self, "_db"):
                self._db.close()
            _remove_empty([path] if new else [])
            _remove_empty(sidecars)
            raise _unusable(path, exc) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, request_hash: str) -> Optional[JobRecord]:
        with self._lock:
            row = self._db.execute(
                "SELECT request_hash, provider, model, job_id, state, media_path, cost, data, error, updated_at, "
                "sha256 FROM jobs WHERE request_hash = ?", (request_hash,)).fetchone()
        if row is None:
            return None
        h, provider, model, job_id, state, media_path, cost, data, error, updated_at, sha256 = row
        return JobRecord(h, provider, model, job_id, state, media_path, cost, data=json.loads(data or "{}"),
                         error=error, updated_at=updated_at, sha256=sha256)

    def all(self) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute("SELECT request_hash FROM jobs ORDER BY updated_at").fetchall()
        return [r for (h,) in rows if (r := self.get(h)) is not None]

    def _upsert(self, request_hash: str, provider: str, **fields: Any) -> None:
        if "data" in fields:
            fields["data"] = json.dumps(fields["data"], sort_keys=True)
        fields = {k: scrub(v) for k, v in fields.items()}
        fields["updated_at"] = time.time()
        cols = ["request_hash", "provider", *fields]
        vals = [request_hash, provider, *fields.values()]
        updates = ", ".join(f"{c} = excluded.{c}" for c in ["provider", *fields])
        try:
            with self._lock:
                self._db.execute(
                    f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                    f"ON CONFLICT(request_hash) DO UPDATE SET {updates}", vals)
        except sqlite3.Error as exc:
            raise _not_recorded(self.path, exc, provider, fields) from None

    def submitting(self, request_hash: str, provider: str, model: Optional[str], cost: Optional[float]) -> None:
        self._upsert(request_hash, provider, model=model, state="submitting", cost=cost, job_id=None, error=None)

    def submitted(self, request_hash: str, provider: str, job_id: str, data: dict[str, Any]) -> None:
        self._upsert(request_hash, provider, job_id=job_id, state="submitted", data=data)

    def downloaded(self, request_hash: str, provider: str, media_path: str, *, sha256: Optional[str] = None) -> None:
        self._upsert(request_hash, provider, media_path=media_path, state="downloaded", sha256=sha256)

    def failed(self, request_hash: str, provider: str, error: str) -> None:
        self._upsert(request_hash, provider, state="failed", error=error)

    def uncertain(self, request_hash: str, provider: str, error: str) -> None:
        self._upsert(request_hash, provider, state="uncertain", error=error)


_COLUMNS = {"request_hash", "provider", "model", "job_id", "state", "media_path", "cost", "data", "error",
            "updated_at"}


def _check_open(db: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError unless the file is a whole SQLite database holding our table."""
    problems = [r[0] for r in db.execute("PRAGMA quick_check").fetchall() if r[0] != "ok"]
    if problems:
        raise sqlite3.DatabaseError("; ".join(problems[:3]))
    cols = {r[1] for r in db.execute("PRAGMA table_info(jobs)").fetchall()}
    if cols and not _COLUMNS <= cols:
        raise sqlite3.DatabaseError("its jobs table is not ShotFill's (columns " + ", ".join(sorted(cols)) + ")")


def _migrate(db: sqlite3.Connection) -> None:
    """Add the columns a journal written by an earlier version lacks; its rows are kept as they are."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(jobs)").fetchall()}
    for name, kind in ADDED_COLUMNS.items():
        if name not in cols:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")


def _write_problem(path: Path, exc: BaseException) -> int | None:
    """The errno behind SQLite's failure to write ``path`` (full or read-only disk), else None.

    SQLite says "database or disk is full", "attempt to write a readonly
    database", or only "disk I/O error" / "unable to open database file" when
    its WAL cannot grow; the folder itself tells which.
    """
    if not isinstance(exc, sqlite3.OperationalError):
        return None   # a damaged file (DatabaseError), not the disk
    return disk_errno(str(exc)) or folder_errno(path.parent)


def _reason(code: int) -> str:
    return os.strerror(code) + (": the disk is full" if code == errno.ENOSPC else "")


def _not_recorded(path: Path, exc: sqlite3.Error, provider: str, fields: dict[str, Any]) -> ShotFillError:
    code = _write_problem(path, exc)
    job = f"{provider} job {fields['job_id']}" if fields.get("job_id") else f"a {provider} job"
    hint = write_failed(path, os_error(code)).hint if code else "check the state folder (--state-dir) is writable"
    return WriteError(f"{path}: the job journal could not record {job} ({_reason(code) if code else exc}); "
                      "jobs recorded earlier are kept",
                      hint=f"{hint}; a job that could not be recorded was not sent, or, if the service had "
                           "already taken it, is looked for there before anything is sent again")


def _unusable(path: Path, exc: BaseException) -> ShotFillError:
    code = _write_problem(path, exc)
    if code is not None:
        # The disk, not the file: nothing to move aside.
        return WriteError(f"{path}: the job journal cannot be written ({_reason(code)}); nothing was generated",
                          hint=f"{write_failed(path, os_error(code)).hint}; or point --state-dir at another "
                               "folder (jobs recorded in this journal are then not resumed)")
    # Never repaired or replaced here: the file may be the only record of jobs already paid for.
    return StateError(
        f"{path}: the job journal cannot be used ({exc})",
        hint=f"move it aside (e.g. `mv '{path}' '{path}.damaged'`) and run again, or point --state-dir "
             "elsewhere; ShotFill then forgets the jobs it recorded, so any still running or not yet "
             "downloaded would be generated, and paid for, again")


def _absent_sidecars(path: Path) -> list[Path]:
    return [p for p in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if not p.exists()]


def _remove_empty(paths: list[Path]) -> None:
    """Remove the empty files a failed open made (a new journal, SQLite's sidecars), so none is left stray.

    Only files that were not there before, once no connection is open: a journal or WAL with content
    is never touched; the ``-shm`` index only mirrors the WAL (and is sparse, so never "empty").
    """
    for p in paths:
        with contextlib.suppress(OSError):
            if p.stat().st_size == 0 or p.name.endswith("-shm"):
                p.unlink()


def check_journal(path: Path) -> None:
    """Refuse a damaged journal before a run creates anything; a missing one is fine (it is made later)."""
    if not path.exists():
        return
    if not path.is_file():
        raise _unusable(path, OSError("not a file"))
    sidecars = _absent_sidecars(path)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            _check_open(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        _remove_empty(sidecars)
        raise _unusable(path, exc) from None
