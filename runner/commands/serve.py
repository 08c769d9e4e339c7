"""`sievefile serve`: the local backend as an HTTP server speaking the Sieve API."""

from __future__ import annotations

from typing import Literal

import click


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback requires --api-key.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")  # fmt: skip
@click.option(
    "--db",
    default=".sievefile/local/jobs.db",
    show_default=True,
    metavar="FILE",
    help="SQLite file for job records, kept across restarts (':memory:' for none).",
)
@click.option(
    "--files",
    "files_dir",
    metavar="DIR",
    help="Folder for output files [default: 'files' beside --db; a temporary folder with "
    "':memory:'].",
)
@click.option(
    "--api-key",
    envvar="SIEVE_API_KEY",
    show_envvar=True,
    metavar="KEY",
    help="Require this key in the X-API-Key header (default: none required; required to "
    "listen beyond loopback).",
)
@click.option(
    "--input-root",
    "input_roots",
    multiple=True,
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="A folder `path` and `file://` inputs may come from (repeatable) "
    "[default: the folder serve runs in].",
)
@click.option(
    "--max-request-size",
    "max_request_bytes",
    type=click.IntRange(min=1024),
    metavar="BYTES",
    help="The largest request body accepted; larger ones get 413 [default: 32 MiB].",
)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(min=1),
              help="How many jobs run at once.")  # fmt: skip
@click.option(
    "--public-url",
    metavar="URL",
    help="The base URL clients reach this server at, for output file URLs "
    "[default: http://HOST:PORT].",
)
@click.option(
    "-p",
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Also load the local functions of this plugin module (an import path); repeatable.",
)
@click.option(
    "--defaults",
    type=click.Choice(["pickle", "json"]),
    default="pickle",
    show_default=True,
    help="How function metadata carries input defaults: 'pickle' as the live service "
    "(base64 of a pickle in `data`), 'json' as plain JSON (`data` and `default`).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def serve(
    host: str,
    port: int,
    db: str,
    files_dir: str | None,
    api_key: str | None,
    workers: int,
    public_url: str | None,
    plugins: tuple[str, ...],
    defaults: Literal["pickle", "json"],
    log_level: str,
    input_roots: tuple[str, ...],
    max_request_bytes: int | None,
) -> None:
    """Serve the Sieve API (/v2) locally, running local functions.

    Jobs survive a restart when --db is a file: jobs that were running end as errors,
    queued ones run again.
    """
    from runner.local.server import backend_for_serve, serve

    backend = backend_for_serve(
        db=db,
        files_dir=files_dir,
        api_key=api_key,
        workers=workers,
        public_url=public_url,
        plugins=plugins,
        defaults=defaults,
        input_roots=input_roots,
        max_request_bytes=max_request_bytes,
    )

    def ready(url: str) -> None:
        key = "X-API-Key required" if api_key else "no API key required"
        names = ", ".join(backend.registry.names()) or "none"
        click.echo(f"Serving the Sieve API on {url}/v2 ({key}; {workers} worker(s))")
        click.echo(f"Functions: {names}")
        click.echo(f"Jobs: {db}; press Ctrl-C to stop")

    serve(backend, host=host, port=port, log_level=log_level, on_ready=ready)
