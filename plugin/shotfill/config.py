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
``SecretStr``: printing a settings object never shows them.

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

import io
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from shotfill.bounded import MAX_CONFIG_BYTES, read_bytes
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


class ProviderSettings(_Strict):
    model: Optional[str] = None
    base_url: Optional[str] = None
    api_key: Optional[SecretStr] = None
    concurrency: int = Field(default=2, ge=1, le=64)
    #: price in the account's currency per second of generated video, for estimates and budgets
    price_per_second: Optional[float] = Field(default=None, ge=0)
    #: seconds between polls when the service gives no hint
    poll_interval: float = Field(default=5.0, gt=0, le=600)
    #: give up on a job after this many seconds
    timeout: float = Field(default=1800.0, gt=0)
    #: largest download accepted, in MB
    max_download_mb: int = Field(default=2048, ge=1)
    # ComfyUI only
    workflow: Optional[Path] = None
    inputs: Optional[ComfyInputs] = None
    #: fal / replicate: the request-body field names of the chosen model
    fields: Optional[dict[str, str]] = None
    #: fal / replicate / openai: durations (seconds) the chosen model allows
    durations: Optional[list[int]] = None
    #: extra input fields sent as they are (model-specific knobs)
    extra: Optional[dict[str, Any]] = None


class Settings(_Strict):
    default_provider: str = "local"
    concurrency: int = Field(default=4, ge=1, le=256)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    #: the files these settings came from (for messages)
    sources: tuple[str, ...] = ()

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
            return env[var]
        key = self.provider(name).api_key
        return key.get_secret_value() if key is not None else None

    def base_url(self, name: str, default: str, environ: Optional[Mapping[str, str]] = None) -> str:
        env = os.environ if environ is None else environ
        return (env.get(f"SHOTFILL_{name.upper()}_BASE_URL") or self.provider(name).base_url or default).rstrip("/")


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
    try:
        return tomllib.load(io.BytesIO(data))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", hint="fix the syntax at that line") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


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
    for f in files:
        raw = _read_toml(f)
        # A relative workflow path means relative to the file that names it.
        for prov in (raw.get("providers") or {}).values():
            if isinstance(prov, dict) and isinstance(prov.get("workflow"), str):
                wf = Path(prov["workflow"]).expanduser()
                prov["workflow"] = str(wf if wf.is_absolute() else (f.parent / wf).resolve())
        data = _merge(data, raw)
    sources = [str(f) for f in files]
    try:
        return Settings.model_validate({**data, "sources": tuple(sources)})
    except ValidationError as exc:
        raise _explain(exc, sources) from None
