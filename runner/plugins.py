"""The plugin manager: built-in plugins, entry-point plugins, and which of them load.

Built-in features are plugins too (`DEFAULT_PLUGINS`). Third-party plugins declare an entry point
in the `sievefile` group. `SIEVEFILE_LOAD_PLUGINS`, a comma-separated allow-list of plugin names
(built-in module names such as `plugins.media`, or entry-point names), limits what loads; set to
an empty string it loads none.

`call_hook(manager, name, **arguments)` calls a lifecycle hook so that one plugin that raises
is reported (`HookProblem`, with the plugin's name) without stopping the others or the run.
`sink_kinds(manager)` and `notifier_kinds(manager)` collect what `register_sinks` and
`register_notifiers` offer.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

import pluggy

from runner import hookspecs
from runner.errors import ConfigError
from runner.hooktypes import NotifierKind, SinkKind

ENTRY_POINT_GROUP = "sievefile"
ALLOW_LIST_ENV = "SIEVEFILE_LOAD_PLUGINS"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.local_functions",
    "plugins.media",
    "plugins.local_sink",
    "plugins.s3",
    "plugins.webhook",
    "plugins.slack",
    "plugins.email",
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


@dataclass(frozen=True)
class HookProblem:
    """A hook implementation that raised: which plugin, which hook, what it said."""

    plugin: str
    hook: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} failed in {self.hook}: {self.error}"


def call_hook(manager: pluggy.PluginManager, name: str, **arguments: Any) -> list[HookProblem]:
    """Call every implementation of hook `name`, each with the subset of `arguments` it takes.

    An implementation that raises does not stop the others: its error comes back as a
    HookProblem naming its plugin (the caller reports it). Returns the problems, in call order.
    """
    problems: list[HookProblem] = []
    caller = getattr(manager.hook, name)
    # pluggy calls the last registered first; keep that order
    for implementation in reversed(caller.get_hookimpls()):
        try:
            implementation.function(*(arguments[arg] for arg in implementation.argnames))
        except Exception as error:  # a plugin's bug must not stop the run
            plugin = manager.get_name(implementation.plugin) or implementation.plugin_name
            problems.append(HookProblem(str(plugin), name, f"{type(error).__name__}: {error}"))
    return problems


def _collect(manager: pluggy.PluginManager, hook: str) -> dict[str, tuple[Any, str]]:
    found: dict[str, tuple[Any, str]] = {}

    for implementation in reversed(getattr(manager.hook, hook).get_hookimpls()):
        plugin = str(manager.get_name(implementation.plugin) or implementation.plugin_name)

        def register(kind: Any, plugin: str = plugin) -> None:
            if kind.name in found:
                raise ConfigError(
                    f"{hook}: {kind.name!r} is registered by both plugin {found[kind.name][1]!r} "
                    f"and plugin {plugin!r}"
                )
            found[kind.name] = (kind, plugin)

        implementation.function(*({"register": register}[arg] for arg in implementation.argnames))
    return found


def sink_kinds(manager: pluggy.PluginManager) -> dict[str, tuple[SinkKind, str]]:
    """Every registered sink kind by name, with the name of the plugin that registered it."""
    return _collect(manager, "register_sinks")


def notifier_kinds(manager: pluggy.PluginManager) -> dict[str, tuple[NotifierKind, str]]:
    """Every registered notifier kind by name, with the name of the plugin that registered it."""
    return _collect(manager, "register_notifiers")
