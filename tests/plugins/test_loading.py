"""Which plugins load, from where, and what happens to the ones that cannot.

Entry-point plugins here are real distributions on disk (see `install_distribution` in
conftest.py), found by `importlib.metadata` like any installed package.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import click
import pluggy
import pytest
from click.testing import CliRunner

import runner
from runner import (
    ConfigError,
    NotifierKind,
    RegisterFunction,
    RegisterNotifier,
    RegisterSink,
    RunInfo,
    RunResult,
    SinkKind,
    hookimpl,
)
from runner.cli import cli
from runner.local.registry import build_registry
from runner.plugins import (
    ALLOW_LIST_ENV,
    BUILTIN_SOURCE,
    DEFAULT_PLUGINS,
    DISABLE_LIST_ENV,
    HookProblem,
    LoadProblem,
    PluginInfo,
    _may_declare_entry_points,
    build_plugin_manager,
    call_hook,
    load_problems,
    notifier_kinds,
    plugin_commands,
    plugin_report,
    set_problem_reporter,
    sink_kinds,
)
from tests.support.distributions import InstallDistribution

SINK_PLUGIN = """
    from runner import SinkKind, hookimpl

    class Nowhere:
        def deliver(self, delivery):
            return "nowhere"

    @hookimpl
    def register_sinks(register):
        register(SinkKind("acme", {"type": "object"}, lambda config, context: Nowhere(),
                          description="Sends outputs nowhere."))

    @hookimpl
    def run_finished():
        pass
"""
FINE_PLUGIN = """
    from runner import hookimpl

    @hookimpl
    def job_finished(job):
        pass
