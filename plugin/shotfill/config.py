"""Settings: ``shotfill.toml`` files and the environment, validated once.

Where they come from, later ones winning key by key:

1. the user's file: ``$XDG_CONFIG_HOME/shotfill/shotfill.toml`` (``~/.config/...``;
   ``%APPDATA%\\shotfill\\shotfill.toml`` on Windows,
   ``~/Library/Application Support/shotfill/shotfill.toml`` on macOS);
2. the project's file: ``shotfill.toml`` in the current folder;
3. ``$SHOTFILL_CONFIG`` or ``--config FILE``: that file instead of 2;
4. the environment: API keys (``RUNWAYML_API_SECRET`` ...) and
   ``SHOTFILL_<NAME>_BASE_URL``.

This is the only module that reads ``os.environ`` for settings.  Keys are
``SecretStr``: printing a settings object never shows them; every key and
base-URL credential read here is also registered with :mod:`shotfill.system.secrets`,
so that it is scrubbed out of every message, log, journal row and report.
Each provider's ``base_url`` remembers where it was set (the environment
variable, the file, or the built-in default), for ``scan``, ``--dry-run``
and ``providers`` to show: a ``shotfill.toml`` in the working folder cannot
point a key elsewhere unseen.

Example::

    default_provider = "runway"
    concurrency = 4

    [providers.runway]
    model = "gen4_turbo"
    price_per_second = 0.05
    concurrency = 2

    [providers.comfyui]
    base_url = "http://127.0.0.1:8188"
    workflow = "wan_i2v_api.json"
    [providers.comfyui.inputs]
    prompt = "6.inputs.text"
    seed = "3.inputs.seed"
"""

from __future__ import annotations

import os
import re
import sys
import urllib.parse
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Optional

from pydantic import (BaseModel, ConfigDict, Field, SecretStr, StrictBool, StrictFloat, StrictInt, StrictStr,
                      ValidationError, field_validator, model_validator)

