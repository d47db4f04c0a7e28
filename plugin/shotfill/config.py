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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from shotfill.system import secrets
from shotfill.system.bounded import MAX_CONFIG_BYTES, read_bytes
from shotfill.errors import ConfigError

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

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else check_base_url(v)


class Settings(_Strict):
    default_provider: str = "local"
    concurrency: int = Field(default=4, ge=1, le=256)
    #: bring each clip's look toward its neighbours: "on", "off", or unset (on unless the offline generator)
    match: Optional[Literal["on", "off"]] = None
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
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
