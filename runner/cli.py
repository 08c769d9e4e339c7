"""The `sievefile` command line: click parsing only.

Each command lives in `runner/commands/<area>.py` and is imported only when it is used (or when
`--help` lists it), so starting the CLI stays cheap. Command modules import only click at module
level; they call into the library from inside the command functions.

Installed (entry-point) plugins add commands with the `register_commands` hook. They are looked
for only when a name is not a built-in command, or when `--help` lists the commands, so a
built-in command never imports them; built-in plugins add no commands (sievefile's own are in
`COMMANDS`). A plugin command with a built-in's name is not added; that, and any plugin that
fails to load, is printed once as a `warning:` on stderr.
"""

from __future__ import annotations

import gc
import importlib
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from runner import __version__
from runner.errors import EXIT_INTERRUPTED, SievefileError

if TYPE_CHECKING:
    from runner.plugins import LoadProblem

# name -> "module:attribute". The order is the order `--help` lists them in.
COMMANDS: dict[str, str] = {
    "init": "runner.commands.manifest:init",
    "validate": "runner.commands.manifest:validate",
    "plan": "runner.commands.manifest:plan",
    "graph": "runner.commands.manifest:graph",
    "run": "runner.commands.run:run",
    "runs": "runner.commands.runs:runs",
    "status": "runner.commands.runs:status",
    "cancel": "runner.commands.runs:cancel",
    "retry": "runner.commands.runs:retry",
    "push": "runner.commands.api:push",
    "jobs": "runner.commands.api:jobs",
    "functions": "runner.commands.api:functions",
    "serve": "runner.commands.serve:serve",
    "lock": "runner.commands.schemas:lock",
    "schemas": "runner.commands.schemas:schemas",
    "plugins": "runner.commands.plugins:plugins",
}


def warning_printer() -> Callable[[LoadProblem], None]:
    """A problem reporter that prints each distinct problem once, as `warning: ...` on stderr."""
    seen: set[str] = set()

    def warn(problem: LoadProblem) -> None:
        line = str(problem)
        if line not in seen:
            seen.add(line)
            click.echo(f"warning: {line}", err=True)

    return warn


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, and extended by plugins."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands
        self._plugin_commands: dict[str, tuple[click.Command, str]] | None = None
        self.plugin_command_problems: list[LoadProblem] = []

    def plugin_commands(self) -> dict[str, tuple[click.Command, str]]:
        """The commands installed plugins add, with their plugin's name (looked up once).

        Problems met on the way (a plugin that fails to load, a command name taken) are kept
        in `plugin_command_problems` and reported as they are found.
        """
        if self._plugin_commands is None:
            from runner.plugins import build_plugin_manager, load_problems, plugin_commands

            manager = build_plugin_manager(builtins=())
            taken = {*self.lazy_commands, *self.commands}
            self._plugin_commands = plugin_commands(manager, taken)
            self.plugin_command_problems = load_problems(manager)
        return self._plugin_commands

    def forget_plugin_commands(self) -> None:
        """Look the plugin commands up again next time (after the environment changed)."""
        self._plugin_commands = None
        self.plugin_command_problems = []

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = [*self.lazy_commands, *sorted(super().list_commands(ctx))]
        return [*names, *sorted(set(self.plugin_commands()) - set(names))]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            command = super().get_command(ctx, cmd_name)
            if command is None and cmd_name in self.plugin_commands():
                command = self.plugin_commands()[cmd_name][0]
            return command
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0]) if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            from runner.suggest import did_you_mean

            hint = did_you_mean(name, self.list_commands(ctx))
            ctx.fail(f"no command {name!r}{hint}")
        return super().resolve_command(ctx, args)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the CLI, printing each plugin problem found meanwhile once on stderr."""
        from runner.plugins import set_problem_reporter

        previous = set_problem_reporter(warning_printer())
        try:
            return super().main(*args, **kwargs)
        finally:
            set_problem_reporter(previous)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SievefileError:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="sievefile")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run declarative job manifests against the Sieve API (or its local twin)."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None, prog_name: str = "sievefile") -> None:
    """Console-script entry point."""
    # httpx imports its own command line (rich and pygments, about 35 ms) whenever those are
    # installed, as ours are; this process never runs it, so its import is declined.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    try:
        cli.main(args=argv if argv is not None else sys.argv[1:], prog_name=prog_name)
    finally:
        # The process ends here: out of the cyclic collector's sight, what the command built
        # is skipped by the interpreter's last full collection (50 ms after 1,000 jobs).
        gc.freeze()
