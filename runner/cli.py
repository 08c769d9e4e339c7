"""The `sievefile` command line: click parsing only.

Each command lives in `runner/commands/<area>.py` and is imported only when it is used (or when
`--help` lists it), so starting the CLI stays cheap. Command modules import only click at module
level; they call into the library from inside the command functions.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from runner import __version__
from runner.errors import EXIT_INTERRUPTED, SievefileError

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
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy_commands, *sorted(super().list_commands(ctx))]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
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
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name=prog_name)