"""


def _names(manager: pluggy.PluginManager) -> list[str]:
    return [name for name, _ in manager.list_name_plugin()]


def test_entry_point_plugins_load_with_their_distribution(
    install_distribution: InstallDistribution,
) -> None:
    install_distribution("acme-sievefile", "2.1.0", {"acme": SINK_PLUGIN})
    manager = build_plugin_manager()
    assert _names(manager)[-1] == "acme"
    assert sink_kinds(manager)["acme"][1] == "acme"
    report = plugin_report(manager)
    assert report.plugins[-1] == PluginInfo(
        name="acme",
        version="2.1.0",
        source="acme-sievefile",
        hooks=("register_sinks", "run_finished"),
        sinks=("acme",),
    )
    builtin = report.plugins[0]
    assert (builtin.name, builtin.version, builtin.source) == (
        "plugins.local_functions",
        runner.__version__,
        BUILTIN_SOURCE,
    )
    acme_kinds = [kind for kind in report.sinks if kind.plugin == "acme"]
    assert [(kind.name, kind.description) for kind in acme_kinds] == [
        ("acme", "Sends outputs nowhere.")
    ]
    assert report.problems == ()


def test_the_disable_list_applies_to_builtins_and_entry_points(
    install_distribution: InstallDistribution, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = install_distribution("acme-sievefile", "2.1.0", {"acme": SINK_PLUGIN})
    install_distribution("other", "1.0", {"other": FINE_PLUGIN})
    monkeypatch.setenv(DISABLE_LIST_ENV, " plugins.media,acme ,")
    manager = build_plugin_manager()
    builtins = [name for name in DEFAULT_PLUGINS if name != "plugins.media"]
    assert _names(manager) == [*builtins, "other"]
    assert modules["acme"] not in sys.modules, "a disabled plugin is not even imported"
    # the disable list wins over the allow list
    monkeypatch.setenv(ALLOW_LIST_ENV, "acme,other")
    assert _names(build_plugin_manager()) == ["other"]


def test_the_allow_list_applies_to_entry_points(
    install_distribution: InstallDistribution, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution("acme-sievefile", "2.1.0", {"acme": SINK_PLUGIN})
    install_distribution("other", "1.0", {"other": FINE_PLUGIN})
    monkeypatch.setenv(ALLOW_LIST_ENV, "acme")
    assert _names(build_plugin_manager()) == ["acme"]


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(
    install_distribution: InstallDistribution,
) -> None:
    install_distribution(
        "shaky",
        "0.1",
        {
            "broken": "raise ImportError('sievefile-broken needs libfoo')\n",
            "fine": FINE_PLUGIN,
            "crashing": "1 / 0\n",
        },
    )
    reported: list[LoadProblem] = []
    previous = set_problem_reporter(reported.append)
    try:
        manager = build_plugin_manager()
    finally:
        set_problem_reporter(previous)
    assert "fine" in _names(manager)
    assert "broken" not in _names(manager)
    expected = [
        LoadProblem("broken", "ImportError: sievefile-broken needs libfoo"),
        LoadProblem("crashing", "ZeroDivisionError: division by zero"),
    ]
    assert load_problems(manager) == expected
    assert reported == expected
    assert str(expected[0]) == (
        "plugin 'broken' could not be loaded: ImportError: sievefile-broken needs libfoo"
    )
    assert plugin_report(manager).problems == tuple(expected)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            "from runner import hookimpl\n\n@hookimpl\ndef job_finishd(job):\n    pass\n",
            "PluginValidationError: unknown hook 'job_finishd' (did you mean "
            "'job_finished', 'run_finished' or 'job_pushed'?)",
        ),
        (
            "from runner import hookimpl\n\n@hookimpl\ndef run_finished(results):\n    pass\n",
            "PluginValidationError: Plugin 'invalid' for hook 'run_finished'; hookimpl "
            "definition: run_finished(results); Argument(s) {'results'} are declared in the "
            "hookimpl but can not be found in the hookspec",
        ),
    ],
    ids=["unknown-hook", "unknown-argument"],
)
def test_a_plugin_that_pluggy_refuses_is_reported_and_skipped(
    install_distribution: InstallDistribution, source: str, error: str
) -> None:
    install_distribution("invalid-plugin", "1.0", {"invalid": source, "fine": FINE_PLUGIN})
    manager = build_plugin_manager()
    assert load_problems(manager) == [LoadProblem("invalid", error)]
    assert "invalid" not in _names(manager)
    assert "fine" in _names(manager)
    assert [impl.plugin_name for impl in manager.hook.run_finished.get_hookimpls()] == []


def test_a_second_plugin_with_a_taken_name_is_reported(
    install_distribution: InstallDistribution,
) -> None:
    install_distribution("first-dist", "1.0", {"same": FINE_PLUGIN})
    install_distribution("second-dist", "1.0", {"same": SINK_PLUGIN})
    manager = build_plugin_manager(())
    assert _names(manager) == ["same"]
    (problem,) = load_problems(manager)
    assert problem.plugin == "same"
    assert "already taken by a plugin from" in problem.error


def _plugin(**hooks: object) -> object:
    """A plugin object with the given hook implementations."""
    return type("Plugin", (), {name: staticmethod(hookimpl(f)) for name, f in hooks.items()})()


def test_a_kind_registered_twice_is_an_error_naming_both_plugins() -> None:
    def sinks(register: RegisterSink) -> None:
        register(SinkKind("dup", {}, lambda config, context: None))

    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(_plugin(register_sinks=sinks), name="one")
    manager.register(_plugin(register_sinks=sinks), name="two")
    with pytest.raises(
        ConfigError, match="'dup' is registered by both plugin 'one' and plugin 'two'"
    ):
        sink_kinds(manager)
    # `sievefile plugins` still lists everything, with the clash as a problem
    report = plugin_report(manager)
    assert [kind.plugin for kind in report.sinks] == ["one"]
    assert [problem.plugin for problem in report.problems] == ["two"]


def test_a_raising_registration_is_reported_and_only_its_kinds_are_skipped() -> None:
    def fine(register: RegisterNotifier) -> None:
        register(NotifierKind("fine", {}, lambda config, context: None))

    def broken(register: RegisterNotifier) -> None:
        register(NotifierKind("half", {}, lambda config, context: None))
        raise RuntimeError("no notifier for you")

    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(_plugin(register_notifiers=fine), name="fine")
    manager.register(_plugin(register_notifiers=broken), name="broken")
    assert list(notifier_kinds(manager)) == ["fine"]
    assert load_problems(manager) == [
        LoadProblem("broken", "RuntimeError: no notifier for you", "failed in register_notifiers")
    ]


def test_a_raising_function_registration_is_reported_and_only_its_functions_are_skipped() -> None:
    # It used to be called without a guard: any run or `sievefile serve` ended in a traceback.
    def fine(register: RegisterFunction) -> None:
        register(lambda text: text, name="fine/echo")

    def broken(register: RegisterFunction) -> None:
        register(lambda text: text, name="broken/half")
        raise RuntimeError("no function for you")

    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(_plugin(register_functions=fine), name="fine")
    manager.register(_plugin(register_functions=broken), name="broken")
    assert build_registry(manager).names() == ["fine/echo"]
    assert load_problems(manager) == [
        LoadProblem("broken", "RuntimeError: no function for you", "failed in register_functions")
    ]


def test_a_function_name_taken_by_another_plugin_is_still_an_error() -> None:
    def echo(register: RegisterFunction) -> None:
        register(lambda text: text, name="same/echo")

    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(_plugin(register_functions=echo), name="one")
    manager.register(_plugin(register_functions=echo), name="two")
    with pytest.raises(ConfigError, match="'same/echo' is registered twice"):
        build_registry(manager)


def test_call_hook_isolates_a_raising_plugin() -> None:
    calls: list[str] = []

    def good_finished(summary: RunResult) -> None:
        calls.append(f"good {summary.status}")

    def bad_finished() -> None:
        raise RuntimeError("boom")

    def last_finished(run: RunInfo, summary: RunResult) -> None:
        calls.append(f"last {run.name}")

    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(_plugin(run_finished=good_finished), name="good")
    manager.register(_plugin(run_finished=bad_finished), name="bad")
    manager.register(_plugin(run_finished=last_finished), name="last")
    run = RunInfo(None, Path("m.toml"), "demo", "embedded", 0.0)
    problems = call_hook(manager, "run_finished", run=run, summary=RunResult("finished", (), 1.0))
    # pluggy's order: the last registered first
    assert calls == ["last demo", "good finished"]
    assert problems == [HookProblem("bad", "run_finished", "RuntimeError: boom")]
    assert str(problems[0]) == "plugin 'bad' failed in run_finished: RuntimeError: boom"


def test_plugin_commands_built_in_names_win_and_a_raising_plugin_adds_nothing() -> None:
    def first(cli: click.Group) -> None:
        @cli.command(name="run")
        def run() -> None:
            """Shadow the built-in."""

        @cli.command(name="hello")
        def hello() -> None:
            """Say hello."""

    def second(cli: click.Group) -> None:
        cli.add_command(click.Command("hello"))

    def broken(cli: click.Group) -> None:
        cli.add_command(click.Command("half"))
        raise RuntimeError("no commands")

    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(_plugin(register_commands=first), name="first")
    manager.register(_plugin(register_commands=second), name="second")
    manager.register(_plugin(register_commands=broken), name="broken")
    commands = plugin_commands(manager, taken={"run"})
    assert {name: plugin for name, (_, plugin) in commands.items()} == {"hello": "first"}
    assert [str(problem) for problem in load_problems(manager)] == [
        "plugin 'first' command 'run' was not added: sievefile already has it",
        "plugin 'second' command 'hello' was not added: plugin 'first' already has it",
        "plugin 'broken' failed in register_commands: RuntimeError: no commands",
    ]


def test_the_quick_entry_point_check_agrees_with_importlib_metadata(
    install_distribution: InstallDistribution,
) -> None:
    # `sievefile --help` skips importing importlib.metadata when no distribution declares a
    # `sievefile` entry point; it must never miss one
    from importlib.metadata import entry_points

    assert _may_declare_entry_points() == bool(entry_points(group="sievefile"))
    install_distribution("acme-sievefile", "2.1.0", {"acme": FINE_PLUGIN})
    assert _may_declare_entry_points()
    assert [entry.name for entry in entry_points(group="sievefile")] == ["acme"]


def test_the_quick_entry_point_check_is_conservative_about_zips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("acme-1.0.dist-info/entry_points.txt", "[sievefile]\nacme = acme\n")
    monkeypatch.syspath_prepend(str(archive))
    assert _may_declare_entry_points()


def test_register_commands_adds_a_command(install_distribution: InstallDistribution) -> None:
    install_distribution(
        "hello-dist",
        "1.0",
        {
            "hello": """
                import click
                from runner import hookimpl

                @hookimpl
                def register_commands(cli):
                    @cli.command(name="hello")
                    @click.option("--name", default="world")
                    def hello(name):
                        '''Say hello.'''
                        click.echo(f"hello {name}")
            """
        },
    )
    lines = CliRunner().invoke(cli, ["--help"]).stdout.splitlines()
    assert any(line.split()[:3] == ["hello", "Say", "hello."] for line in lines)
    result = CliRunner().invoke(cli, ["hello", "--name", "plugins"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "hello plugins\n", "")
