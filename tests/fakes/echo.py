"""A service that gives the caller's credentials back in its error answers.

Some gateways and proxies do this: a 401 that quotes the ``Authorization``
header it rejected, a 500 whose debug page dumps the request headers.
:func:`echo_credentials` makes any fake answer that way on the requests a
pattern matches, with every credential header quoted in several shapes (as
sent, bare, URL-encoded, base64, JSON-escaped), in the places each client's
error reading looks (``error.message``, ``detail``, ``message``), so that
whatever ShotFill shows of the answer carries the key unless it is scrubbed.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from fakes.server import FakeService, Recorded, Reply

#: request headers that carry a credential
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "proxy-authorization")


def _shapes(value: str) -> list[str]:
    scheme, _, rest = value.partition(" ")
    bare = rest if rest and scheme.isalpha() else value
    return [value, bare, quote(bare, safe=""), base64.b64encode(bare.encode()).decode(),
            bare.replace("/", "\\/")]


def echo_body(rec: Recorded) -> dict[str, Any]:
    sent = {h: rec.headers[h] for h in CREDENTIAL_HEADERS if h in rec.headers}
    quoted = "; ".join(f"{h}: {s}" for h, v in sent.items() for s in _shapes(v))
    text = f"credentials rejected for {rec.method} {rec.path} ({quoted or 'no credentials sent'})"
    return {"error": {"message": text, "type": "invalid_request_error", "code": "echo"},
            "detail": text, "message": text, "headers": rec.headers}


def echo_credentials(fake: FakeService, pattern: str, *, status: int, times: int = 50,
                     as_text: bool = False) -> None:
    """The next ``times`` requests matching ``pattern`` get ``status`` with the credentials echoed."""
    def make(rec: Recorded) -> Reply:
        body = echo_body(rec)
        return Reply(status, body["message"] if as_text else body)

    fake.answer_with(pattern, make, times=times)
