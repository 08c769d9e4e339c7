"""`sievefile validate | plan | graph | init`: check, show and start manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.commands.options import (
    backend_options,
    env_check_option,
    schema_options,
    selection_options,
    vars_options,
)

if TYPE_CHECKING:
    from runner.errors import ManifestError, ValidationError
    from runner.manifest.plan import Plan


@click.command()
@click.argument("manifests", nargs=-1, required=True, type=click.Path(dir_okay=False))
@vars_options
@env_check_option
@schema_options
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(
    manifests: tuple[str, ...],
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    allow_missing_env: bool,
    locked: bool,
    offline: bool,
    schemas_dir: str | None,
    api_url: str | None,
    api_key: str | None,
    local: bool,
    as_json: bool,
) -> None:
    """Check manifests: syntax, structure, references, matrices, dependencies, the settings
    of every sink and notifier, and every input against its function's schema.

    Schemas come from the lock file and the schema cache (no network); one missing there is
    fetched from the backend. Without a lock file, --locked/--offline/--schemas-dir or a
    configured backend (--api-key, $SIEVE_API_KEY, --api-url, --local), only the structure
    is checked. Exits 0 when every manifest is valid, 1 otherwise; every problem is listed
    with its file:line:column.
    """
    from runner.backend import resolve_backend
    from runner.errors import EXIT_FAILURE
    from runner.execute.delivery import delivery_problems
    from runner.manifest.loader import check_manifest, load_manifest
    from runner.manifest.render import problems_to_json
    from runner.manifest.variables import collect_variables
    from runner.schemas.actions import has_lock, schema_problems

    variables = collect_variables(var_options, vars_files)
    backend = resolve_backend(api_url=api_url, api_key=api_key, local=local)
    backend_chosen = local or backend.kind == "remote"
    reports = []
    unchecked = []
    inputs_checked: set[str] = set()
    for path in manifests:
        problems: list[ManifestError | ValidationError] = list(
            check_manifest(path, variables=variables, require_env=not allow_missing_env)
        )
        if not problems:
            problems = list(
                delivery_problems(
                    load_manifest(path, variables=variables, require_env=not allow_missing_env),
                    require_env=not allow_missing_env,
                )
            )
        wants_schemas = locked or offline or schemas_dir or backend_chosen or has_lock(path)
        if not problems and wants_schemas:
            manifest = load_manifest(path, variables=variables, require_env=not allow_missing_env)
            problems = list(
                schema_problems(
                    manifest, backend, schemas_dir=schemas_dir, locked=locked, offline=offline
                )
            )
            inputs_checked.add(path)
        elif not problems:
            unchecked.append(path)
        reports.append((path, problems))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "manifest": path,
                        "valid": not problems,
                        "inputs_checked": path in inputs_checked,
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
                note = " (structure only: inputs not checked)" if path in unchecked else ""
                click.echo(f"ok: {path}{note}")
                continue
            for problem in problems:
                click.echo(str(problem))
            count = len(problems)
            click.echo(f"invalid: {path} ({count} problem{'s' if count != 1 else ''})")
        if unchecked:
            click.echo(
                "note: inputs are checked against function schemas with a lock file "
                "(`sievefile lock`) or a backend (--api-key / $SIEVE_API_KEY, or --local)",
                err=True,
            )
    if any(problems for _, problems in reports):
        click.get_current_context().exit(EXIT_FAILURE)


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@selection_options
@vars_options
@env_check_option
@click.option("--all", "all_instances", is_flag=True, help="List every matrix instance.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@backend_options
def plan(
    manifest: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    allow_missing_env: bool,
    all_instances: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
    local: bool,
) -> None:
    """Show what a run would do: jobs in execution waves, with functions, inputs and needs.

    Inputs that come from upstream jobs or from the environment are shown as
    ${{ ... }} placeholders; nothing is pushed. Jobs the result cache would reuse (same
    function version and inputs as a finished job of an earlier run) are marked `cached`. A
    matrix over a data file shows how many
    instances the file gives and which are new since the last run. With a Sieve API
    configured (--api-url, --api-key, $SIEVE_API_KEY) that reports the organisation's
    concurrency, the plan shows it and the max_parallel the run would use.
    """
    from runner.backend import resolve_backend
    from runner.concurrency import backend_concurrency, configured_parallelism, default_parallelism
    from runner.execute.history import cached_instances, finished_instances
    from runner.manifest.render import format_plan, plan_to_dict

    built = _load_plan(manifest, select, exclude, var_options, vars_files, allow_missing_env)
    # which matrix rows earlier runs finished (only asked when a matrix reads rows)
    finished = finished_instances(manifest) if built.manifest.data_files else None
    cached = cached_instances(built)
    backend = resolve_backend(api_url=api_url, api_key=api_key, local=local)
    # Only a remote service has an organisation; the embedded backend's limit says nothing.
    concurrency = backend_concurrency(backend) if backend.kind == "remote" else None
    max_parallel = default_parallelism(configured_parallelism(built.manifest), concurrency)
    if as_json:
        document = plan_to_dict(built, finished, cached)
        document["run"]["max_parallel"] = max_parallel
        document["concurrency"] = concurrency.to_json() if concurrency else None
        click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(
            format_plan(built, all_instances=all_instances, finished=finished, cached=cached)
        )
        if concurrency is not None:
            line = f"service: {concurrency.describe()}; this run: max_parallel {max_parallel}"
            click.echo(f"\n{line}")


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
@click.argument("args", nargs=-1, metavar="[PATH] | --from DATA FUNCTION [PATH]")
@click.option(
    "--from",
    "data",
    type=click.Path(dir_okay=False),
    help="A data file (.csv, .tsv, .jsonl, .json): write a manifest that runs FUNCTION once "
    "per row (default PATH: DATA's name with .toml).",
)
@click.option("--name", help="The manifest's name (default: the file's stem).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(args: tuple[str, ...], data: str | None, name: str | None, force: bool) -> None:
    """Write a commented starter manifest (PATH: a file, or a folder for sievefile.toml).

    With --from DATA FUNCTION: a batch manifest, one FUNCTION job per row of DATA, e.g.
    `sievefile init --from videos.csv sieve/speech_transcriber`.
    """
    from runner.manifest.starter import write_rows_starter, write_starter

    if data is None:
        if len(args) > 1:
            raise click.UsageError("init takes one PATH (or --from DATA FUNCTION [PATH])")
        written = write_starter(Path(args[0] if args else "."), name=name, force=force)
    else:
        if not 1 <= len(args) <= 2:
            raise click.UsageError(
                "--from DATA needs the function to run per row, e.g. "
                "`sievefile init --from videos.csv sieve/speech_transcriber [PATH]`"
            )
        path = Path(args[1]) if len(args) == 2 else None
        written = write_rows_starter(Path(data), args[0], path, name=name, force=force)
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
