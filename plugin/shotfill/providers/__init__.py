"""Video generation providers.  ``get_provider(name, ctx)`` returns one by name."""

from __future__ import annotations

import importlib
from typing import Optional

from shotfill.errors import UsageError
from shotfill.providers.base import Provider, ProviderContext

#: name -> "module:Class"; imported only when asked for
_REGISTRY = {
    "local": "shotfill.providers.local:LocalProvider",
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
