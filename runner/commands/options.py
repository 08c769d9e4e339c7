"""Options shared by the commands that read a manifest (validate, plan, graph, run).

Each is a decorator, so `run` gets exactly the flags and help text `plan` has. This module
imports only click: the values are turned into library calls inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def vars_options(function: F) -> F:
    """`--var NAME=VALUE` (repeatable, JSON values allowed) and `--vars-file FILE`."""
    function = click.option(
        "--vars-file",
        "vars_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="A TOML (or .json) file of vars overriding [vars]; repeatable.",
    )(function)
    function = click.option(
        "--var",
        "var_options",
        multiple=True,
        metavar="NAME=VALUE",
        help="Override a [vars] value; VALUE is parsed as JSON when it can be. Repeatable.",
    )(function)
    return function


def env_check_option(function: F) -> F:
    """`--allow-missing-env`: do not require `${{ env.* }}` variables to be set."""
    return click.option(
        "--allow-missing-env",
        is_flag=True,
        help="Do not fail when an ${{ env.NAME }} variable is unset (e.g. checks in CI).",
    )(function)


def selection_options(function: F) -> F:
    """`--select` / `--exclude` with dbt-style `+job` (ancestors) and `job+` (descendants)."""
    function = click.option(
        "--exclude",
        "-x",
        multiple=True,
        metavar="SELECTOR",
        help="Leave out jobs matching SELECTOR (same forms as --select).",
    )(function)
    function = click.option(
        "--select",
        "-s",
        multiple=True,
        metavar="SELECTOR",
        help="Only these jobs: NAME, a glob, tag:NAME; +NAME adds what it needs, NAME+ what "
        "needs it. Repeatable; spaces or commas separate several.",
    )(function)
    return function


def backend_options(function: F) -> F:
    """`--api-url`, `--api-key`, `--local`: which Sieve API to talk to (see docs/backends.md)."""
    options = [
        click.option(
            "--api-url",
            metavar="URL",
            help="Sieve API base URL (default: $SIEVE_API_URL, else https://mango.sievedata.com "
            "when a key is configured).",
        ),
        click.option(
            "--api-key",
            metavar="KEY",
            help="Sieve API key (default: $SIEVE_API_KEY, else ~/.config/.sieve/config).",
        ),
        click.option("--local", is_flag=True, help="Use the embedded local backend (in-process)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


#: `--schemas-dir DIR`: the schema cache folder.
schemas_dir_option = click.option(
    "--schemas-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="The schema cache folder (default: the project's schemas/ folder).",
)


def schema_options(function: F) -> F:
    """`--locked`, `--offline`, `--schemas-dir`: where function schemas come from."""
    options = [
        click.option(
            "--locked",
            is_flag=True,
            help="Require the lock file and refuse to go on when a function drifted from it "
            "(unless the manifest pins its version).",
        ),
        click.option(
            "--offline",
            is_flag=True,
            help="Use only the lock file and the schema cache: a missing schema is an error, "
            "not a fetch.",
        ),
        schemas_dir_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function
