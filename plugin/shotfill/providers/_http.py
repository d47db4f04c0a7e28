"""The one HTTP client every provider uses: retries, error mapping, downloads.

Retry policy, and why:

* **Idempotent requests** (GET, and anything the caller marks idempotent) are
  retried on connection errors, timeouts, 408, 429 and 5xx, with exponential
  backoff and jitter, honouring ``Retry-After`` (seconds or HTTP date).
* **A submit (POST) costs money and is not idempotent.**  It is retried only
  when the service cannot have acted on it: the connection was never made,
  or the service answered 429 / 503 (refused before work started).  A timeout
  or reset *after* the body was sent, or a 500/502/504, raises
  :class:`SubmitUncertain` and is never resent, so one placeholder is never
  paid for twice.
* Validation (400/404/409/422) and auth (401/403) errors are never retried.
* A caller that reads a service's error answers itself names their status
  codes in ``accept_status``: those come back as responses, not exceptions.

Every error made from an answer (:func:`map_status`, and a download's "gone"
:class:`DownloadError`) keeps ``status``, ``body`` (parsed JSON, else text) and
the response's ``headers``, so a provider can read the service's own details
without matching on message text.

Keys travel only in headers to the configured base URL's origin; a download
from another host gets no auth header unless the provider asks for it.  No
message, log line or exception text built here contains a header value: the
auth header values (and a base URL's own credentials) are registered with
:mod:`shotfill.system.secrets` when the client is made, and the service's error
text is scrubbed, so a service that echoes ``Authorization`` back cannot leak
it.  A key is sent over ``https`` only, or to a loopback address
(127.0.0.0/8, ::1, localhost): anything else is refused before a connection
is opened, naming the URL and where it was set.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Collection, Mapping, Optional, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from shotfill.system import secrets as known_secrets
from shotfill.errors import (AuthError, ConfigError, DownloadError, ProviderError, RateLimited, Rejected,
                             ServiceError, SubmitUncertain)
from shotfill.system.files import commit, make_dirs, partial_name, write_failed

Sleep = Callable[[float], Awaitable[None]]

#: content types a video download may have; anything else is an error page or the wrong file
VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/binary")


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    #: longest Retry-After honoured; longer ones fail the request with RateLimited
    max_retry_after: float = 120.0


@dataclass
class ServiceClient:
    """An ``httpx.AsyncClient`` bound to one provider's base URL and auth headers."""

    provider: str
    base_url: str
    auth_headers: Mapping[str, str] = field(default_factory=dict)
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    transport: Optional[httpx.AsyncBaseTransport] = None
    #: where base_url was set ("$SHOTFILL_RUNWAY_BASE_URL", a shotfill.toml path, "built-in default")
    base_url_source: str = ""
    _client: Optional[httpx.AsyncClient] = None

    def __post_init__(self) -> None:
        for value in self.auth_headers.values():
            known_secrets.register_header(value)
        known_secrets.register_url(self.base_url)

    async def __aenter__(self) -> "ServiceClient":
        if self.auth_headers or known_secrets.url_secrets(self.base_url):
            require_secure(self.provider, self.base_url, self.base_url_source)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 15.0)),
            headers={"User-Agent": "shotfill", **self.extra_headers},
            transport=self.transport, follow_redirects=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- URLs and headers ----------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url.rstrip("/") + "/", path_or_url.lstrip("/"))

    def same_origin(self, url: str) -> bool:
        a, b = urlsplit(self.base_url), urlsplit(url)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)

    def _headers(self, url: str, extra: Optional[Mapping[str, str]], auth: Optional[bool]) -> dict[str, str]:
        send_auth = self.same_origin(url) if auth is None else auth
        if (send_auth and self.auth_headers) or known_secrets.url_secrets(url):
            require_secure(self.provider, url, self.base_url_source if self.same_origin(url) else "")
        h = dict(self.auth_headers) if send_auth else {}
        h.update(extra or {})
        return h

    # -- requests ------------------------------------------------------------------------

    async def request(self, method: str, path_or_url: str, *, json_body: Any = None,
                      data: Optional[Mapping[str, Any]] = None, files: Any = None,
                      params: Optional[Mapping[str, Any]] = None, headers: Optional[Mapping[str, str]] = None,
                      idempotent: Optional[bool] = None, auth: Optional[bool] = None,
                      what: str = "", accept_status: Collection[int] = ()) -> httpx.Response:
        """Send with the retry policy above; returns a 2xx response or raises ProviderError.

        A response whose status is in ``accept_status`` is returned as it is, at
        once (neither retried nor raised), for callers that read the error
        answer themselves.
        """
        assert self._client is not None, "use `async with ServiceClient(...)`"
        url = self.url(path_or_url)
        idem = method.upper() in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS") if idempotent is None else idempotent
        what = what or f"{method} {urlsplit(url).path}"
        last: Optional[BaseException] = None
        for attempt in range(self.retry.attempts):
            try:
                resp = await self._client.request(method, url, json=json_body, data=data, files=files,
                                                  params=params, headers=self._headers(url, headers, auth))
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = exc            # never reached the service: safe to retry even a submit
                await self._backoff(attempt, None)
                continue
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if not idem:
                    raise SubmitUncertain(
                        f"{self.provider}: {what} may have reached the service, but no answer came "
                        f"({type(exc).__name__}); it was not sent again so it cannot be paid twice",
                        hint="check the service's dashboard; the journal keeps this placeholder's request") from None
                last = exc
                await self._backoff(attempt, None)
                continue
            if resp.status_code < 300 or resp.status_code in accept_status:
                return resp
            if resp.status_code in (301, 302, 303, 307, 308) and method.upper() == "GET":
                return resp
            retryable = resp.status_code in (408, 429, 500, 502, 503, 504) if idem else resp.status_code in (429, 503)
            if retryable and attempt + 1 < self.retry.attempts:
                wait = retry_after(resp)
                if wait is not None and wait > self.retry.max_retry_after:
                    raise map_status(self.provider, what, resp)
                await self._backoff(attempt, wait)
                last = None
                continue
            if not idem and resp.status_code in (500, 502, 504):
                raise SubmitUncertain(
                    f"{self.provider}: {what} got HTTP {resp.status_code} {error_text(resp)}; the job may still "
                    "have been created, so it was not sent again",
                    hint="check the service's dashboard before running again")
            raise map_status(self.provider, what, resp)
        raise ServiceError(f"{self.provider}: {what} failed after {self.retry.attempts} attempts"
                           + (f" ({type(last).__name__})" if last else ""),
                           hint="check the network and the service's status page, then run again")

    async def get_json(self, path_or_url: str, **kw: Any) -> Any:
        return _json(await self.request("GET", path_or_url, **kw), self.provider)

    async def post_json(self, path_or_url: str, body: Any, **kw: Any) -> Any:
        return _json(await self.request("POST", path_or_url, json_body=body, **kw), self.provider)

    async def _backoff(self, attempt: int, wait: Optional[float]) -> None:
        if attempt + 1 >= self.retry.attempts:
            return
        if wait is None:
            wait = min(self.retry.max_delay, self.retry.base_delay * 2 ** attempt)
            wait *= 1 + random.random() * 0.25
        await self.sleep(wait)

    # -- downloads -----------------------------------------------------------------------

    async def download(self, url: str, dest: Path, *, auth: Optional[bool] = None, max_bytes: int = 2 << 30,
                       headers: Optional[Mapping[str, str]] = None, max_redirects: int = 5,
                       accept_types: Optional[tuple[str, ...]] = None) -> Path:
        """Stream ``url`` to ``dest`` (via a temp file beside it); checks type, size and completeness.

        The file name is ours (``dest``), never the server's.  Redirects are
        followed by hand so that auth never follows to another host.  A video
        type is always taken; ``accept_types`` adds others (e.g. ``("image/gif",)``,
        which are then also named first in ``Accept``).  A 403/404/410 raises
        :class:`DownloadError` with ``expired`` set: the link is gone.
        """
        assert self._client is not None
        extra_types = tuple(accept_types or ())
        accept = ", ".join([*extra_types, "video/*", "application/octet-stream"])
        make_dirs(dest.parent)
        current = self.url(url)
        for attempt in range(self.retry.attempts):
            tmp = partial_name(dest)
            # Auth goes to the first URL when it is the service's own origin (or the
            # provider says the contract needs it), and never follows a redirect elsewhere.
            send_auth = self.same_origin(current) if auth is None else auth
            try:
                for _ in range(max_redirects + 1):
                    req_headers = {"Accept": accept, **(headers or {})}
                    if send_auth:
                        require_secure(self.provider, current,
                                       self.base_url_source if self.same_origin(current) else "")
                        req_headers = {**self.auth_headers, **req_headers}
                    async with self._client.stream("GET", current, headers=req_headers) as resp:
                        if resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("location"):
                            nxt = urljoin(current, resp.headers["location"])
                            if not self.same_origin(nxt):
                                send_auth = False
                            current = nxt
                            continue
                        if resp.status_code in (403, 404, 410):
                            await resp.aread()
                            raise DownloadError(
                                f"{self.provider}: the result at {_short(current)} is gone (HTTP {resp.status_code}); "
                                "download links expire", expired=True, **answer(resp),
                                hint="run again: the job id is kept and a fresh link is asked for")
                        if resp.status_code >= 400:
                            await resp.aread()
                            exc = map_status(self.provider, "download", resp)
                            if resp.status_code in (408, 429) or resp.status_code >= 500:
                                raise _Retry(exc)
                            raise exc
                        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                        if ctype and not ctype.startswith(extra_types + VIDEO_TYPES):
                            wanted = " or ".join(["a video", *extra_types])
                            raise DownloadError(f"{self.provider}: expected {wanted} from {_short(current)}, "
                                                f"got '{ctype}'")
                        expected = resp.headers.get("content-length")
                        if expected is not None and int(expected) > max_bytes:
                            raise DownloadError(f"{self.provider}: the result is {int(expected) >> 20} MB, over the "
                                                f"{max_bytes >> 20} MB limit", hint="raise max_download_mb in shotfill.toml")
                        got = 0
                        with open(tmp, "wb") as fh:
                            async for chunk in resp.aiter_bytes():
                                got += len(chunk)
                                if got > max_bytes:
                                    raise DownloadError(f"{self.provider}: the result is over the "
                                                        f"{max_bytes >> 20} MB limit",
                                                        hint="raise max_download_mb in shotfill.toml")
                                fh.write(chunk)
                        if expected is not None and got != int(expected):
                            raise _Retry(DownloadError(f"{self.provider}: download truncated ({got} of {expected} bytes)"))
                        if got == 0:
                            raise _Retry(DownloadError(f"{self.provider}: download was empty"))
                        commit(tmp, dest)
                        return dest
                raise DownloadError(f"{self.provider}: too many redirects for {_short(url)}")
            except _Retry as r:
                err: ProviderError = r.error
            except (httpx.TransportError, httpx.StreamError) as exc:
                err = DownloadError(f"{self.provider}: download interrupted ({type(exc).__name__})")
            except OSError as exc:   # our disk, not the service: the job stays in the journal to fetch again
                raise write_failed(dest, exc) from None
            finally:
                if tmp.exists():
                    tmp.unlink()
            if attempt + 1 >= self.retry.attempts:
                raise err
            await self._backoff(attempt, None)
        raise DownloadError(f"{self.provider}: download failed")  # pragma: no cover