from shotfill.system import secrets
from shotfill.system.bounded import MAX_CONFIG_BYTES, read_bytes
from shotfill.errors import ConfigError
from shotfill.model import MAX_HANDLES, MAX_TAKES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: provider name -> environment variable holding its key (None: needs no key)
KEY_ENV: dict[str, Optional[str]] = {
    "local": None,
    "openai": "OPENAI_API_KEY",
    "runway": "RUNWAYML_API_SECRET",
    "luma": "LUMAAI_API_KEY",
    "veo": "GEMINI_API_KEY",
    "fal": "FAL_KEY",
    "replicate": "REPLICATE_API_TOKEN",
    "comfyui": None,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComfyInputs(_Strict):
    """Where a ComfyUI workflow takes each value: ``"<node id>.inputs.<name>"``."""

    prompt: str
    negative: Optional[str] = None
    seed: Optional[str] = None
    frames: Optional[str] = None
    fps: Optional[str] = None
    width: Optional[str] = None
    height: Optional[str] = None
    first_frame: Optional[str] = None
    last_frame: Optional[str] = None

    @field_validator("*")
    @classmethod
    def _path_shape(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (v.count(".") < 2 or ".inputs." not in v):
            raise ValueError(f"'{v}' must look like '<node id>.inputs.<input name>', e.g. '6.inputs.text'")
        return v


def check_base_url(url: str) -> str:
    """An http(s) URL with a host, or ValueError saying what is wrong (raised before any request)."""
    parts = urllib.parse.urlsplit(url) if not re.search(r"[\s\x00-\x1f\x7f]", url) else None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{url}' is not an http(s) URL; write it like 'https://host:port/path'")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"'{url}' has a bad port number") from None
    return url


#: ``frames`` rules: ``any``, or ``An+B`` (``8n+1``: 1, 9, 17 ... frames; ``4n``; ``n``)
FRAME_RULE = re.compile(r"^(?:any|(\d*)n(?:\s*\+\s*(\d+))?)$")
_SIZE = re.compile(r"^[1-9]\d{0,4}[x:][1-9]\d{0,4}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RATE = re.compile(r"^[1-9]\d*(?:\.\d+)?(?:/[1-9]\d*)?$")
Seconds = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]
Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ModelRules(BaseModel):
    """One ``[providers.NAME.models."MODEL-ID"]`` table: what a model accepts, in the catalog shipped
    with ShotFill or in a ``shotfill.toml``.  Every key is optional here, since a table in
    ``shotfill.toml`` may change one key of a built-in model; the merged entry must say how long a
    clip may be (``durations``, or ``min_seconds``/``max_seconds``) before it is planned."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: seconds the model accepts, ascending once merged
    durations: Optional[list[Seconds]] = Field(default=None, min_length=1)
    min_seconds: Optional[Seconds] = None
    max_seconds: Optional[Seconds] = None
    step: Optional[Seconds] = None
    #: frame counts the model makes: "any", or "An+B" such as "8n+1"
    frames: Optional[StrictStr] = None
    #: frame rates it can be asked for ("24", 25, "24000/1001"); absent: it picks its own
    rates: Optional[list[StrictStr | StrictInt | StrictFloat]] = Field(default=None, min_length=1)
    #: "1280x720" (a pixel size) or "16:9" / "1280:720" (a ratio, sent as written)
    sizes: Optional[list[StrictStr]] = Field(default=None, min_length=1)
    first_frame: Optional[StrictBool] = None
    last_frame: Optional[StrictBool] = None
    #: how many reference images it takes
    references: Optional[Annotated[int, Field(ge=0, le=64)]] = None
    audio: Optional[StrictBool] = None
    #: per second of video: one price, or one per size ("1280x720", "720p", "16:9")
    price_per_second: Optional[Price | dict[str, Price]] = None
    #: the same, when sound is asked for and the service charges more for it (absent: price_per_second)
    audio_price_per_second: Optional[Price | dict[str, Price]] = None
    #: it can continue a clip from its last frame
    extend: Optional[StrictBool] = None
    #: where these rules were read, and when
    source: Optional[StrictStr] = None
    date: Optional[StrictStr] = None
    # -- how the client speaks to it (model-generic APIs: fal, Replicate) -----------------------
    #: our value -> the model's input name ("first_frame" = "image_url"), optionally ":int"/":str"/":float"
    inputs: Optional[dict[str, StrictStr]] = None
    #: inputs sent as they are
    extra: Optional[dict[str, Any]] = None
    seed: Optional[StrictBool] = None
    negative: Optional[StrictBool] = None
    #: makes video only from a first frame; ``text_variant`` is the sibling used when there is none
    image_only: Optional[StrictBool] = None
    text_variant: Optional[StrictStr] = None
    #: a last frame only together with a first frame
    last_needs_first: Optional[StrictBool] = None
    #: JSON type of a ``duration`` input
    duration_type: Optional[Literal["str", "int", "float"]] = None

    @field_validator("frames")
    @classmethod
    def _frame_rule(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not FRAME_RULE.match(v.strip().lower()):
            raise ValueError(f"'{v}' is not a frame rule; write \"any\" or a rule such as \"8n+1\" or \"4n\"")
        return None if v is None else v.strip().lower()

    @field_validator("rates")
    @classmethod
    def _rates(cls, v: Optional[list[str | int | float]]) -> Optional[list[str | int | float]]:
        for r in v or []:
            ok = (isinstance(r, str) and bool(_RATE.match(r.strip()))) or (
                isinstance(r, (int, float)) and not isinstance(r, bool) and 1 <= r <= 1000)
            if not ok:
                raise ValueError(f"{r!r} is not a frame rate; write 24, 25, 23.976 or \"24000/1001\"")
        return v

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        for s in v or []:
            if not _SIZE.match(s):
                raise ValueError(f"'{s}' is not a size; write \"1280x720\" or a ratio such as \"16:9\"")
        return v

    @field_validator("date")
    @classmethod
    def _date(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _DATE.match(v):
            raise ValueError(f"'{v}' is not a date; write it as YYYY-MM-DD")
        return v

    @model_validator(mode="after")
    def _lengths(self) -> "ModelRules":
        if self.durations is not None and (self.min_seconds is not None or self.max_seconds is not None):
            raise ValueError("durations: give either durations or min_seconds/max_seconds, not both")
        if self.min_seconds is not None and self.max_seconds is not None and self.min_seconds > self.max_seconds:
            raise ValueError(f"min_seconds: {self.min_seconds:g} is more than max_seconds {self.max_seconds:g}")
        return self


class ProviderSettings(_Strict):
    # inf and nan are never a sensible number of seconds, or price: refuse them here, not mid-run.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    model: Optional[str] = None
    base_url: Optional[str] = None
    api_key: Optional[SecretStr] = None
    concurrency: int = Field(default=2, ge=1, le=64)
    #: price in the account's currency per second of generated video, for estimates and budgets
    price_per_second: Optional[float] = Field(default=None, ge=0)
    #: seconds between polls when the service gives no hint
    poll_interval: float = Field(default=5.0, gt=0, le=600)
    #: give up on a job after this many seconds (a week at most)
    timeout: float = Field(default=1800.0, gt=0, le=7 * 24 * 3600)
    #: how long a later run keeps reading the service's job listing for a submit that got no answer
    #: (listings lag, and a slow create can land seconds after its connection was lost)
    recover_wait: float = Field(default=120.0, ge=0, le=3600)
    #: largest download accepted, in MB
    max_download_mb: int = Field(default=2048, ge=1)
    # ComfyUI only
    workflow: Optional[Path] = None
    inputs: Optional[ComfyInputs] = None
    #: fal / replicate: the request-body field names of the chosen model
    fields: Optional[dict[str, str]] = None
    #: fal / replicate / openai: durations (seconds) the chosen model allows
    durations: Optional[list[Annotated[int, Field(ge=1, le=3600)]]] = Field(default=None, min_length=1)
    #: extra input fields sent as they are (model-specific knobs)
    extra: Optional[dict[str, Any]] = None
    #: models declared or changed here, merged over the catalog shipped with ShotFill
    models: dict[str, ModelRules] = Field(default_factory=dict)
    #: veo on Vertex AI: the Google Cloud project and location the models run in
    project: Optional[str] = Field(default=None, pattern=r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$")
    location: Optional[str] = Field(default=None, pattern=r"^[a-z0-9-]{2,40}$")

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else check_base_url(v)


class C2paSettings(_Strict):
    """``[c2pa]``: sign every placed generated file with C2PA content credentials (see ``media.credentials``)."""

    #: the signing certificate chain, leaf first: a PEM file (relative to the config file) or the PEM itself
    sign_cert: str
    #: the leaf's PKCS#8 private key: a PEM file or the PEM itself; a secret either way
    private_key: SecretStr
    alg: Literal["es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"] = "es256"
    #: an RFC 3161 time-stamp authority, asked for a timestamp at each signing
    tsa_url: Optional[str] = None
    include_prompt: bool = True

    @field_validator("tsa_url")
    @classmethod
    def _tsa(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else check_base_url(v)


class ExecutorSettings(_Strict):
    """``[executor]``: where media work runs (``--executor`` overrides it).

    ``kind = "dask"`` without ``address`` starts a cluster of worker processes on this
    machine; with ``address = "tcp://HOST:PORT"`` it uses that Dask scheduler.
    ``path_map`` maps a folder as this machine sees it to where the workers mount it:
    ``path_map = {"/mnt/a" = "/Volumes/a"}``.
    """

    kind: Literal["local", "dask"] = "local"
    address: Optional[str] = None
    #: worker processes of the embedded cluster (default: one per core)
    workers: Optional[int] = Field(default=None, ge=1, le=256)
    path_map: dict[str, str] = Field(default_factory=dict)

    @field_validator("address")
    @classmethod
    def _address(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.fullmatch(r"(tcp|tls|ws|wss|dask)://[^\s/]+:\d+/?", v):
            raise ValueError(f"'{v}' is not a scheduler address; write it like tcp://10.0.0.5:8786")
        return v

    @field_validator("path_map")
    @classmethod
    def _absolute(cls, v: dict[str, str]) -> dict[str, str]:
        for here, there in v.items():
            if not (here.startswith("/") or re.match(r"[A-Za-z]:[\\/]", here)) or not there:
                raise ValueError(f"path_map: '{here}' = '{there}': map an absolute folder to another")
        return v


class Settings(_Strict):
    default_provider: str = "local"
    concurrency: int = Field(default=4, ge=1, le=256)
    #: takes per placeholder when neither its note nor ``--takes`` says
    takes: int = Field(default=1, ge=1, le=MAX_TAKES)
    #: handle frames before and after each hole when neither its note nor ``--handles`` says
    handles: int = Field(default=0, ge=0, le=MAX_HANDLES)
    #: reference images (a character, a style) sent with every shot to models that take them
    references: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, max_length=16)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    #: bring each clip's look toward its neighbours: "on", "off", or unset (on unless the offline generator)
    match: Optional[Literal["on", "off"]] = None
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    c2pa: Optional[C2paSettings] = None
    #: the files these settings came from (for messages)
    sources: tuple[str, ...] = ()
    #: provider name -> the file that set its base_url (the last one that did)
    base_url_files: dict[str, str] = Field(default_factory=dict)

    @field_validator("match", mode="before")
    @classmethod
    def _on_off(cls, v: object) -> object:
        # TOML's own true / false mean on / off too; anything else is refused by the Literal.
        if isinstance(v, bool):
            return "on" if v else "off"
        return v.lower() if isinstance(v, str) else v

    @field_validator("default_provider")
    @classmethod
    def _known_default(cls, v: str) -> str:
        if v.lower() not in KEY_ENV:
            raise ValueError(f"unknown provider '{v}'; known: {', '.join(KEY_ENV)}")
        return v.lower()

    @field_validator("providers")
    @classmethod
    def _known(cls, v: dict[str, ProviderSettings]) -> dict[str, ProviderSettings]:
        unknown = sorted(set(v) - set(KEY_ENV))
        if unknown:
            raise ValueError(f"unknown provider(s) {', '.join(unknown)}; known: {', '.join(KEY_ENV)}")
        return v

    def provider(self, name: str) -> ProviderSettings:
        return self.providers.get(name, ProviderSettings())

    def api_key(self, name: str, environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
        """The provider's key: the environment first, then the config file; never logged."""
        env = os.environ if environ is None else environ
        var = KEY_ENV.get(name)
        if var and env.get(var):
            secrets.register(env[var])
            return env[var]
        key = self.provider(name).api_key
        value = key.get_secret_value() if key is not None else None
        secrets.register(value)
        return value

    def base_url(self, name: str, default: str, environ: Optional[Mapping[str, str]] = None) -> str:
        url = self.base_url_with_source(name, default, environ)[0]
        secrets.register_url(url)
        return url

    def base_url_with_source(self, name: str, default: str,
                             environ: Optional[Mapping[str, str]] = None) -> tuple[str, str]:
        """The provider's base URL and where it was set: ``$SHOTFILL_<NAME>_BASE_URL``, a file, or built in."""
        env = os.environ if environ is None else environ
        var = f"SHOTFILL_{name.upper()}_BASE_URL"
        if env.get(var):
            return env[var].rstrip("/"), f"${var}"
        if url := self.provider(name).base_url:
            where = self.base_url_files.get(name)
            return url.rstrip("/"), where or "settings"
        return default.rstrip("/"), "built-in default"

    def register_secrets(self, environ: Optional[Mapping[str, str]] = None) -> None:
        """Hand every key and base-URL credential these settings and the environment hold to the scrubber."""
        register_environment_secrets(environ)
        for ps in self.providers.values():
            if ps.api_key is not None:
                secrets.register(ps.api_key.get_secret_value())
            secrets.register_url(ps.base_url)
        if self.c2pa is not None and "-----BEGIN" in self.c2pa.private_key.get_secret_value():
            # an inline PEM; a key file's text is registered when media.credentials reads it
            secrets.register(self.c2pa.private_key.get_secret_value())


def register_environment_secrets(environ: Optional[Mapping[str, str]] = None) -> None:
    """The environment's API keys and base-URL credentials, handed to the scrubber."""
    env = os.environ if environ is None else environ
    for var in KEY_ENV.values():
        if var:
            secrets.register(env.get(var))
    for name in KEY_ENV:
        secrets.register_url(env.get(f"SHOTFILL_{name.upper()}_BASE_URL"))


def user_config_path(environ: Optional[Mapping[str, str]] = None) -> Path:
    env = os.environ if environ is None else environ
    if sys.platform == "win32" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "shotfill" / "shotfill.toml"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "shotfill" / "shotfill.toml"
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "shotfill" / "shotfill.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    data = read_bytes(path, limit=MAX_CONFIG_BYTES, what="config file", error=ConfigError)
    # Windows Notepad saves UTF-8 with a byte order mark; TOML itself has no place for one.
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})",
                          hint="save the file as UTF-8 (TOML files are always UTF-8)") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", hint="fix the syntax at that line") from None
    providers = raw.get("providers")
    if providers is not None and not (isinstance(providers, dict)
                                      and all(isinstance(v, dict) for v in providers.values())):
        raise ConfigError(f"{path}: 'providers' must be tables, one per provider, like [providers.runway]",
                          hint="see the README's Configuration section")
    return raw


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _explain(exc: ValidationError, sources: list[str]) -> ConfigError:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        msg = msg.removeprefix("Value error, ")
        lines.append(f"  {key}: {msg}")
    where = " + ".join(sources) or "settings"
    return ConfigError(f"{where}: bad setting(s):\n" + "\n".join(lines),
                       hint="see the README's Configuration section for the keys")


