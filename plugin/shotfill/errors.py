"""The one exception tree of ShotFill.

Every message is written for an editor: it names the file and the item and
says what to do.  ``exit_code`` is what the command line returns for it::

    ShotFillError                      exit 2 unless said otherwise
     +-- UsageError                    bad flags, unknown suffix, OUTPUT == TIMELINE
     +-- Interrupted                   exit 130: Ctrl-C; the journal says how to resume
     +-- TimelineError                 a timeline that cannot be read or written
     |    +-- PlaceholderError         a GEN: note that cannot be used as written
     +-- ConfigError                   a bad setting, naming the key
     +-- WriteError                    a file could not be written; the earlier one is unchanged
     +-- StateError                    a journal or cache that cannot be used as it is
     +-- MediaError                    exit 1: a placeholder's media failed
     |    +-- FFmpegNotFound           exit 2: no ffmpeg/ffprobe to run
     |    +-- FFmpegError              ffmpeg ran and failed (argv + stderr tail)
     |    +-- ConformError             the conformed file is not what was asked
     +-- ProviderError                 exit 1: a generation failed
          +-- AuthError                missing or refused API key
          +-- Rejected                 the service refused the request as written (4xx)
          +-- RateLimited              429 after the retries ran out
          +-- ServiceError             5xx / connection trouble after the retries ran out
          +-- SubmitUncertain          a submit may have reached the service; not resent
          +-- JobFailed                the job ran and failed (moderation, model error)
          +-- JobTimedOut              the job did not finish before the deadline
          +-- DownloadError            expired URL, truncated or wrong file
"""

from __future__ import annotations

from typing import Any, Mapping

from shotfill.system.secrets import scrub


class ShotFillError(Exception):
    """Base of every error ShotFill raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Scrubbed now and again when shown: a message may quote a service's answer that echoes
        # the key, and a secret may be registered after the error was made.
        message, hint = scrub(message), scrub(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return scrub(f"{self.message}\n  -> {self.hint}" if self.hint else self.message)


class UsageError(ShotFillError, ValueError):
    """The command was asked for something it cannot do as given."""


class TimelineError(ShotFillError, ValueError):
    """A timeline that cannot be read, understood or written."""


class PlaceholderError(TimelineError):
    """A GEN: note or placeholder that cannot be used as written."""


class ConfigError(ShotFillError, ValueError):
    """A setting in the config or environment is wrong."""


class WriteError(ShotFillError):
    """A write failed (full disk, read-only folder, a file where a folder should be); nothing was replaced."""


class StateError(ShotFillError):
    """The state folder's journal or cache cannot be used as it is (damaged, unreadable)."""


class MediaError(ShotFillError):
    """Media for one placeholder could not be made; other placeholders go on."""

    exit_code = 1


class FFmpegNotFound(MediaError):
    """No usable ffmpeg/ffprobe on this machine."""

    exit_code = 2


class FFmpegError(MediaError):
    """ffmpeg or ffprobe ran and failed; keeps what it said."""

    def __init__(self, message: str, *, argv: list[str], returncode: int, stderr: str) -> None:
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        super().__init__(f"{message} (ffmpeg exit {returncode}):\n{tail}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class ConformError(MediaError):
    """A conformed file does not have the size, rate or frame count asked for."""


class ProviderError(ShotFillError):
    """A generation service failed for one placeholder.

    An error made from an HTTP answer also keeps that answer for the client
    that asked: ``status``, ``body`` (parsed JSON, else text) and ``headers``
    (the response's own, names in lower case; never a request's auth headers).
    They are not part of the message.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None,
                 body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})


class AuthError(ProviderError):
    """No key, or the service refused the key."""


class Rejected(ProviderError):
    """The service refused the request as written (validation, unsupported value)."""


class RateLimited(ProviderError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServiceError(ProviderError):
    """The service kept failing (5xx, resets, timeouts) after the retries."""


class SubmitUncertain(ProviderError):
    """A submit may have reached the service; it is not sent again, so it is never paid twice."""


class JobFailed(ProviderError):
    """The job ran and failed; the message carries the service's own reason."""


class JobTimedOut(ProviderError):
    """The job did not finish before its deadline; its id is kept in the journal."""


class DownloadError(ProviderError):
    """The result could not be fetched whole (expired, truncated, wrong type, too big).

    ``expired`` is True when the link answered 403/404/410: the file is gone
    from there (signed links expire), so a provider may ask for a fresh link.
    """

    def __init__(self, message: str, *, expired: bool = False, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.expired = expired


class Interrupted(ShotFillError):
    """The run was stopped (Ctrl-C); outputs are whole or absent and the journal is consistent."""

    exit_code = 130