M = TypeVar("M", bound=BaseModel)


def parse_answer(provider: str, model: type[M], data: Any, what: str, *, hint: str) -> M:
    """A service's answer read as ``model``; anything else is a ServiceError saying what was not understood."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]["msg"] if exc.errors() else "unexpected shape"
        raise ServiceError(f"{provider}: {what} answered in an unexpected shape ({first})", hint=hint) from None


def json_or_none(resp: httpx.Response) -> Any:
    """The body as JSON, or None when it is not JSON (parse_answer then says so)."""
    try:
        return resp.json()
    except ValueError:
        return None


class _Retry(Exception):
    def __init__(self, error: ProviderError) -> None:
        self.error = error


def _short(url: str) -> str:
    """A URL without its query string or user info: signed URLs carry tokens there."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc.rpartition('@')[2]}{p.path}"


def is_loopback(host: Optional[str]) -> bool:
    """127.0.0.0/8, ::1 or the name localhost: a key sent there never leaves the machine."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure(provider: str, url: str, where: str = "") -> None:
    """Refuse, before anything is sent, to carry a key anywhere but https or this machine."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is not None and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))):
        return
    set_by = f" (set by {where})" if where else ""
    shown = known_secrets.redact_url(_short(url)) if parts is not None else "a URL that cannot be read"
    raise ConfigError(
        f"{provider}: refusing to send the API key to {shown}{set_by}: "
        "keys go over https only, or to this machine (127.0.0.1, ::1, localhost)",
        hint=f"use an https:// base_url for {provider}, or remove the setting that points it there")


