"""No key anywhere: echoed by a service, given in shotfill.toml, in a base URL; keys over https only.

The runs go through the real command line and the real HTTP client against
fakes on 127.0.0.1 whose error answers echo the credentials they were sent
(:mod:`fakes.echo`), with the key only in ``shotfill.toml``; then every
byte the run printed or wrote (stdout, stderr, the journal with its WAL,
report.json, report.html, the timeline, the media and state folders) is
searched for the key in every shape it could take.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import socket
import sqlite3
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

import opentimelineio as otio
import pytest

from fakes.echo import echo_credentials
from shotfill.system import secrets
from shotfill.cli.app import main
from shotfill.errors import AuthError, ConfigError
from shotfill.providers import _http
from test_providers_e2e import fake_for
from timelines import clip, gap, marker, slug
from fakes.openai import GATEWAY_MODEL

#: a gateway's /v1/videos model, declared as shotfill.toml must (the catalog ships none for openai)

#: '/', '+' and '=' make the URL-encoded and JSON-escaped shapes differ from the raw key
KEY = "sk-live/ECHO+planted=7f3a9c1e55d0"
R24 = Fraction(24)


def shapes(key: str) -> list[str]:
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), quote(key, safe=""))
    return [key, quote(key, safe=""), lower_hex, base64.b64encode(key.encode()).decode(), key.replace("/", "\\/")]


def assert_nowhere(key: str, texts: list[str], roots: list[Path]) -> None:
    for text in texts:
        for shape in shapes(key):
            assert shape not in text, f"{shape!r} printed:\n{text}"
    files = [p for r in roots if r.exists() for p in r.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for shape in shapes(key):
            assert shape.encode() not in data, f"{shape!r} in {path}"


def cut(tmp_path: Path) -> Path:
    tl = otio.schema.Timeline(name="cut")
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 24, R24))
    v1.append(gap(48, R24, marker("GEN: a fox in snow | seed=5", 0, 48, R24)))
    v1.append(clip("b", 24, R24))
    v1.append(slug("GEN: lower third, white text", 48, R24))
    tl.tracks.append(v1)
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(src))
    return src


def key_in_file_config(tmp_path: Path, name: str, url: str) -> Path:
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text(f'default_provider = "{name}"\n[providers.{name}]\nbase_url = "{url}"\n'
                   f'api_key = "{KEY}"\npoll_interval = 0.01\ntimeout = 30\nprice_per_second = 0.1\n')
    if name == "openai":      # a gateway's model: the catalog ships none for /v1/videos
        with cfg.open("a") as fh:
            fh.write('[providers.openai.models."sora-2"]\ndurations = [4, 8, 12]\nsizes = ["1280x720", "720x1280"]\n'
                     'first_frame = true\n')
    return cfg


def journal_rows(state: Path) -> list[tuple]:
    db = sqlite3.connect(str(state / "journal.sqlite"))
    try:
        return db.execute("SELECT * FROM jobs").fetchall()
    finally:
        db.close()


ECHOING = ["openai", "runway", "fal", "luma", "veo", "replicate"]


@pytest.mark.parametrize("status", [401, 500])
@pytest.mark.parametrize("name", ECHOING)
def test_a_key_from_shotfill_toml_echoed_by_the_service_is_nowhere(name, status, tmp_path, capsys):
    src = cut(tmp_path)
    with fake_for(name, b"") as (fake, _):
        # Every submit is answered with the credentials it carried, quoted back in five shapes.
        echo_credentials(fake, "POST *", status=status)
        url = fake.url + ("/dream-machine/v1" if name == "luma" else "")
        cfg = key_in_file_config(tmp_path, name, url)
        runs = []
        for out, extra in (("out", []), ("out_json", ["--json"]), ("out_quiet", ["-q"])):
            code = main(["fill", str(src), "-o", str(tmp_path / out / "filled.otio"), "--config", str(cfg),
                         "--resolution", "1280x720", *extra])
            runs.append(capsys.readouterr())
            assert code == 1, runs[-1].out + runs[-1].err
        dry = main(["fill", str(src), "-o", str(tmp_path / "dry" / "x.otio"), "--config", str(cfg),
                    "--resolution", "1280x720", "--dry-run", "--json"])
        runs.append(capsys.readouterr())
        assert dry == 0
        echoed = [r for r in fake.requests if r.method == "POST"]
    assert echoed and all(KEY in json.dumps(r.headers) for r in echoed), "the key was sent and echoed"

    texts = [t for r in runs for t in (r.out, r.err)]
    roots = [tmp_path / d for d in ("out", "out_json", "out_quiet", "dry")]
    assert_nowhere(KEY, texts, roots)
    # The service's words still reach the editor, with the key taken out of them.
    assert "[redacted]" in runs[0].out
    assert json.loads(runs[1].out)["totals"]["failed"] == 2
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert all("[redacted]" in (p["error"] or "") for p in report["placeholders"])
    rows = journal_rows(tmp_path / "out" / ".shotfill")
    assert rows and all(KEY not in json.dumps(row) for row in rows)
    assert any("[redacted]" in (row[8] or "") for row in rows), rows


def test_a_password_in_the_base_url_and_its_basic_auth_are_nowhere(tmp_path, capsys):
    """ComfyUI takes no key, but a ``user:password@`` base URL makes httpx send Basic auth."""
    from test_providers_e2e import write_config

    password = "pw-Basic-99c4e1"
    src = cut(tmp_path)
    with fake_for("comfyui", b"") as (fake, _):
        echo_credentials(fake, "POST *", status=401)
        cfg = write_config(tmp_path, "comfyui", fake.url.replace("http://", f"http://editor:{password}@"))
        code = main(["fill", str(src), "-o", str(tmp_path / "out" / "filled.otio"), "--config", str(cfg),
                     "--resolution", "1280x720"])
        io1 = capsys.readouterr()
        assert code == 1, io1.out + io1.err
        assert main(["providers", "--config", str(cfg)]) == 0
        io2 = capsys.readouterr()
        sent = [r.headers.get("authorization", "") for r in fake.requests if r.method == "POST"]
    assert sent and all(s.startswith("Basic ") for s in sent)
    basic = base64.b64encode(f"editor:{password}".encode()).decode()
    for text in (io1.out, io1.err, io2.out, io2.err):
        assert password not in text and basic not in text
    assert "editor:[redacted]@127.0.0.1" in io2.out
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes() and basic.encode() not in path.read_bytes(), path


def test_an_environment_key_echoed_in_a_text_500_is_nowhere(tmp_path, monkeypatch, capsys):
    """The key from the environment this time, echoed in a plain-text 500 debug page."""
    monkeypatch.setenv("RUNWAYML_API_SECRET", KEY)
    src = cut(tmp_path)
    with fake_for("runway", b"") as (fake, _):
        echo_credentials(fake, "POST *", status=500, as_text=True)
        cfg = tmp_path / "shotfill.toml"
        cfg.write_text(f'[providers.runway]\nbase_url = "{fake.url}"\npoll_interval = 0.01\n')
        code = main(["fill", str(src), "-o", str(tmp_path / "out" / "filled.otio"), "--config", str(cfg),
                     "--provider", "runway", "--resolution", "1280x720"])
        io1 = capsys.readouterr()
    assert code == 1
    assert_nowhere(KEY, [io1.out, io1.err], [tmp_path / "out"])
    assert "[redacted]" in io1.out


# --------------------------------------------------------------------------- https only


class _NoNetwork:
    """Records every attempt to resolve or connect; a refusal must come before both."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts: list[str] = []
        real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

        def connect(sock, address):
            self.attempts.append(f"connect {address}")
            raise OSError("network disabled in this test")

        def getaddrinfo(host, *a, **kw):
            self.attempts.append(f"resolve {host}")
            raise socket.gaierror("network disabled in this test")

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("name", ["openai", "runway", "fal"])
def test_a_plain_http_base_url_elsewhere_is_refused_before_anything_is_sent(name, tmp_path, monkeypatch, capsys):
    net = _NoNetwork(monkeypatch)
    src = cut(tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    cfg = key_in_file_config(proj, name, "http://10.255.255.1:8080/v1?token=tok-SECRET-4411")
    monkeypatch.chdir(proj)
    out = tmp_path / "out"
    code = main(["fill", str(src), "-o", str(out / "filled.otio"), "--resolution", "1280x720"])
    io1 = capsys.readouterr()
    assert code == 2, io1.out + io1.err
    assert net.attempts == []
    assert not out.exists()
    assert "http://10.255.255.1:8080/v1" in io1.err and str(cfg) in io1.err and "https" in io1.err
    assert name in io1.err
    for text in (io1.out, io1.err):
        assert KEY not in text and "tok-SECRET-4411" not in text

    # scan and the dry run say where the key would go, who said so, and that it would be refused
    assert main(["scan", str(src), "--resolution", "1280x720"]) == 0
    scan = capsys.readouterr().out
    assert f"provider {name}: http://10.255.255.1:8080/v1?token=[redacted] (set by {cfg})" in scan
    assert "REFUSED" in scan
    assert net.attempts == []


def test_the_client_refuses_a_key_over_plain_http_before_connecting(monkeypatch):
    net = _NoNetwork(monkeypatch)

    async def no_wait(s: float) -> None:
        pass

    async def open_client(url: str, **kw) -> None:
        async with _http.ServiceClient(provider="openai", base_url=url, base_url_source="/proj/shotfill.toml",
                                       sleep=no_wait, **kw) as c:
            await c.get_json("/v1/videos")

    with pytest.raises(ConfigError) as info:
        asyncio.run(open_client("http://gateway.example/v1", auth_headers={"Authorization": f"Bearer {KEY}"}))
    msg = str(info.value)
    assert "openai" in msg and "http://gateway.example/v1" in msg and "/proj/shotfill.toml" in msg
    assert KEY not in msg
    with pytest.raises(ConfigError) as info:
        asyncio.run(open_client("http://editor:pw-Basic-99c4e1@192.168.1.20:8188"))
    assert "pw-Basic-99c4e1" not in str(info.value) and "192.168.1.20" in str(info.value)
    assert net.attempts == []

    # No key, no refusal: a ComfyUI on the studio network over http is fine (it fails only to connect here).
    with pytest.raises(Exception) as info:
        asyncio.run(open_client("http://192.168.1.20:8188"))
    assert not isinstance(info.value, ConfigError)
    assert net.attempts


def test_a_forced_auth_download_to_plain_http_elsewhere_is_refused(monkeypatch, tmp_path):
    net = _NoNetwork(monkeypatch)

    async def fetch() -> None:
        async with _http.ServiceClient(provider="fal", base_url="https://queue.fal.run",
                                 auth_headers={"Authorization": f"Key {KEY}"}) as c:
            await c.download("http://cdn.example/out.mp4", tmp_path / "x.mp4", auth=True)

    with pytest.raises(ConfigError, match="cdn.example"):
        asyncio.run(fetch())
    assert net.attempts == []


@pytest.mark.parametrize("host, ok", [("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("[::1]", True),
                                      ("localhost", True), ("LOCALHOST.", True), ("10.0.0.1", False),
                                      ("localhost.example", False), ("128.0.0.1", False), ("", False)])
def test_loopback_hosts(host, ok):
    assert _http.is_loopback(host) is ok


@pytest.mark.parametrize("url, ok", [("https://api.example", True), ("http://127.0.0.1:9", True),
                                     ("http://[::1]:8188", True), ("http://localhost:4000", True),
                                     ("http://api.example", False), ("ftp://127.0.0.1", False)])
def test_keys_over_https_only_except_to_this_machine(url, ok):
    if ok:
        _http.require_secure("x", url)
    else:
        with pytest.raises(ConfigError):
            _http.require_secure("x", url)


# --------------------------------------------------------------------------- where base_url was set


def test_scan_dry_run_and_providers_show_the_base_url_and_where_it_was_set(tmp_path, monkeypatch, capsys):
    src = cut(tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    cfg = proj / "shotfill.toml"
    cfg.write_text('default_provider = "openai"\n[providers.openai]\nbase_url = "https://gateway.example/v1"\n'
                   f'api_key = "{KEY}"\nprice_per_second = 0.1\n' + GATEWAY_MODEL)
    monkeypatch.chdir(proj)

    assert main(["scan", str(src), "--resolution", "1280x720"]) == 0
    scan = capsys.readouterr().out
    assert f"provider openai: https://gateway.example/v1 (set by {cfg})" in scan
    assert scan.count("provider openai:") == 1

    assert main(["scan", str(src), "--resolution", "1280x720", "--provider", "runway"]) == 0
    assert "provider runway: https://api.dev.runwayml.com (set by built-in default)" in capsys.readouterr().out

    monkeypatch.setenv("SHOTFILL_OPENAI_BASE_URL", "https://other.example")
    assert main(["fill", str(src), "-o", str(tmp_path / "o" / "x.otio"), "--resolution", "1280x720",
                 "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "provider openai: https://other.example (set by $SHOTFILL_OPENAI_BASE_URL)" in dry
    assert main(["fill", str(src), "-o", str(tmp_path / "o" / "x.otio"), "--resolution", "1280x720",
                 "--dry-run", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["placeholders"]
    assert [r["endpoint"] for r in rows] == [{"base_url": "https://other.example",
                                              "base_url_source": "$SHOTFILL_OPENAI_BASE_URL",
                                              "refused": None}] * 2
    monkeypatch.delenv("SHOTFILL_OPENAI_BASE_URL")

    assert main(["scan", str(src), "--resolution", "1280x720", "--json"]) == 0
    plans = [r["plan"] for r in json.loads(capsys.readouterr().out)]
    assert {p["endpoint"]["base_url_source"] for p in plans} == {str(cfg)}

    assert main(["providers", "--json"]) == 0
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert (listed["openai"]["base_url"], listed["openai"]["base_url_source"]) == ("https://gateway.example/v1",
                                                                                  str(cfg))
    assert listed["runway"]["base_url_source"] == "built-in default"
    assert main(["providers"]) == 0
    assert f"https://gateway.example/v1 (set by {cfg})" in capsys.readouterr().out
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- the scrubber itself


def test_scrub_takes_every_shape_of_every_registered_secret():
    secrets.register(KEY)
    secrets.register_url("https://u:pa%2Fss-word9@h.example/?api_key=qk-123456&v=2024-01-01")
    text = " | ".join([*shapes(KEY), "pa/ss-word9", "qk-123456",
                       base64.b64encode(b"u:pa/ss-word9").decode(), "v=2024-01-01"])
    clean = secrets.scrub(text)
    for s in [*shapes(KEY), "pa/ss-word9", "qk-123456", base64.b64encode(b"u:pa/ss-word9").decode()]:
        assert s not in clean
    assert "2024-01-01" in clean          # not a credential: kept
    assert secrets.redact_url("https://u:pa%2Fss-word9@h.example/x?api_key=qk-123456&v=1") == \
        "https://u:[redacted]@h.example/x?api_key=[redacted]&v=1"
    secrets.register("abc")               # too short to scrub without eating ordinary words
    assert secrets.scrub("abcdef") == "abcdef"


def test_errors_scrub_when_made_and_when_shown():
    err = AuthError(f"refused: Bearer {KEY}", hint=f"key {KEY} is wrong")
    secrets.register(KEY)
    assert KEY not in str(err)
    later = AuthError(f"refused {KEY}")
    assert KEY not in later.message and KEY not in str(later.args)


def test_the_resolve_engine_scrubs_its_lines_and_results(tmp_path):
    from shotfill.resolve import engine
    from shotfill.resolve.protocol import Report

    secrets.register(KEY)
    out = io.StringIO()
    engine._print_emit({"event": "error", "message": f"401: Bearer {KEY}"}, out)
    assert KEY not in out.getvalue() and "[redacted]" in out.getvalue()
    engine.write_report(Report(command="run", ok=False, error=f"echo {quote(KEY, safe='')}"), tmp_path / "r.json")
    assert quote(KEY, safe="") not in (tmp_path / "r.json").read_text()
    got = []
    snap = tmp_path / "missing.json"
    engine.engine_main("run", snap, tmp_path / "res.json", emit=got.append)
    assert got and all(KEY not in json.dumps(e) for e in got)