def _c2pa_paths(raw: dict[str, Any], f: Path) -> None:
    """``[c2pa]``'s key registered as a secret before validation; its PEM file paths made relative to ``f``."""
    c2pa = raw.get("c2pa")
    if not isinstance(c2pa, dict):
        return
    for name in ("sign_cert", "private_key"):
        value = c2pa.get(name)
        if not isinstance(value, str):
            continue
        if "-----BEGIN" in value:
            if name == "private_key":
                secrets.register(value)
        else:
            p = Path(value).expanduser()
            c2pa[name] = str(p if p.is_absolute() else (f.parent / p).resolve())


def load_settings(config: Optional[Path] = None, *, cwd: Optional[Path] = None,
                  environ: Optional[Mapping[str, str]] = None) -> Settings:
    """Settings from the user's file, then the project's (or ``config``), validated."""
    env = os.environ if environ is None else environ
    files: list[Path] = []
    user = user_config_path(env)
    if user.is_file():
        files.append(user)
    explicit = config or (Path(env["SHOTFILL_CONFIG"]) if env.get("SHOTFILL_CONFIG") else None)
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: config file not found", hint="check --config / SHOTFILL_CONFIG")
        files.append(explicit)
    else:
        project = (cwd or Path.cwd()) / "shotfill.toml"
        if project.is_file():
            files.append(project)
    data: dict[str, Any] = {}
    base_url_files: dict[str, str] = {}
    for f in files:
        raw = _read_toml(f)
        providers = raw.get("providers")
        for name, prov in (providers.items() if isinstance(providers, dict) else ()):
            if isinstance(prov, dict):
                # Registered before validation, so a message about a bad value cannot show a key either.
                if isinstance(prov.get("api_key"), str):
                    secrets.register(prov["api_key"])
                if isinstance(prov.get("base_url"), str):
                    secrets.register_url(prov["base_url"])
                    base_url_files[name] = str(f)
        _c2pa_paths(raw, f)
        # Reference images, like a workflow, are found relative to the file that names them.
        if isinstance(raw.get("references"), list):
            raw["references"] = [str(Path(r).expanduser() if Path(r).expanduser().is_absolute()
                                     else (f.parent / Path(r).expanduser()).resolve()) if isinstance(r, str) else r
                                 for r in raw["references"]]
        # A relative workflow path means relative to the file that names it.
        for prov in (raw.get("providers") or {}).values():
            if isinstance(prov, dict) and isinstance(prov.get("workflow"), str):
                wf = Path(prov["workflow"]).expanduser()
                prov["workflow"] = str(wf if wf.is_absolute() else (f.parent / wf).resolve())
        data = _merge(data, raw)
    sources = [str(f) for f in files]
    try:
        settings = Settings.model_validate({**data, "sources": tuple(sources), "base_url_files": base_url_files})
    except ValidationError as exc:
        raise _explain(exc, sources) from None
    for name in KEY_ENV:
        var = f"SHOTFILL_{name.upper()}_BASE_URL"
        if env.get(var):
            try:
                check_base_url(env[var])
            except ValueError as exc:
                raise ConfigError(f"{var} (environment): {exc}", hint=f"fix or unset {var}") from None
    settings.register_secrets(env)
    return settings


#: environment settings that are not a provider's: tool and font paths, where Resolve media goes,
#: and the platform folders the Resolve launchers install into
EnvSetting = Literal["SHOTFILL_FFMPEG", "SHOTFILL_FFPROBE", "SHOTFILL_FONT", "SHOTFILL_RESOLVE_MEDIA",
                     "APPDATA", "PROGRAMDATA"]


def environment_setting(name: EnvSetting, environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """One of the process-wide settings above, or None when unset or empty (this module reads the environment)."""
    value = (os.environ if environ is None else environ).get(name)
    return value or None