#: response headers never copied onto an error (credentials, should a service echo them)
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                             "x-goog-api-key"})


def response_body(resp: httpx.Response) -> Any:
    """An (already read) answer's body: parsed JSON, else its text."""
    try:
        return resp.json()
    except (ValueError, UnicodeDecodeError):
        return resp.text


def answer(resp: httpx.Response) -> dict[str, Any]:
    """What an error keeps of the answer it was made from: status, body and the response's own headers."""
    return {"status": resp.status_code, "body": response_body(resp),
            "headers": {k.lower(): v for k, v in resp.headers.items() if k.lower() not in _SECRET_HEADERS}}


def _json(resp: httpx.Response, provider: str) -> Any:
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ServiceError(f"{provider}: the service answered HTTP {resp.status_code} with something that "
                           "is not JSON") from None


def retry_after(resp: httpx.Response) -> Optional[float]:
    """Seconds to wait from ``Retry-After`` / ``retry-after-ms`` / Google's ``retryDelay``."""
    ms = resp.headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = resp.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value) if value else None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    try:
        for d in (resp.json().get("error", {}) or {}).get("details", []) or []:
            delay = d.get("retryDelay") if isinstance(d, dict) else None
            if isinstance(delay, str) and delay.endswith("s"):
                return float(delay[:-1])
    except Exception:
        pass
    return None


