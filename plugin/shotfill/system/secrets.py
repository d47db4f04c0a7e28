"""Every secret ShotFill knows, and the one function that takes them out of text.

Settings register what they hold as they load (:mod:`shotfill.config`: API
keys from the environment and every config file, passwords and ``?key=``
values in base URLs), and the HTTP client registers the auth header values
it sends.  Whatever leaves the process as text (error messages, the
journal, reports, the command line's output, the Resolve engine's lines)
goes through :func:`scrub` first, so a service that echoes the
``Authorization`` header back cannot make a key reach the screen or a file.

A secret is matched in the shapes it travels in: as it is, URL-encoded
(either case of hex digit, ``%20`` or ``+`` for a space), JSON-escaped
(``\\/``) and base64 (a Basic ``user:password`` pair is registered as
its base64 too).  Values shorter than :data:`MIN_LENGTH` are not
registered: they would match ordinary words and paths.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import Any, Iterable, Optional, TypeVar, overload
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit, urlunsplit

REDACTED = "[redacted]"
MIN_LENGTH = 6

#: query parameter names whose values are credentials
_SECRET_PARAM = re.compile(r"key|token|secret|sig|pass|auth|credential", re.IGNORECASE)

_lock = threading.Lock()
_values: set[str] = set()
_pattern: Optional[re.Pattern[str]] = None


def _shapes(value: str) -> set[str]:
    out = {value, quote(value, safe=""), quote_plus(value, safe=""), value.replace("/", "\\/")}
    try:
        raw = value.encode("utf-8")
        out.add(base64.b64encode(raw).decode("ascii"))
        out.add(base64.urlsafe_b64encode(raw).decode("ascii"))
    except UnicodeEncodeError:  # pragma: no cover - a lone surrogate; the raw shape still counts
        pass
    return {s for s in out if len(s) >= MIN_LENGTH}


def _regex_for(shape: str) -> str:
    # Percent-escapes match either case of hex digit (%2f and %2F are the same byte).
    parts = re.split(r"(%[0-9A-Fa-f]{2})", shape)
    return "".join(f"%(?i:{p[1:]})" if re.fullmatch(r"%[0-9A-Fa-f]{2}", p) else re.escape(p) for p in parts)


def register(value: Optional[str]) -> None:
    """Remember a secret; from now on :func:`scrub` takes it (in all its shapes) out of any text."""
    global _pattern
    if not isinstance(value, str):
        return
    value = value.strip()
    if len(value) < MIN_LENGTH:
        return
    with _lock:
        shapes = _shapes(value) - _values
        if not shapes:
            return
        _values.update(shapes)
        # Longest first, so a shape that contains another is taken whole.
        alts = sorted(_values, key=len, reverse=True)
        _pattern = re.compile("|".join(_regex_for(s) for s in alts))


def register_basic(user: str, password: str) -> None:
    """A Basic auth pair: the password, and the base64 of ``user:password`` the header carries."""
    register(password)
    if password:
        register(base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii"))


def register_header(value: Optional[str]) -> None:
    """An auth header value as sent (``Bearer KEY``, ``Key KEY``, ``Basic B64``, or the bare key)."""
    if not isinstance(value, str):
        return
    scheme, _, rest = value.strip().partition(" ")
    if rest and scheme.isalpha():
        register(rest.strip())
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(rest.strip(), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return
            register(password)
    else:
        register(value)


def url_secrets(url: Optional[str]) -> list[str]:
    """The credentials inside a URL: a ``user:password@`` password and ``?key=``-like values."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [unquote(password)] if password else []
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=False) if _SECRET_PARAM.search(k)]
    return found


def register_url(url: Optional[str]) -> None:
    """The secrets a URL carries (see :func:`url_secrets`), with the Basic pair httpx makes of userinfo."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return
    if password:
        register_basic(unquote(user or ""), unquote(password))
    for value in url_secrets(url):
        register(value)


def redact_url(url: str) -> str:
    """A URL fit to show: the password and secret query values replaced, the rest as it is."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return scrub(url)
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{hostport}"
    query = parts.query
    if query:
        kept = []
        for item in query.split("&"):
            k, eq, v = item.partition("=")
            kept.append(f"{k}={REDACTED}" if eq and v and _SECRET_PARAM.search(unquote(k)) else item)
        query = "&".join(kept)
    return scrub(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


_T = TypeVar("_T")


@overload
def scrub(text: str) -> str: ...
@overload
def scrub(text: _T) -> _T: ...
def scrub(text: Any) -> Any:
    """``text`` with every registered secret replaced by ``[redacted]``; non-strings come back as they are."""
    pattern = _pattern
    if pattern is None or not isinstance(text, str) or not text:
        return text
    return pattern.sub(REDACTED, text)


def scrub_data(obj: Any) -> Any:
    """Every string inside a JSON-like structure (dicts, lists, tuples), scrubbed."""
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(scrub_data(v) for v in obj)
    return obj


def known() -> bool:
    """Whether any secret is registered (for tests and diagnostics; never the values)."""
    return _pattern is not None


def clear() -> None:
    """Forget every secret (tests only: a process never needs to)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


class ScrubbedStream:
    """A text stream that scrubs each write before passing it on (stdout/stderr of the command line)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


__all__ = ["REDACTED", "register", "register_basic", "register_header", "register_url", "redact_url",
           "url_secrets", "scrub", "scrub_data", "ScrubbedStream"]
