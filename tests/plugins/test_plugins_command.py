"""`sievefile plugins` and plugin commands in the CLI (in-process, with real distributions)."""

from __future__ import annotations

import json

from click.testing import CliRunner

import runner
from runner.cli import cli
from runner.plugins import DEFAULT_PLUGINS, get_plugin_manager
from tests.support.distributions import InstallDistribution

GREETER = """
    import click
    from runner import hookimpl

    @hookimpl
    def register_commands(cli):
        @cli.command()
        @click.argument("who")
        def greet(who):
            '''Greet someone.'''
            click.echo(f"hello {who}")

        @cli.command()
        def run():
            '''Try to replace the built-in run.'''
            click.echo("not the real run")
"""


def test_plugins_lists_the_builtins_as_a_table() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "plugins"
    assert lines[1].split() == [
        "name",
        "version",
        "source",
        "hooks",
        "sinks",
        "notifiers",
        "commands",
    ]
    rows = {line.split()[0]: line.split() for line in lines[2:] if line.startswith("plugins.")}
    for name in DEFAULT_PLUGINS:
        assert rows[name][1:3] == [runner.__version__, "built-in"]
    assert "problems" not in lines
    assert result.stderr == ""


def test_plugins_json_is_one_document_with_the_builtins() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"plugins", "sinks", "notifiers", "problems"}
    plugins = {plugin["name"]: plugin for plugin in document["plugins"]}
    assert set(DEFAULT_PLUGINS) <= set(plugins)
    assert plugins["plugins.media"] == {
        "name": "plugins.media",
        "version": runner.__version__,
        "source": "built-in",
        "hooks": ["register_functions"],
        "sinks": [],
        "notifiers": [],
        "commands": [],
    }
    assert document["problems"] == []
    for kind in document["sinks"] + document["notifiers"]:
        assert set(kind) == {"name", "plugin", "description"}
        assert kind["plugin"] in plugins


def test_plugin_commands_join_the_cli_and_problems_are_warned_once(
    install_distribution: InstallDistribution,
) -> None:
    install_distribution(
        "greeter-dist",
        "1.2",
        {"greeter": GREETER, "broken": "import sievefile_test_not_installed\n"},
    )
    help_result = CliRunner().invoke(cli, ["--help"])
    assert help_result.exit_code == 0
    assert any(line.split()[:2] == ["greet", "Greet"] for line in help_result.stdout.splitlines())
    assert help_result.stderr.splitlines() == [
        "warning: plugin 'broken' could not be loaded: ModuleNotFoundError: No module named "
        "'sievefile_test_not_installed'",
        "warning: plugin 'greeter' command 'run' was not added: sievefile already has it",
    ]

    greeted = CliRunner().invoke(cli, ["greet", "you"])
    assert (greeted.exit_code, greeted.stdout) == (0, "hello you\n")
    # the built-in wins: `run` is sievefile's (its usage error, not the plugin's echo)
    shadowed = CliRunner().invoke(cli, ["run"])
    assert "not the real run" not in shadowed.output
    assert shadowed.exit_code == 2

    cli.forget_plugin_commands()  # as in a new process
    get_plugin_manager.cache_clear()
    listed = CliRunner().invoke(cli, ["plugins", "--json"])
    document = json.loads(listed.stdout)
    greeter = next(plugin for plugin in document["plugins"] if plugin["name"] == "greeter")
    assert greeter["commands"] == ["greet"]
    assert (greeter["source"], greeter["version"]) == ("greeter-dist", "1.2")
    assert [problem["plugin"] for problem in document["problems"]] == ["broken", "greeter"]
    # `plugins` met the broken plugin twice (loading the commands, then every plugin): one
    # warning each
    assert listed.stderr == help_result.stderr
