"""Media work on a Dask cluster: the :class:`~shotfill.jobs.executor.Executor` seam, on ``distributed``.

What runs where: every :meth:`cpu` stage (offline renders, neighbour frames,
length checks, conforms, checksums) is one Dask task on a worker; provider
submits, polls and downloads stay in this process (``io``), which stays the
journal's only writer.  Dask itself reschedules a task whose worker died on
another worker; a task only ever reads and writes files (its atomic writes
leave nothing half-written), so running it twice is harmless, and no task
talks to a provider, so no job is ever submitted twice.

The workers read and write the media and state folders by path, so those must
be one shared storage seen by every worker; :meth:`DaskExecutor.check_storage`
proves it before anything runs (each worker reads a probe file this process
wrote, and writes one back).  ``path_map`` maps this machine's folder to where
the workers mount it; every path in a task's arguments is mapped there, and
back in its result.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import dataclasses
import os
import secrets as _random
import socket
from pathlib import Path, PurePath
from typing import Any, Callable, Optional, Sequence, TypeVar

from pydantic import BaseModel

from shotfill.config import ExecutorSettings
from shotfill.errors import ConfigError, ShotFillError
from shotfill.jobs.limits import ServiceLimits
from shotfill.system import children

T = TypeVar("T")

#: how long to wait for a scheduler and its first worker
CONNECT_TIMEOUT = 30.0
PROBE_NAME = ".shotfill-probe"
#: the embedded cluster's event-loop tick and system-monitor interval (Dask's defaults: 20 ms, 500 ms)
QUIET_TICK, QUIET_MONITOR = "1s", "5s"
_HINT_SHARE = ("mount the share at the same path on every worker, or map it with path_map under [executor] in "
               "shotfill.toml (path_map = {\"/here\" = \"/there\"})")

_last_worker: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("shotfill_dask_worker", default=None)


# --------------------------------------------------------------------------- paths across machines

def _swap(text: str, pairs: Sequence[tuple[str, str]]) -> str:
    for src, dst in pairs:
        if text == src or text.startswith(src.rstrip("/\\") + "/") or text.startswith(src.rstrip("/\\") + "\\"):
            return dst.rstrip("/\\") + text[len(src.rstrip("/\\")):]
    return text


def remap(obj: Any, pairs: Sequence[tuple[str, str]], *, absolute: bool = False) -> Any:
    """``obj`` with every path (a Path, or a str naming one) under a ``src`` moved under its ``dst``.

    ``absolute``: also make each relative Path absolute (a worker's working folder is not ours).
    """
    if not pairs and not absolute:
        return obj

    def again(x: Any) -> Any:
        return remap(x, pairs, absolute=absolute)

    if isinstance(obj, PurePath):
        text = os.path.abspath(obj) if absolute and not obj.is_absolute() else str(obj)
        new = _swap(text, pairs)
        return obj if new == str(obj) else type(obj)(new)
    if isinstance(obj, str):
        return _swap(obj, pairs)
    if isinstance(obj, BaseModel):
        changed = {name: again(getattr(obj, name)) for name in type(obj).model_fields}
        changed = {k: v for k, v in changed.items() if v is not getattr(obj, k) and v != getattr(obj, k)}
        return obj.model_copy(update=changed) if changed else obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: again(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **fields)
    if isinstance(obj, (list, tuple)):
        items = [again(x) for x in obj]
        return type(obj)(items) if not hasattr(obj, "_fields") else type(obj)(*items)
    if isinstance(obj, dict):
        return {again(k): again(v) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------- what runs on a worker

def _worker_address() -> str:
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:   # not in a worker (a test calling it directly)
        return f"{socket.gethostname()}:{os.getpid()}"


def _unset_nanny_malloc_trim() -> None:
    """Take Dask's malloc setting for the worker's Python out of what its ffmpeg children inherit.

    A nanny starts its worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (its
    ``pre-spawn-environ``), so that Python gives freed memory back; ffmpeg inherits
    it and then returns and faults in its frame buffers again and again (a 1080p
    conform measured 3 % more CPU, 40 % more page faults). A value the studio set
    itself (any other) stays.
    """
    import dask

    asked = (dask.config.get("distributed.nanny.pre-spawn-environ", default=None) or {}).get("MALLOC_TRIM_THRESHOLD_")
    if asked is not None and os.environ.get("MALLOC_TRIM_THRESHOLD_") == str(asked):
        del os.environ["MALLOC_TRIM_THRESHOLD_"]


def run_task(fn: Callable[..., Any], pairs: list[tuple[str, str]], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> tuple[str, Any, str]:
    """One stage on a worker: paths mapped there and back; a ShotFillError comes back as data.

    Our errors carry a hint (and, some, their own fields) that pickling an exception
    drops, so they travel as (class, attributes) and are made again in the client.
    """
    back = [(dst, src) for src, dst in pairs]
    where = _worker_address()
    _unset_nanny_malloc_trim()
    try:
        result = fn(*remap(args, pairs), **remap(kwargs, pairs))
    except ShotFillError as exc:
        return "error", (type(exc), remap(dict(vars(exc)), back)), where
    except OSError as exc:
        return "oserror", (exc.errno, exc.strerror, remap(exc.filename, back)), where
    return "ok", remap(result, back), where


def rebuilt(cls: type[ShotFillError], attrs: dict[str, Any]) -> ShotFillError:
    """The error a task raised, as it was: its class, its message and hint, its own fields."""
    err = cls.__new__(cls)
    Exception.__init__(err, attrs.get("message", ""))
    err.__dict__.update(attrs)
    return err


def probe_worker(items: list[tuple[str, str]], needed: list[str], token: str) -> list[str]:
    """On each worker: read this run's probe in every shared folder, write one back; see the needed files.

    Returns what the worker could not do, one line each (empty: all is well).
    """
    problems: list[str] = []
    me = _worker_address()
    tag = "".join(c if c.isalnum() else "_" for c in me)
    for folder, kind in items:
        probe = Path(folder) / f"{PROBE_NAME}-{token}"
        try:
            seen = probe.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"cannot read {probe} ({exc.strerror or exc}): the {kind} is not visible there")
            continue
        if seen != token:
            problems.append(f"{probe} holds another run's probe: the {kind} is another folder there")
            continue
        try:
            (Path(folder) / f"{PROBE_NAME}-{token}-{tag}").write_text(me, encoding="utf-8")
        except OSError as exc:
            problems.append(f"cannot write in {folder} ({exc.strerror or exc}): the {kind} is read-only there")
    for path in needed:
        if not os.path.isfile(path):
            problems.append(f"cannot see {path} (a neighbour's media, read for its frames)")
    return problems


# --------------------------------------------------------------------------- the executor

class DaskExecutor(ServiceLimits):
    """Media stages as Dask tasks; provider jobs as asyncio tasks here, under the same limits as locally."""

    def __init__(self, settings: ExecutorSettings, *, shared: Sequence[Path] = (), needed: Sequence[Path] = (),
                 limits: Optional[dict[str, int]] = None, total_limit: Optional[int] = None,
                 default_limit: int = 2) -> None:
        try:
            import distributed
        except ImportError:
            raise ConfigError("the dask executor needs the 'distributed' package, which is not installed",
                              hint="pip install 'shotfill[dask]', or run with --executor local") from None
        dist: Any = distributed   # untyped
        super().__init__(limits, default_limit=default_limit, total_limit=total_limit)
        self.client: Any = None
        self._pairs = sorted(settings.path_map.items(), key=lambda kv: -len(kv[0]))
        self._cluster: Any = None
        self._futures: set[Any] = set()
        self.address = settings.address
        try:
            if settings.address is None:
                # Worker processes (ffmpeg and Python renders run in parallel), one thread each: a worker
                # is one conform at a time, as a core is. Without what only a dashboard reads (this
                # cluster has none), on the cores the conforms need: the statistical profiler (it samples
                # every worker's stacks 100 times a second), the event loops' 20 ms health tick, the system
                # monitor's twice-a-second readings, and the nannies' memory watch (ffmpeg, the memory a
                # conform uses, is not in the worker's own). An idle cluster took 8.7 % of a core, now 1.4 %.
                import dask

                with dask.config.set({"distributed.worker.profile.enabled": False,
                                      "distributed.admin.tick.interval": QUIET_TICK,
                                      "distributed.admin.system-monitor.interval": QUIET_MONITOR}):
                    self._cluster = dist.LocalCluster(n_workers=settings.workers or os.cpu_count() or 2,
                                                      threads_per_worker=1, processes=True, dashboard_address=None,
                                                      host="127.0.0.1", silence_logs=logging.ERROR, memory_limit=0)
                self.client = dist.Client(self._cluster, timeout=CONNECT_TIMEOUT)
            else:
                self.client = dist.Client(settings.address.replace("dask://", "tcp://"), timeout=CONNECT_TIMEOUT)
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except ShotFillError:
            raise
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            self.close()
            where = settings.address or "the embedded local cluster"
            raise ConfigError(f"dask: cannot reach a scheduler with workers at {where} ({exc})",
                              hint="start `dask scheduler` and `dask worker SCHEDULER`, check the address "
                                   "([executor] address or --executor dask://HOST:PORT), or use --executor local")
        # Local offline renders run as tasks: as many at once as the cluster has threads.
        nthreads = sum(self.client.nthreads().values()) or 1
        self._limits["local"] = max(self._limits.get("local", 1), nthreads)
        try:
            self.check_storage(shared, needed)
        except BaseException:
            self.close()
            raise

    # -- shared storage ------------------------------------------------------------------

    def check_storage(self, shared: Sequence[Path], needed: Sequence[Path]) -> None:
        """Every worker sees each shared folder (reads our probe, writes one back) and each needed file."""
        token = _random.token_hex(8)
        folders = [(Path(os.path.abspath(p)), "media folder" if i else "state folder")
                   for i, p in enumerate(dict.fromkeys(shared))]
        written: list[Path] = []
        try:
            for folder, _ in folders:
                probe = folder / f"{PROBE_NAME}-{token}"
                probe.write_text(token, encoding="utf-8")
                written.append(probe)
            items = [(str(remap(folder, self._pairs)), kind) for folder, kind in folders]
            files = [str(remap(Path(os.path.abspath(p)), self._pairs)) for p in dict.fromkeys(needed)]
            answers = self.client.run(probe_worker, items, files, token)
            bad = [f"  worker {w}: {line}" for w, lines in sorted(answers.items()) for line in lines]
            for folder, _ in folders:
                for back in folder.glob(f"{PROBE_NAME}-{token}-*"):
                    written.append(back)
            if not bad:
                expected = len(answers) * len(folders)
                if len(written) - len(folders) < expected:
                    bad.append("  a worker wrote its probe, but it did not appear here: the folders are not "
                               "one shared storage")
            if bad:
                raise ConfigError("dask: the workers do not see the media and state folders as this machine "
                                  "does:\n" + "\n".join(bad), hint=_HINT_SHARE + "; nothing was generated")
        finally:
            for path in written:
                try:
                    path.unlink()
                except OSError:
                    pass

    # -- the seam ------------------------------------------------------------------------

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        # A placeholder's next stage goes to the worker that ran its last one: the file's probe,
        # its look and its pages are warm there (elsewhere each is made again), and report.json
        # names one worker for it. Loosely: a lost or busy worker's stage runs elsewhere.
        last = _last_worker.get()
        where_to: dict[str, Any] = {"workers": [last], "allow_other_workers": True} if last else {}
        # pure=False: two calls with the same arguments (a retry) are two tasks.
        fut = self.client.submit(run_task, fn, self._pairs, remap(args, (), absolute=True),
                                 remap(kwargs, (), absolute=True), pure=False, **where_to)
        self._futures.add(fut)

        def landed(f: Any) -> None:   # runs in the client's own thread
            def settle() -> None:
                # A stop (SIGINT/SIGTERM handler) can cancel the waiter while f.result() runs, so look
                # at the waiter only once the outcome is in hand.
                try:
                    value = f.result()
                except BaseException as exc:   # a task that failed for good (KilledWorker after retries ...)
                    if not waiter.done():
                        waiter.set_exception(exc)
                    return
                if not waiter.done():
                    waiter.set_result(value)
            loop.call_soon_threadsafe(settle)

        fut.add_done_callback(landed)
        try:
            status, value, where = await waiter
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except ShotFillError:
            raise
        except Exception as exc:
            from distributed.scheduler import KilledWorker

            if isinstance(exc, KilledWorker):
                raise ConfigError(f"dask: every worker that took a {getattr(fn, '__name__', 'media')} task died "
                                  f"({exc})", hint="check the workers' memory and logs; run the same command "
                                                   "again to resume") from None
            raise
        finally:
            self._futures.discard(fut)
        _last_worker.set(where)
        if status == "error":
            raise rebuilt(*value)
        if status == "oserror":
            raise OSError(*value)
        return value  # type: ignore[no-any-return]

    async def short(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # On a cluster the worker's own slots share its cores out: a short stage is one more task.
        return await self.cpu(fn, *args, **kwargs)

    def worker(self) -> Optional[str]:
        return _last_worker.get()

    def close(self) -> None:
        for fut in list(self._futures):
            fut.cancel()
        client, cluster = getattr(self, "client", None), self._cluster
        self.client, self._cluster = None, None
        try:
            if client is not None:
                client.close(timeout=10)
        except Exception:
            pass
        try:
            if cluster is not None:
                # The embedded workers die with their ffmpeg (each ffmpeg dies with its parent).
                cluster.close(timeout=10)
        except Exception:
            pass
        children.kill_all_if_interrupted()
