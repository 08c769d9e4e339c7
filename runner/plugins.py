"""The plugin manager: built-in plugins, entry-point plugins, and which of them load.

Built-in features are plugins too (`DEFAULT_PLUGINS`). Third-party plugins declare an entry point
in the `sievefile` group. `SIEVEFILE_LOAD_PLUGINS`, a comma-separated allow-list of plugin names
(built-in module names such as `plugins.media`, or entry-point names), limits what loads; set to
an empty string it loads none.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import entry_points

import pluggy

from runner import hookspecs

ENTRY_POINT_GROUP = "sievefile"
ALLOW_LIST_ENV = "SIEVEFILE_LOAD_PLUGINS"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.local_functions",
    "plugins.media",
)


def _allowed_names() -> set[str] | None:
    raw = os.environ.get(ALLOW_LIST_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def build_plugin_manager(
    builtins: Iterable[str] = DEFAULT_PLUGINS, *, load_entry_points: bool = True
) -> pluggy.PluginManager:
    """A fresh plugin manager with the allowed built-in and installed plugins registered."""
    manager = pluggy.PluginManager("sievefile")
    manager.add_hookspecs(hookspecs)
    allowed = _allowed_names()
    for module_name in builtins:
        if allowed is None or module_name in allowed:
            manager.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if allowed is not None and entry_point.name not in allowed:
                continue
            if manager.get_plugin(entry_point.name) is None:
                manager.register(entry_point.load(), name=entry_point.name)
    return manager


@lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    return build_plugin_manager()
