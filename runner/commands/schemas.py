"""`sievefile schemas ...`: look at the function schemas cached for a project."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("schemas")
def schemas() -> None:
    """Function schemas: show and list what the schema cache holds."""


_SCHEMAS_DIR = click.option(
    "--schemas-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The schema cache folder (default: the project's schemas/ folder).",
)


@schemas.command("show")
@click.argument("function")
@_SCHEMAS_DIR
def show(function: str, schemas_dir: Path | None) -> None:
    """Print the inputs of FUNCTION (owner/name[:version]) from the schema cache."""
    from rich.console import Console

    from runner.schemas.cache import SchemaCache, default_schemas_dir
    from runner.schemas.refs import FunctionRef
    from runner.schemas.show import render_schema

    ref = FunctionRef.parse(function)
    cache = SchemaCache(schemas_dir or default_schemas_dir(Path.cwd()))
    render_schema(cache.find(ref), Console(soft_wrap=False))


@schemas.command("list")
@_SCHEMAS_DIR
def list_schemas(schemas_dir: Path | None) -> None:
    """List every cached function version (owner/name:version)."""
    from runner.schemas.cache import SchemaCache, default_schemas_dir

    cache = SchemaCache(schemas_dir or default_schemas_dir(Path.cwd()))
    refs = cache.refs()
    if not refs:
        click.echo(f"no cached schemas in {cache.root}", err=True)
    for ref in refs:
        click.echo(str(ref))
