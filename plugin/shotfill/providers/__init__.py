"""Video generation providers.  ``get_provider(name)`` returns one by name."""

from __future__ import annotations

from shotfill.errors import UsageError
from shotfill.providers.base import Provider

#: name -> "module:Class"; imported only when asked for
_REGISTRY = {
    "local": "shotfill.providers.local:LocalProvider",
}


def provider_names() -> list[str]:
    return sorted(_REGISTRY)


def get_provider(name: str) -> Provider:
    target = _REGISTRY.get(name.lower())
    if target is None:
        raise UsageError(f"unknown provider '{name}'",
                         hint="choose one of: " + ", ".join(provider_names()))
    module_name, cls_name = target.split(":")
    import importlib

    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls()
