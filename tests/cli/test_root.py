"""The root command: help, version, error handling."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import runner
from runner.cli import COMMANDS, cli
from runner.errors import ConfigError, ManifestError, SourceLocation


def test_version_flag_prints_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sievefile, version {runner.__version__}"


def test_python_dash_m_runner_is_the_same_program() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "runner", "--version"], capture_output=True, text=True, check=True
    )
    assert runner.__version__ in completed.stdout


def test_help_lists_every_command_with_a_one_line_description() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Run declarative job manifests" in result.output
    for name in COMMANDS:
        line = next(
            (text for text in result.output.splitlines() if text.split()[:1] == [name]), None
        )
        assert line is not None, f"{name} missing from --help"
        assert len(line.split(maxsplit=1)) == 2, f"{name} has no description in --help"


def test_lazy_commands_resolve_to_click_commands() -> None:
    ctx = click.Context(cli)
    for name in COMMANDS:
        assert isinstance(cli.get_command(ctx, name), click.Command)


def _failing_command(error: Exception) -> click.Command:
    @click.command()
    def boom() -> None:
        raise error

    return boom


@pytest.fixture
def with_command():
    added: list[str] = []

    def add(name: str, command: click.Command) -> None:
        cli.add_command(command, name)
        added.append(name)

    yield add
    for name in added:
        cli.commands.pop(name)


def test_sievefile_error_prints_message_without_traceback(with_command) -> None:
    error = ManifestError(
        "unknown key 'fucntion'", location=SourceLocation("m.toml", 3, 1), job="fetch"
    )
    with_command("boom", _failing_command(error))
    result = CliRunner().invoke(cli, ["boom"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: m.toml:3:1: job 'fetch': unknown key 'fucntion'"
    assert "Traceback" not in result.output


def test_config_error_exits_with_usage_code(with_command) -> None:
    with_command("boom", _failing_command(ConfigError("--local and --api-url conflict")))
    result = CliRunner().invoke(cli, ["boom"])
    assert result.exit_code == 2
    assert "error: --local and --api-url conflict" in result.output


def test_debug_flag_shows_the_traceback(with_command) -> None:
    with_command("boom", _failing_command(ConfigError("bad")))
    result = CliRunner().invoke(cli, ["--debug", "boom"])
    assert result.exit_code == 2
    assert "Traceback" in result.output


def test_keyboard_interrupt_exits_130(with_command) -> None:
    with_command("boom", _failing_command(KeyboardInterrupt()))
    result = CliRunner().invoke(cli, ["boom"])
    assert result.exit_code == 130


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("valdate", "no command 'valdate' (did you mean 'validate'?)"),
        ("xyzzy", "no command 'xyzzy'"),
    ],
)
def test_a_misspelled_command_is_a_usage_error_with_a_suggestion(typed: str, expected: str) -> None:
    result = CliRunner().invoke(cli, [typed, "m.toml"])
    assert result.exit_code == 2
    assert f"Error: {expected}\n" in result.output
    assert "Traceback" not in result.output