def error_text(resp: httpx.Response) -> str:
    """The service's own words from an error body, whatever its shape, with every known secret taken out."""
    return known_secrets.scrub(_error_text(resp))


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except Exception:
        text = resp.text.strip()
        return text[:300] if text else resp.reason_phrase
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            parts = [str(err.get(k)) for k in ("message", "param", "code", "status") if err.get(k)]
            return ": ".join(parts[:2]) or json.dumps(err)[:300]
        if isinstance(err, str):
            return err
        detail = body.get("detail")
        if isinstance(detail, list):
            return "; ".join(f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}" if isinstance(d, dict)
                             else str(d) for d in detail)[:300]
        if detail:
            return str(detail)[:300]
        for k in ("message", "title"):
            if body.get(k):
                return str(body[k])[:300]
    return json.dumps(body)[:300]


def map_status(provider: str, what: str, resp: httpx.Response) -> ProviderError:
    """The error for a non-2xx answer; it keeps the answer's status, body and headers (see :func:`answer`)."""
    code = resp.status_code
    text = error_text(resp)
    kept = answer(resp)
    if code in (401, 403):
        return AuthError(f"{provider}: {what} refused the API key (HTTP {code}: {text})",
                         hint="check the key in the environment or shotfill.toml", **kept)
    if code == 429:
        return RateLimited(f"{provider}: rate limited (HTTP 429: {text})", retry_after=retry_after(resp),
                           hint="lower the provider's concurrency in shotfill.toml or run again later", **kept)
    if 400 <= code < 500:
        return Rejected(f"{provider}: {what} was refused (HTTP {code}: {text})",
                        hint="check the model and options in the GEN: note and shotfill.toml", **kept)
    return ServiceError(f"{provider}: {what} failed (HTTP {code}: {text})",
                        hint="the service is having trouble; run again later", **kept)
