"""Child processes (ffmpeg, ffprobe) that die with ShotFill, and stopping signals that act like Ctrl-C.

A conform left running after ShotFill is gone keeps writing a hidden partial
file that nobody will rename or remove, so every child is tied to ShotFill's
life three ways:

* it runs in its own process group, which :func:`kill_all` kills whole on
  every way out of the command line (normal return, error, Ctrl-C, SIGTERM,
  SIGHUP). Its own group also means a terminal's Ctrl-C no longer reaches it
  before ShotFill has decided what to keep;
* on Linux the kernel kills it when the thread that started it dies
  (``PR_SET_PDEATHSIG``), which covers a SIGKILLed ShotFill, where no Python
  code runs at all;
* once :func:`kill_all` has run, no new child starts (a worker thread between
  two ffmpeg passes would otherwise start the second one).

What a child prints is read in bounded amounts: stdout up to a cap (beyond it
the run fails instead of filling memory), stderr only its tail, which is what
an error message quotes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, Any, Optional

from shotfill.errors import Interrupted

#: stdout kept from one child (ffprobe's JSON for one file is kilobytes).
MAX_STDOUT = 16 * 1024 * 1024
#: stderr kept from one child: its last bytes, where ffmpeg says what went wrong.
STDERR_TAIL = 64 * 1024

_CHUNK = 64 * 1024
_POSIX = os.name == "posix"

# Re-entrant: a SIGTERM handler (kill_all) may run on the main thread while it is inside spawn.
_lock = threading.RLock()
_live: dict[int, subprocess.Popen] = {}
_closing = False


class OutputTooLarge(Exception):
    """A child printed more than it was allowed to; it has been killed."""


def _pdeathsig_preexec() -> Optional[Any]:
    """A preexec function asking the kernel to SIGKILL the child when its parent dies (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    kill = int(signal.SIGKILL)

    def preexec() -> None:
        # Runs in the forked child before exec: as little as possible (no imports, no locks).
        prctl(pr_set_pdeathsig, kill, 0, 0, 0)

    return preexec


_PREEXEC = _pdeathsig_preexec()


def _preexec_for(parent: int) -> Optional[Any]:
    if _PREEXEC is None:
        return None

    def preexec() -> None:
        _PREEXEC()
        # The parent may have died between fork and prctl: then nobody would send the signal.
        if os.getppid() != parent:
            os._exit(127)

    return preexec


def spawn(argv: Sequence[str], *, stdout: Any = subprocess.PIPE, stderr: Any = subprocess.PIPE,
          **kw: Any) -> subprocess.Popen:
    """Start ``argv`` (no shell, stdin closed) as a child that dies with ShotFill; see the module doc.

    The caller must end with :func:`reap` (``run`` does). Raises
    :class:`Interrupted` once ShotFill is stopping.
    """
    opts: dict[str, Any] = dict(stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, **kw)
    if _POSIX:
        opts["process_group"] = 0
        opts["preexec_fn"] = _preexec_for(os.getpid())
    with _lock:
        if _closing:
            raise _stopping()
        proc = subprocess.Popen([str(a) for a in argv], **opts)
        _live[proc.pid] = proc
        # kill_all may have run in a signal handler during Popen, before this child was known.
        late = _closing
    if late:
        reap(proc)
        raise _stopping()
    return proc


def _stopping() -> Interrupted:
    return Interrupted("interrupted: ShotFill is stopping, so no new ffmpeg was started",
                       hint="run the same command again to resume")


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the child's whole group (while the child is unreaped its pid names the group)."""
    if proc.returncode is not None:
        return
    try:
        if _POSIX:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def reap(proc: subprocess.Popen) -> None:
    """Kill ``proc`` if it still runs, wait for it, and forget it."""
    _kill(proc)
    with contextlib.suppress(Exception):
        proc.wait()
    with _lock:
        _live.pop(proc.pid, None)


def kill_all(*, refuse_new: bool = True) -> None:
    """Kill every live child; with ``refuse_new``, also refuse new ones: ShotFill is on its way out."""
    global _closing
    with _lock:
        _closing = _closing or refuse_new
        live = list(_live.values())
    for proc in live:
        _kill(proc)


def reset() -> None:
    """Allow children again (a new command; tests run many in one process)."""
    global _closing
    with _lock:
        _closing = False


class _Reader(threading.Thread):
    """Drains one pipe: keeps its first ``limit`` bytes (``tail``: its last ones) and discards the rest."""

    def __init__(self, pipe: IO[bytes], limit: int, *, tail: bool, on_overflow: Any = None) -> None:
        super().__init__(daemon=True, name="shotfill-pipe")
        self.pipe, self.limit, self.tail, self.on_overflow = pipe, limit, tail, on_overflow
        self.data = bytearray()
        self.overflow = False

    def run(self) -> None:
        try:
            while chunk := self.pipe.read(_CHUNK):
                self.data += chunk
                if len(self.data) > self.limit:
                    if self.tail:
                        del self.data[: len(self.data) - self.limit]
                    else:
                        del self.data[self.limit:]
                        if not self.overflow and self.on_overflow is not None:
                            self.on_overflow()
                        self.overflow = True
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                self.pipe.close()


def run(argv: Sequence[str], *, timeout: Optional[float] = None, max_stdout: int = MAX_STDOUT,
        stderr_tail: int = STDERR_TAIL) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to the end as a child that dies with ShotFill; its output as text (bad bytes replaced).

    Raises ``subprocess.TimeoutExpired`` (the child killed) after ``timeout``
    seconds, :class:`OutputTooLarge` (the child killed) when it prints more
    than ``max_stdout`` bytes, and :class:`Interrupted` once ShotFill is
    stopping; ``OSError`` when it cannot be started.
    """
    proc = run_bytes(argv, timeout=timeout, max_stdout=max_stdout, stderr_tail=stderr_tail)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def run_bytes(argv: Sequence[str], *, timeout: Optional[float] = None, max_stdout: int = MAX_STDOUT,
              stderr_tail: int = STDERR_TAIL) -> subprocess.CompletedProcess[bytes]:
    """:func:`run` keeping stdout as bytes (decoded pictures); raises as :func:`run` does."""
    proc = spawn(argv)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        out = _Reader(proc.stdout, max_stdout, tail=False, on_overflow=lambda: _kill(proc))
        err = _Reader(proc.stderr, stderr_tail, tail=True)
        out.start()
        err.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.wait()
            err.join()
            raise subprocess.TimeoutExpired(proc.args, timeout or 0,
                                            stderr=err.data.decode("utf-8", "replace")) from None
        out.join()
        err.join()
    finally:
        reap(proc)
    if _closing and proc.returncode and proc.returncode < 0:
        raise Interrupted("interrupted: ffmpeg was stopped with ShotFill", hint="run the same command again to resume")
    if out.overflow:
        raise OutputTooLarge(f"{argv[0]} printed more than {max_stdout // (1024 * 1024)} MB")
    return subprocess.CompletedProcess(proc.args, proc.returncode, bytes(out.data), bytes(err.data))


def _as_interrupt(signum: int, frame: Any) -> None:
    """SIGTERM / SIGHUP: stop every child, then do exactly what Ctrl-C does at this moment."""
    kill_all()
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        # asyncio.run's own handler while a run is going (it cancels the run cleanly), else Python's.
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


@contextlib.contextmanager
def stopping_like_ctrl_c() -> Iterator[None]:
    """For a command: SIGTERM and SIGHUP act like Ctrl-C, and every child is killed on the way out.

    After an interrupt no child may start (worker threads outlive the command
    until the interpreter joins them), so children are allowed again only when
    the next command begins.
    """
    reset()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, _as_interrupt)
    try:
        yield
    except (KeyboardInterrupt, Interrupted):
        kill_all()
        raise
    finally:
        kill_all(refuse_new=False)
        for sig, old in previous.items():
            signal.signal(sig, old)


def kill_all_if_interrupted() -> None:
    """Closing because the run was interrupted: stop every ffmpeg now and start no more.

    Otherwise asyncio.run, and then the interpreter, wait for the worker threads,
    which wait for their ffmpeg.
    """
    import asyncio   # only an executor closing calls this; every command imports this module
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    if task is not None and task.cancelling():
        kill_all()
