"""Run the Lua launcher under lupa against the fake Resolve.

Resolve's Lua objects are called with ``obj:Method(args)``; lupa hands that to
Python as ``getattr(obj, "Method")(obj, args)``.  :class:`LuaProxy` drops the
repeated ``obj``, turns Lua tables into lists and dicts on the way in, and
lists, dicts and fake objects into Lua tables and proxies on the way out,
the way Resolve's own bridge does.
"""

from __future__ import annotations

from typing import Any


def lua_runtime():
    """LuaJIT, as in Resolve (lupa's Lua 5.1 build has no io.popen), or None without lupa."""
    try:
        from lupa import luajit21 as lua
    except ImportError:
        return None
    return lua.LuaRuntime(unpack_returned_tuples=True)


class LuaProxy:
    def __init__(self, lua, obj: Any) -> None:
        object.__setattr__(self, "_lua", lua)
        object.__setattr__(self, "_obj", obj)

    def __getattr__(self, name: str):
        target = getattr(self._obj, name)
        if not callable(target):
            return to_lua(self._lua, target)

        def method(*args):
            if args and args[0] is self:
                args = args[1:]
            return to_lua(self._lua, target(*[from_lua(a) for a in args]))
        return method


def to_lua(lua, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return lua.table_from([to_lua(lua, v) for v in value])
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items()})
    return LuaProxy(lua, value)


def from_lua(value: Any) -> Any:
    from lupa import luajit21

    if isinstance(value, LuaProxy):
        return object.__getattribute__(value, "_obj")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if luajit21.lua_type(value) == "table":
        items = {k: from_lua(v) for k, v in value.items()}
        keys = list(items)
        if keys and all(isinstance(k, (int, float)) for k in keys) and \
                sorted(int(k) for k in keys) == list(range(1, len(keys) + 1)):
            return [items[k] for k in sorted(keys)]
        return {(int(k) if isinstance(k, float) and k.is_integer() else k): v for k, v in items.items()}
    return value
