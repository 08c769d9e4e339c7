"""`sievefile plugins`: the plugins that load, what they offer, and the ones that failed."""

from __future__ import annotations

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List plugins: version, source, hooks, sink and notifier kinds, and load problems."""
    import json

    from runner.cli import LazyGroup
    from runner.plugins import LoadProblem, get_plugin_manager, plugin_report
    from runner.ui.plugins import report_lines

    root = ctx.find_root().command
    commands: dict[str, str] = {}
    problems: list[LoadProblem] = []
    if isinstance(root, LazyGroup):
        commands = {name: plugin for name, (_, plugin) in root.plugin_commands().items()}
        problems = root.plugin_command_problems
    report = plugin_report(get_plugin_manager(), commands=commands, problems=problems)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    click.echo("\n".join(report_lines(report)))
