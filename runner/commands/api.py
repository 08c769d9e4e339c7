"""Thin commands over the Sieve API, on any backend: `functions get`, `jobs list|get|cancel`,
`push`. Each prints the backend first, then a table (or the raw JSON body with `--json`, the
backend line then going to stderr so stdout stays machine-readable)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from runner.commands.options import backend_options

F = TypeVar("F", bound=Callable[..., Any])

JOB_STATUSES = ("queued", "processing", "finished", "error", "cancelled")


def api_options(command: F) -> F:
    """The flags every API command shares: which backend, and JSON output."""
    command = click.option("--json", "as_json", is_flag=True, help="Print the raw JSON body.")(
        command
    )
    return backend_options(command)


class _Session:
    """The backend chosen by the shared flags, and how to print for this invocation."""

    def __init__(self, api_url: str | None, api_key: str | None, local: bool, as_json: bool):
        from runner.backend import resolve_backend

        self.backend = resolve_backend(api_url=api_url, api_key=api_key, local=local)
        self.as_json = as_json
        click.echo(self.backend.describe(), err=as_json)

    def call(self, operation: Callable[[Any], Any]) -> Any:
        from runner.backend import EMBEDDED_FILES_DIR, call_backend

        return call_backend(self.backend, operation, files_dir=EMBEDDED_FILES_DIR.resolve())

    def show(self, body: Any, view: Callable[[Any], Any]) -> None:
        if self.as_json:
            import json

            click.echo(json.dumps(body, indent=2, ensure_ascii=False))
            return
        from rich.console import Console

        Console(highlight=False).print(view(body))


@click.group()
def functions() -> None:
    """Look up Sieve functions."""


@functions.command("get")
@click.argument("function")
@api_options
def functions_get(
    function: str, api_url: str | None, api_key: str | None, local: bool, as_json: bool
) -> None:
    """Show a function's latest version: its inputs and outputs.

    FUNCTION is owner/name.
    """
    from runner.api_args import function_argument
    from runner.api_views import function_view

    ref = function_argument(function)
    session = _Session(api_url, api_key, local, as_json)
    session.show(
        session.call(lambda client: client.get_function(ref.owner, ref.name)), function_view
    )


@click.group()
def jobs() -> None:
    """List, inspect and cancel jobs."""


@jobs.command("list")
@click.option("--status", type=click.Choice(JOB_STATUSES), help="Only jobs in this status.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most N jobs."
)
@api_options
def jobs_list(
    status: str | None,
    limit: int,
    api_url: str | None,
    api_key: str | None,
    local: bool,
    as_json: bool,
) -> None:
    """List jobs, newest first, following the API's pages."""
    from runner.api_views import jobs_table

    async def collect(client: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        async for job in client.iter_jobs(status, page_size=min(limit, 500)):
            found.append(job)
            if len(found) >= limit:
                break
        return found

    session = _Session(api_url, api_key, local, as_json)
    session.show(session.call(collect), jobs_table)


@jobs.command("get")
@click.argument("job_id")
@api_options
def jobs_get(
    job_id: str, api_url: str | None, api_key: str | None, local: bool, as_json: bool
) -> None:
    """Show job JOB_ID: status, times, error, inputs and outputs."""
    from runner.api_views import job_view

    session = _Session(api_url, api_key, local, as_json)
    session.show(session.call(lambda client: client.get_job(job_id)), job_view)


@jobs.command("cancel")
@click.argument("job_id")
@api_options
def jobs_cancel(
    job_id: str, api_url: str | None, api_key: str | None, local: bool, as_json: bool
) -> None:
    """Cancel job JOB_ID (queued or running)."""
    session = _Session(api_url, api_key, local, as_json)
    answer = session.call(lambda client: client.cancel_job(job_id))
    session.show(answer, lambda body: body.get("message") or f"cancelled {job_id}")


@click.command()
@click.argument("function")
@click.option(
    "--input",
    "-i",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help='An input; VALUE is read as JSON when it parses (3, true, {"url": ...}), else as '
    "a string. Repeat for each input.",
)
@click.option(
    "--input-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A JSON object of inputs; --input values override it.",
)
@click.option(
    "--wait/--no-wait",
    default=None,
    help="Wait for the job to end and show it (always on the embedded backend, whose jobs "
    "end with the command).",
)
@api_options
def push(
    function: str,
    assignments: tuple[str, ...],
    input_file: Path | None,
    wait: bool | None,
    api_url: str | None,
    api_key: str | None,
    local: bool,
    as_json: bool,
) -> None:
    """Start a job with the given inputs.

    FUNCTION is owner/name or owner/name:version.
    """
    from runner.api_args import function_argument, parse_inputs
    from runner.api_views import job_view
    from runner.errors import ConfigError, RunError

    function = str(function_argument(function, allow_version=True))
    inputs = parse_inputs(assignments, input_file)
    session = _Session(api_url, api_key, local, as_json)
    embedded = session.backend.kind == "embedded"
    if embedded and wait is False:
        raise ConfigError(
            "--no-wait does not work on the embedded backend: its jobs end with the command "
            "(use `sievefile serve` for jobs that outlive it)"
        )
    waiting = wait if wait is not None else embedded

    pushed_ids: list[str] = []

    async def run(client: Any) -> dict[str, Any]:
        pushed: dict[str, Any] = await client.push(function, inputs)
        pushed_ids.append(pushed["id"])
        if not waiting:
            return pushed
        return dict(await client.wait_for_job(pushed["id"]))

    try:
        body = session.call(run)
    except KeyboardInterrupt:
        # Ctrl-C stops the waiting, not the job: a remote job runs on, so say how to reach it.
        if pushed_ids and session.backend.kind != "embedded":
            job_id = pushed_ids[0]
            click.echo(
                f"job {job_id} is still running; `sievefile jobs cancel {job_id}` cancels it",
                err=True,
            )
        raise
    if not waiting:
        session.show(body, lambda pushed: f"pushed job {pushed['id']} ({pushed.get('status')})")
        return
    session.show(body, job_view)
    if body.get("status") != "finished":
        raise RunError(f"job {body.get('id')} ended {body.get('status')}: {body.get('error')}")
