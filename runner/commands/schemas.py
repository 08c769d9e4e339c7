"""`sievefile schemas ...` and `sievefile lock`: function schemas cached for a project."""

from __future__ import annotations

from pathlib import Path

import click

from runner.commands.options import backend_options, schemas_dir_option, vars_options


@click.group("schemas")
def schemas() -> None:
    """Function schemas: pull them into the cache, show and list what it holds."""


@schemas.command("show")
@click.argument("function")
@schemas_dir_option
def show(function: str, schemas_dir: str | None) -> None:
    """Print the inputs of FUNCTION (owner/name[:version]) from the schema cache."""
    from rich.console import Console

    from runner.api_args import function_argument
    from runner.schemas.cache import SchemaCache, find_schemas_dir
    from runner.schemas.show import render_schema

    ref = function_argument(function, allow_version=True)
    cache = SchemaCache(schemas_dir or find_schemas_dir(Path.cwd()))
    render_schema(cache.find(ref), Console(soft_wrap=False))


@schemas.command("list")
@schemas_dir_option
def list_schemas(schemas_dir: str | None) -> None:
    """List every cached function version (owner/name:version)."""
    from runner.schemas.cache import SchemaCache, find_schemas_dir

    cache = SchemaCache(schemas_dir or find_schemas_dir(Path.cwd()))
    refs = cache.refs()
    if not refs:
        click.echo(f"no cached schemas in {cache.root}", err=True)
    for ref in refs:
        click.echo(str(ref))


@schemas.command("pull")
@click.argument("manifests", nargs=-1, required=True, type=click.Path(dir_okay=False))
@schemas_dir_option
@vars_options
@backend_options
def pull(
    manifests: tuple[str, ...],
    schemas_dir: str | None,
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    api_url: str | None,
    api_key: str | None,
    local: bool,
) -> None:
    """Cache the schema of every function MANIFESTS call (the locked version when a manifest
    has a lock file), fetching only what the cache lacks."""
    from runner.backend import resolve_backend
    from runner.manifest.variables import collect_variables
    from runner.schemas.actions import pull_manifests

    backend = resolve_backend(api_url=api_url, api_key=api_key, local=local)
    click.echo(backend.describe(), err=True)
    variables = collect_variables(var_options, vars_files)
    pulled = pull_manifests(manifests, backend, schemas_dir=schemas_dir, variables=variables)
    for pinned in sorted({str(schema.ref) for schema in pulled.values()}):
        click.echo(pinned)


@click.command("lock")
@click.argument("manifest", type=click.Path(dir_okay=False))
@schemas_dir_option
@vars_options
@backend_options
def lock(
    manifest: str,
    schemas_dir: str | None,
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    api_url: str | None,
    api_key: str | None,
    local: bool,
) -> None:
    """Write MANIFEST.lock: the version every function the manifest calls runs now (or its
    pin), with the sha256 of its schema; the schemas are cached. Commit both."""
    from runner.backend import resolve_backend
    from runner.manifest.variables import collect_variables
    from runner.schemas.actions import lock_manifest

    backend = resolve_backend(api_url=api_url, api_key=api_key, local=local)
    click.echo(backend.describe(), err=True)
    variables = collect_variables(var_options, vars_files)
    written = lock_manifest(manifest, backend, schemas_dir=schemas_dir, variables=variables)
    for key, entry in sorted(written.entries.items()):
        click.echo(f"{key}: {entry.version}")
    click.echo(f"wrote {written.path}")
