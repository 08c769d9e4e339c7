"""`sievefile validate | plan | graph | init`: check, show and start manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.commands.options import env_check_option, selection_options, vars_options

if TYPE_CHECKING:
    from runner.manifest.plan import Plan


@click.command()
@click.argument("manifests", nargs=-1, required=True, type=click.Path(dir_okay=False))
@vars_options
@env_check_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(
    manifests: tuple[str, ...],
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    allow_missing_env: bool,
    as_json: bool,
) -> None:
    """Check manifests: syntax, structure, references, matrices, dependencies.

    Exits 0 when every manifest is valid, 1 otherwise; every problem is listed with its
    file:line:column.
    """
    from runner.manifest.loader import check_manifest
    from runner.manifest.render import problems_to_json
    from runner.manifest.variables import collect_variables

    variables = collect_variables(var_options, vars_files)
    reports = []
    for path in manifests:
        problems = check_manifest(path, variables=variables, require_env=not allow_missing_env)
        reports.append((path, problems))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "manifest": path,
                        "valid": not problems,
                        "problems": problems_to_json(problems),
                    }
                    for path, problems in reports
                ],
                indent=2,
            )
        )
    else:
        for path, problems in reports:
            if not problems:
                click.echo(f"ok: {path}")
                continue
            for problem in problems:
                click.echo(str(problem))
            count = len(problems)
            click.echo(f"invalid: {path} ({count} problem{'s' if count != 1 else ''})")
    if any(problems for _, problems in reports):
        raise SystemExit(1)


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@selection_options
@vars_options
@env_check_option
@click.option("--all", "all_instances", is_flag=True, help="List every matrix instance.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(
    manifest: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    allow_missing_env: bool,
    all_instances: bool,
    as_json: bool,
) -> None:
    """Show what a run would do: jobs in execution waves, with functions, inputs and needs.

    Inputs that come from upstream jobs or from the environment are shown as
    ${{ ... }} placeholders; nothing is pushed.
    """
    from runner.manifest.render import format_plan, plan_to_dict

    built = _load_plan(manifest, select, exclude, var_options, vars_files, allow_missing_env)
    if as_json:
        click.echo(json.dumps(plan_to_dict(built), indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(format_plan(built, all_instances=all_instances))


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (renders on GitHub) or Graphviz dot.",
)
@selection_options
@vars_options
@env_check_option
def graph(
    manifest: str,
    output_format: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    allow_missing_env: bool,
) -> None:
    """Print the job dependency graph as Mermaid or Graphviz dot."""
    from runner.manifest.render import to_dot, to_mermaid

    built = _load_plan(manifest, select, exclude, var_options, vars_files, allow_missing_env)
    click.echo(to_mermaid(built) if output_format == "mermaid" else to_dot(built), nl=False)


@click.command()
@click.argument("path", required=False, default=".", type=click.Path())
@click.option("--name", help="The manifest's name (default: the file's stem).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, name: str | None, force: bool) -> None:
    """Write a commented starter manifest (PATH: a file, or a folder for sievefile.toml)."""
    from runner.manifest.starter import write_starter

    written = write_starter(Path(path), name=name, force=force)
    click.echo(f"wrote {written}")
    click.echo(f"next: sievefile validate {written} && sievefile plan {written}")


def _load_plan(
    manifest: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    allow_missing_env: bool,
) -> Plan:
    from runner.manifest.plan import load_plan

    return load_plan(
        manifest,
        var_options=var_options,
        vars_files=vars_files,
        select=select,
        exclude=exclude,
        require_env=not allow_missing_env,
    )
