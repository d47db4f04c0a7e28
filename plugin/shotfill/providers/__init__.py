"""Video generation providers.  ``get_provider(name, ctx)`` returns one by name."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Optional

from shotfill.config import KEY_ENV, Settings
from shotfill.errors import ConfigError, UsageError

# The clients (their HTTP stack, journal, media checks) are imported when a provider is asked
# for by name: the scan's notes and plans need the names and one provider's plan, no more.
if TYPE_CHECKING:
    from shotfill.providers.base import Provider, ProviderContext
from shotfill.system.secrets import redact_url, url_secrets

#: name -> "module:Class"; imported only when asked for
_REGISTRY = {
    "local": "shotfill.providers.local:LocalProvider",
    "openai": "shotfill.providers.openai:OpenAIProvider",
    "luma": "shotfill.providers.luma:LumaProvider",
    "runway": "shotfill.providers.runway:RunwayProvider",
    "veo": "shotfill.providers.veo:VeoProvider",
    "comfyui": "shotfill.providers.comfyui:ComfyUIProvider",
    "fal": "shotfill.providers.fal:FalProvider",
    "replicate": "shotfill.providers.replicate:ReplicateProvider",
}


def provider_names() -> list[str]:
    return sorted(_REGISTRY)


def provider_class(name: str) -> type:
    target = _REGISTRY.get(name.lower())
    if target is None:
        raise UsageError(f"unknown provider '{name}'",
                         hint="choose one of: " + ", ".join(provider_names()))
    module_name, cls_name = target.split(":")
    return getattr(importlib.import_module(module_name), cls_name)


def get_provider(name: str, ctx: Optional[ProviderContext] = None) -> Provider:
    return provider_class(name)(ctx)


def provider_endpoint(settings, name: str) -> dict:
    """Where a provider's requests go and who said so, fit to show (URL credentials redacted).

    ``base_url_source`` is ``$SHOTFILL_<NAME>_BASE_URL``, the shotfill.toml that set it, or
    ``built-in default``; ``refused`` says why the key would not be sent there (plain http to
    another machine), else None.  The offline generator has no endpoint: all three are None.
    """
    default = getattr(provider_class(name), "default_base_url", "")
    url, where = settings.base_url_with_source(name, default)
    if not url:
        return {"base_url": None, "base_url_source": None, "refused": None}
    refused = None
    if (KEY_ENV.get(name) and settings.api_key(name)) or url_secrets(url):
        try:
            from shotfill.providers._http import require_secure   # httpx: only with a key to send
            require_secure(name, url, where)
        except ConfigError as exc:
            refused = exc.message
    return {"base_url": redact_url(url), "base_url_source": where, "refused": refused}


def describe_providers(settings: Settings) -> list[dict[str, Any]]:
    """Each provider: configured or not (never the key itself), base URL, models and what they take."""
    from shotfill.providers import catalog   # the model catalog: only this listing needs it here
    rows = []
    for name in provider_names():
        cls = provider_class(name)
        env = KEY_ENV.get(name)
        has_key = bool(settings.api_key(name)) if env else True
        needs = f"set {env}" if env else ""
        if name == "comfyui":
            ps = settings.provider(name)
            has_key = ps.workflow is not None and ps.inputs is not None
            needs = "set workflow and inputs under [providers.comfyui]"
        ps = settings.provider(name)
        models = catalog.describe(name, ps, getattr(cls, "size_style", "size"))
        default = catalog.default_model(name, ps)
        if not models and name in ("local", "comfyui"):
            label = getattr(cls, "model", None) or "workflow"
            models.append({"name": label, "builtin": True, "durations": [], "sizes": [],
                           "first_frame": True, "last_frame": True, "seed": True, "negative": name == "comfyui",
                           "references": 0,
                           "price_per_second": 0.0 if name == "local" else ps.price_per_second})
            default = ps.model or label
        where = provider_endpoint(settings, name)
        rows.append({"name": name, "configured": has_key, "needs": needs, "key_env": env,
                     "base_url": where["base_url"] or "", "base_url_source": where["base_url_source"],
                     "refused": where["refused"],
                     "default_model": default, "models": models})
    return rows
