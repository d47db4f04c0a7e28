"""A real HTTP server on 127.0.0.1 that a test drives, as the base of every provider fake.

Each provider fake subclasses :class:`FakeService`, registers its documented
routes with :meth:`route`, validates requests the way the service does, and
keeps jobs in :attr:`jobs`.  A test can then script failures on a route:

    fake.fail("POST /v1/videos", status=429, headers={"Retry-After": "1"})
    fake.fail("GET /v1/videos/*", status=500, times=2)
    fake.reset("POST /v1/videos")          # close the socket without answering
    fake.answer_with("POST *", lambda rec: Reply(401, rec.headers["authorization"]))
    fake.truncate_next_download()
    fake.expire_downloads()

and assert on :attr:`requests` (method, path, headers, body) afterwards.  A
handler that does its work and then loses the answer returns a ``Reply`` with
``drop=True``.  A server shared by a module's tests is reset with :meth:`clear`.
Everything runs on real sockets: retries, resets and timeouts only show there.
"""

from __future__ import annotations

import fnmatch
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]          # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Reply:
    status: int = 200
    body: Any = None                  # dict/list -> JSON; bytes -> as is; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    #: declare a longer Content-Length than sent, then close (a truncated download)
    truncate: bool = False
    #: send nothing and close the connection: the work is done, its answer is lost
    drop: bool = False


@dataclass
class _Fault:
    pattern: str
    kind: str                         # "status" | "reset" | "delay" | "handler"
    reply: Optional[Reply] = None
    seconds: float = 0.0
    times: int = 1
    make: Optional[Callable[["Recorded"], Reply]] = None


Handler = Callable[[Recorded, dict[str, str]], Reply]


class FakeService:
    """Subclass and register routes in ``setup_routes``; use as a context manager."""

    def __init__(self, video: bytes = b"") -> None:
        self.video = video
        #: the result served when sound was asked for (a clip with an audio stream); empty: ``video``
        self.sounding_video: bytes = b""
        self.requests: list[Recorded] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._truncate_downloads = 0
        self.downloads_expired = False
        self._server: Optional[ThreadingHTTPServer] = None
        self.setup_routes()

    # -- life ------------------------------------------------------------------------------

    def __enter__(self) -> "FakeService":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True   # headers and body go in two writes

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        class _Server(ThreadingHTTPServer):
            # socketserver's listen backlog is 5: a run with 16 jobs at once would see connections reset
            # (ReadError) that no real service gives.
            request_queue_size = 128

        self._server = _Server(("127.0.0.1", 0), _H)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Shut down at once: while ``shutdown`` waits for ``serve_forever``'s next poll, empty
        connections wake its select (hundreds of tests each stop a server or two)."""
        server, self._server = self._server, None
        if server is None:
            return
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            try:
                socket.create_connection(server.server_address[:2], timeout=0.2).close()
            except OSError:
                pass
            stopper.join(0.01)
        server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting -------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` is a path with ``{name}`` parts, e.g. ``/v1/tasks/{id}``; ``{name:path}`` spans slashes."""
        rx = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
        rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", rx)
        self._routes.append((method.upper(), re.compile(f"^{rx}$"), handler))

    def setup_routes(self) -> None:
        """Register the service's routes (subclasses)."""

    def fail(self, pattern: str, *, status: int, body: Any = None, headers: Optional[dict[str, str]] = None,
             times: int = 1) -> None:
        """The next ``times`` requests matching ``"METHOD /path/glob*"`` get this answer."""
        self._faults.append(_Fault(pattern, "status", Reply(status, body, headers or {}), times=times))

    def answer_with(self, pattern: str, make: Callable[[Recorded], Reply], *, times: int = 1) -> None:
        """The next ``times`` matching requests get ``make(request)``: an answer built from what was sent."""
        self._faults.append(_Fault(pattern, "handler", make=make, times=times))

    def reset(self, pattern: str, *, times: int = 1) -> None:
        """Read the request, then close the connection without answering."""
        self._faults.append(_Fault(pattern, "reset", times=times))

    def delay(self, pattern: str, seconds: float, *, times: int = 1) -> None:
        """Answer normally, but only after ``seconds`` (a client timeout)."""
        self._faults.append(_Fault(pattern, "delay", seconds=seconds, times=times))

    def clear(self) -> None:
        """Forget requests, jobs and scripted faults, so one running server can serve many tests."""
        with self._lock:
            self.requests.clear()
            self.jobs.clear()
            self._faults.clear()
            self._truncate_downloads = 0
            self.downloads_expired = False

    def truncate_next_download(self, times: int = 1) -> None:
        self._truncate_downloads += times

    def expire_downloads(self, expired: bool = True) -> None:
        self.downloads_expired = expired

    def result(self, sound: bool) -> bytes:
        """The clip a job makes: with an audio stream when sound was asked for and the test gave one."""
        return self.sounding_video if sound and self.sounding_video else self.video

    def video_reply(self, sound: bool = False) -> Reply:
        """Serve the video, or the service's answer for an expired / truncated link."""
        if self.downloads_expired:
            return Reply(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                         {"Content-Type": "application/xml"})
        with self._lock:
            truncate = self._truncate_downloads > 0
            if truncate:
                self._truncate_downloads -= 1
        return Reply(200, self.result(sound), {"Content-Type": "video/mp4"}, truncate=truncate)

    def count(self, pattern: str) -> int:
        return sum(1 for r in self.requests if fnmatch.fnmatch(r.key, pattern))

    # -- dispatch --------------------------------------------------------------------------

    def _take_fault(self, key: str) -> Optional[_Fault]:
        with self._lock:
            for f in self._faults:
                if f.times > 0 and fnmatch.fnmatch(key, f.pattern):
                    f.times -= 1
                    return f
        return None

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        rec = Recorded(h.command, split.path, parse_qs(split.query),
                       {k.lower(): v for k, v in h.headers.items()}, body)
        with self._lock:
            self.requests.append(rec)
        fault = self._take_fault(rec.key)
        if fault is not None and fault.kind == "reset":
            _hang_up(h)
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            reply = fault.reply
        elif fault is not None and fault.kind == "handler":
            assert fault.make is not None
            reply = fault.make(rec)
        else:
            reply = self._route(rec)
        self._send(h, reply)

    def _route(self, rec: Recorded) -> Reply:
        for method, rx, handler in self._routes:
            m = rx.match(rec.path)
            if m and method == rec.method:
                return handler(rec, m.groupdict())
        if any(rx.match(rec.path) for _, rx, _ in self._routes):
            return Reply(405, {"error": "method not allowed"})
        return Reply(404, {"error": f"no route {rec.path}"})

    def _send(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.drop:
            _hang_up(h)
            return
        if isinstance(reply.body, (dict, list)):
            data = json.dumps(reply.body).encode()
            ctype = "application/json"
        elif isinstance(reply.body, bytes):
            data, ctype = reply.body, "application/octet-stream"
        elif isinstance(reply.body, str):
            data, ctype = reply.body.encode(), "text/plain"
        else:
            data, ctype = b"", "application/json"
        h.send_response(reply.status)
        headers = {"Content-Type": ctype, **reply.headers}
        for k, v in headers.items():
            h.send_header(k, v)
        if reply.truncate:
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            _hang_up(h)
            return
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)


def _hang_up(h: BaseHTTPRequestHandler) -> None:
    """Close the connection without (more of) an answer."""
    h.close_connection = True
    try:
        h.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def bearer(rec: Recorded) -> Optional[str]:
    auth = rec.headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else None
