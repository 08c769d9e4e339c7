"""The plugin manager: built-in plugins, entry-point plugins, and which of them load.

Built-in features are plugins too (`DEFAULT_PLUGINS`). Third-party plugins declare an entry point
in the `sievefile` group. Two comma-separated lists of plugin names (built-in module names such as
`plugins.media`, or entry-point names) decide what loads: `SIEVEFILE_LOAD_PLUGINS`, when set,
loads only the plugins it names (set to an empty string it loads none), and
`SIEVEFILE_DISABLE_PLUGINS` never loads the plugins it names.

A plugin that cannot be imported or registered (an unknown hook name, a hook argument its hook
does not have) is skipped and kept as a `LoadProblem` on the manager (`load_problems(manager)`);
the others still load. Whoever shows problems to a user installs a reporter
(`set_problem_reporter`): the CLI prints each as a warning, once.

`call_hook(manager, name, **arguments)` calls a lifecycle hook so that one plugin that raises
is reported (`HookProblem`, with the plugin's name) without stopping the others or the run.
`sink_kinds(manager)` and `notifier_kinds(manager)` collect what `register_sinks` and
`register_notifiers` offer; `plugin_commands(manager, taken)` what `register_commands` adds;
`plugin_infos(manager)` describes every loaded plugin (what `sievefile plugins` lists).
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from runner import __version__, hookspecs
from runner.errors import ConfigError
from runner.hooktypes import NotifierKind, SinkKind

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    import click

ENTRY_POINT_GROUP = "sievefile"
ALLOW_LIST_ENV = "SIEVEFILE_LOAD_PLUGINS"
DISABLE_LIST_ENV = "SIEVEFILE_DISABLE_PLUGINS"
#: The `source` of a plugin sievefile ships (an entry-point plugin's is its distribution's name).
BUILTIN_SOURCE = "built-in"
#: The `source` of a plugin registered by code rather than loaded (tests, `serve --plugin`).
REGISTERED_SOURCE = "registered"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.local_functions",
    "plugins.media",
    "plugins.local_sink",
    "plugins.s3",
    "plugins.webhook",
    "plugins.slack",
    "plugins.email",
)


# -- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadProblem:
    """A plugin, or a part of one, that was skipped: which plugin, what happened, the error.

    `str(problem)` is one line, e.g. `plugin 'x' could not be loaded: ImportError: ...`.
    """

    plugin: str
    error: str
    what: str = "could not be loaded"

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} {self.what}: {self.error}"

    def to_json(self) -> dict[str, str]:
        return {"plugin": self.plugin, "error": self.error, "message": str(self)}


#: Called with each problem as it is found (the CLI prints a warning).
ProblemReporter = Callable[[LoadProblem], None]
_reporter: ProblemReporter | None = None


def set_problem_reporter(reporter: ProblemReporter | None) -> ProblemReporter | None:
    """Install `reporter` for the problems found from now on; returns the one it replaces."""
    global _reporter
    previous, _reporter = _reporter, reporter
    return previous


def describe_error(error: BaseException) -> str:
    """`Type: message` on one line (pluggy's validation messages span several)."""
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


# -- the manager ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginOrigin:
    """Where a loaded plugin came from: its version and `built-in` or its distribution."""

    version: str
    source: str


class SievefilePluginManager(pluggy.PluginManager):
    """A pluggy manager for the `sievefile` hooks that remembers where each plugin came from
    and which plugins could not be loaded."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, PluginOrigin] = {}
        self.problems: list[LoadProblem] = []


def load_problems(manager: pluggy.PluginManager) -> list[LoadProblem]:
    """The problems found while loading the manager's plugins or calling their registrations."""
    return list(manager.problems) if isinstance(manager, SievefilePluginManager) else []


def _report(manager: pluggy.PluginManager, problem: LoadProblem) -> None:
    if isinstance(manager, SievefilePluginManager):
        if problem in manager.problems:
            return
        manager.problems.append(problem)
    if _reporter is not None:
        _reporter(problem)


def _names_in(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _may_declare_entry_points() -> bool:
    """Whether an installed distribution may declare a `sievefile` entry point.

    A quick look at the `entry_points.txt` files on `sys.path`, which spares `sievefile --help`
    the import of `importlib.metadata` (about 20 ms) when no plugin is installed. It says True
    whenever it cannot tell: a zip file on `sys.path`, or an import hook with distributions of
    its own.
    """
    import importlib.machinery
    import sys

    for finder in sys.meta_path:
        if hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder:
            return True
    import re

    section = re.compile(rf"^\s*\[\s*{ENTRY_POINT_GROUP}\s*\]", re.MULTILINE)
    for entry in sys.path:
        folder = entry or "."
        if os.path.isfile(folder):
            return True
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(folder, name, "entry_points.txt"), encoding="utf-8") as file:
                    if section.search(file.read()):
                        return True
            except (OSError, UnicodeDecodeError):
                continue
    return False


def _sievefile_entry_points() -> Iterator[EntryPoint]:
    if not _may_declare_entry_points():
        return
    from importlib.metadata import entry_points

    yield from entry_points(group=ENTRY_POINT_GROUP)


def _unknown_hooks(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    unknown = []
    for caller in manager.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        implementations = [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]
        if not all(impl.optionalhook for impl in implementations):
            unknown.append(caller.name)
    return unknown


def _load(
    manager: SievefilePluginManager,
    name: str,
    load: Callable[[], object],
    origin: PluginOrigin,
) -> None:
    """Import and register one plugin; a failure becomes a LoadProblem and the plugin is skipped."""
    try:
        plugin = load()
    except Exception as error:  # a plugin's bug must not stop sievefile
        _report(manager, LoadProblem(name, describe_error(error)))
        return
    try:
        manager.register(plugin, name=name)
    except Exception as error:  # pluggy's PluginValidationError, or a name or object taken
        _report(manager, LoadProblem(name, describe_error(error)))
        return
    unknown = _unknown_hooks(manager, plugin)
    if unknown:
        manager.unregister(plugin, name=name)
        from runner.suggest import did_you_mean

        hints = "; ".join(f"{hook!r}{did_you_mean(hook, hookspecs.HOOK_NAMES)}" for hook in unknown)
        invalid = pluggy.PluginValidationError(plugin, f"unknown hook {hints}")
        _report(manager, LoadProblem(name, describe_error(invalid)))
        return
    manager.origins[name] = origin


def _entry_point_origin(entry_point: EntryPoint) -> PluginOrigin:
    distribution = entry_point.dist
    if distribution is None:
        return PluginOrigin("", "unknown distribution")
    return PluginOrigin(distribution.version, distribution.name)


def build_plugin_manager(
    builtins: Iterable[str] = DEFAULT_PLUGINS, *, load_entry_points: bool = True
) -> SievefilePluginManager:
    """A fresh plugin manager with the allowed built-in and installed plugins registered.

    Plugins that fail to load are skipped and kept in `load_problems(manager)`.
    """
    manager = SievefilePluginManager()
    allowed = _names_in(ALLOW_LIST_ENV)
    disabled = _names_in(DISABLE_LIST_ENV) or set()

    def wanted(name: str) -> bool:
        return (allowed is None or name in allowed) and name not in disabled

    builtin_origin = PluginOrigin(__version__, BUILTIN_SOURCE)
    for module_name in builtins:
        if wanted(module_name):
            load = functools.partial(importlib.import_module, module_name)
            _load(manager, module_name, load, builtin_origin)
    if load_entry_points:
        for entry_point in _sievefile_entry_points():
            if not wanted(entry_point.name):
                continue
            origin = _entry_point_origin(entry_point)
            if entry_point.name in manager.origins:
                taken = manager.origins[entry_point.name].source
                _report(
                    manager,
                    LoadProblem(
                        entry_point.name,
                        f"the name is already taken by a plugin from {taken}",
                        what=f"from {origin.source} was not loaded",
                    ),
                )
                continue
            _load(manager, entry_point.name, entry_point.load, origin)
    return manager


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> SievefilePluginManager:
    """The process-wide plugin manager, built on first use."""
    return build_plugin_manager()


def _plugin_name(manager: pluggy.PluginManager, implementation: pluggy.HookImpl) -> str:
    return str(manager.get_name(implementation.plugin) or implementation.plugin_name)


# -- calling hooks ----------------------------------------------------------------------------


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
            problems.append(
                HookProblem(_plugin_name(manager, implementation), name, describe_error(error))
            )
    return problems


# -- what plugins register ----------------------------------------------------------------------


def _collect(
    manager: pluggy.PluginManager, hook: str, *, duplicates: list[LoadProblem] | None = None
) -> dict[str, tuple[Any, str]]:
    """Call `hook` (`register_sinks` or `register_notifiers`) of every plugin, in the order
    the plugins were registered (built-ins first).

    A plugin whose registration raises is reported and its kinds skipped. A name registered
    twice is a ConfigError naming both plugins, or, given `duplicates`, kept there (the first
    registration wins).
    """
    found: dict[str, tuple[Any, str]] = {}
    for implementation in getattr(manager.hook, hook).get_hookimpls():
        plugin = _plugin_name(manager, implementation)
        mine: dict[str, tuple[Any, str]] = {}

        def register(kind: Any, plugin: str = plugin, mine: dict[str, Any] = mine) -> None:
            if kind.name in found or kind.name in mine:
                first = (found.get(kind.name) or mine[kind.name])[1]
                message = (
                    f"{hook}: {kind.name!r} is registered by both plugin {first!r} "
                    f"and plugin {plugin!r}; load only one (e.g. "
                    f"{DISABLE_LIST_ENV}={plugin})"
                )
                if duplicates is None:
                    raise ConfigError(message)
                duplicates.append(LoadProblem(plugin, message, what=f"failed in {hook}"))
                return
            mine[kind.name] = (kind, plugin)

        if call_registration(manager, implementation, hook, register):
            found.update(mine)
    return found


def call_registration(
    manager: pluggy.PluginManager,
    implementation: pluggy.HookImpl,
    hook: str,
    register: Callable[..., Any],
) -> bool:
    """Call one plugin's registration hook `hook` (`register_sinks`, ...) with `register`.

    Returns False when it raised: a plugin's bug is reported with its name and the caller skips
    what it registered, keeping the other plugins'. A ConfigError (a name taken twice, a
    function that cannot be described) propagates: the configuration is wrong, not the plugin.
    """
    try:
        implementation.function(*({"register": register}[arg] for arg in implementation.argnames))
    except ConfigError:
        raise
    except Exception as error:
        plugin = _plugin_name(manager, implementation)
        _report(manager, LoadProblem(plugin, describe_error(error), what=f"failed in {hook}"))
        return False
    return True


def sink_kinds(manager: pluggy.PluginManager) -> dict[str, tuple[SinkKind, str]]:
    """Every registered sink kind by name, with the name of the plugin that registered it."""
    return _collect(manager, "register_sinks")


def notifier_kinds(manager: pluggy.PluginManager) -> dict[str, tuple[NotifierKind, str]]:
    """Every registered notifier kind by name, with the name of the plugin that registered it."""
    return _collect(manager, "register_notifiers")


def plugin_commands(
    manager: pluggy.PluginManager, taken: Collection[str]
) -> dict[str, tuple[click.Command, str]]:
    """The commands plugins add with `register_commands`, by name, with their plugin's name.

    Plugins are called in the order they were registered, each with a group of its own to add
    to. A command whose name is in `taken` (the built-in commands) or that an earlier plugin
    added is not added and is reported; a plugin whose `register_commands` raises is reported
    and adds nothing.
    """
    import click

    commands: dict[str, tuple[click.Command, str]] = {}
    for implementation in manager.hook.register_commands.get_hookimpls():
        plugin = _plugin_name(manager, implementation)
        group = click.Group(ENTRY_POINT_GROUP)
        try:
            implementation.function(*({"cli": group}[arg] for arg in implementation.argnames))
        except Exception as error:  # a plugin's bug must not stop the CLI
            _report(
                manager,
                LoadProblem(plugin, describe_error(error), what="failed in register_commands"),
            )
            continue
        for name, command in group.commands.items():
            if name in taken or name in commands:
                owner = "sievefile" if name in taken else f"plugin {commands[name][1]!r}"
                _report(
                    manager,
                    LoadProblem(
                        plugin, f"{owner} already has it", what=f"command {name!r} was not added"
                    ),
                )
                continue
            commands[name] = (command, plugin)
    return commands


# -- describing what loaded ---------------------------------------------------------------------


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin as `sievefile plugins` lists it."""

    name: str
    version: str
    source: str
    hooks: tuple[str, ...]
    sinks: tuple[str, ...] = ()
    notifiers: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "hooks": list(self.hooks),
            "sinks": list(self.sinks),
            "notifiers": list(self.notifiers),
            "commands": list(self.commands),
        }


@dataclass(frozen=True)
class KindInfo:
    """A registered sink or notifier kind: its name, plugin and description."""

    name: str
    plugin: str
    description: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "plugin": self.plugin, "description": self.description}


@dataclass(frozen=True)
class PluginReport:
    """Everything `sievefile plugins` shows: the plugins, the kinds they offer, the problems."""

    plugins: tuple[PluginInfo, ...]
    sinks: tuple[KindInfo, ...] = ()
    notifiers: tuple[KindInfo, ...] = ()
    problems: tuple[LoadProblem, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "plugins": [plugin.to_json() for plugin in self.plugins],
            "sinks": [kind.to_json() for kind in self.sinks],
            "notifiers": [kind.to_json() for kind in self.notifiers],
            "problems": [problem.to_json() for problem in self.problems],
        }


def _hooks_of(manager: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    names = {caller.name for caller in manager.get_hookcallers(plugin) or []}
    return tuple(name for name in hookspecs.HOOK_NAMES if name in names)


def _kinds(found: dict[str, tuple[Any, str]]) -> tuple[KindInfo, ...]:
    return tuple(
        KindInfo(name, plugin, kind.description) for name, (kind, plugin) in sorted(found.items())
    )


def plugin_report(
    manager: pluggy.PluginManager,
    *,
    commands: Mapping[str, str] | None = None,
    problems: Iterable[LoadProblem] = (),
) -> PluginReport:
    """Describe every plugin of `manager` in registration order, and what they register.

    `commands` maps the commands plugins added (`plugin_commands`) to their plugin's name;
    `problems` are more problems to list (the CLI's, found with another manager). Unlike a run,
    a kind registered twice does not stop the report: it becomes a problem.
    """
    commands = commands or {}
    duplicates: list[LoadProblem] = []
    sinks = _collect(manager, "register_sinks", duplicates=duplicates)
    notifiers = _collect(manager, "register_notifiers", duplicates=duplicates)
    origins = manager.origins if isinstance(manager, SievefilePluginManager) else {}
    plugins = []
    for name, plugin in manager.list_name_plugin():
        if plugin is None:  # blocked
            continue
        origin = origins.get(name, PluginOrigin("", REGISTERED_SOURCE))
        plugins.append(
            PluginInfo(
                name=name,
                version=origin.version,
                source=origin.source,
                hooks=_hooks_of(manager, plugin),
                sinks=tuple(kind for kind, (_, owner) in sinks.items() if owner == name),
                notifiers=tuple(kind for kind, (_, owner) in notifiers.items() if owner == name),
                commands=tuple(sorted(c for c, owner in commands.items() if owner == name)),
            )
        )
    return PluginReport(
        plugins=tuple(plugins),
        sinks=_kinds(sinks),
        notifiers=_kinds(notifiers),
        problems=tuple(dict.fromkeys((*load_problems(manager), *problems, *duplicates))),
    )
