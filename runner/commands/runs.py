"""`sievefile runs`, `status RUN`, `cancel RUN`, `retry RUN`: the recorded runs of a folder."""

from __future__ import annotations

from typing import Any

import click

from runner.commands.options import backend_options

_DIR_OPTION = click.option(
    "--dir",
    "-C",
    "folder",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The folder of the manifest (its runs are in FOLDER/.sievefile/runs).",
)


@click.command()
@_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
def runs(folder: str, as_json: bool) -> None:
    """List the recorded runs of the manifests in a folder, newest first."""
    import json

    from runner.execute.manage import state_dir_in
    from runner.execute.records import list_records

    records = list_records(state_dir_in(folder))
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    if not records:
        click.echo(f"no runs recorded in {state_dir_in(folder)}")
        return
    for record in records:
        click.echo(
            f"{record['run_id']}  {record['status']:11}  {_counts(record)}  {record['manifest']}"
        )


@click.command()
@click.argument("run_id", metavar="RUN")
@_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
@click.option("--all", "all_jobs", is_flag=True, help="List every job (default: the first 20).")
@click.option(
    "--watch", is_flag=True, help="On a terminal, redraw the view until a running run ends."
)
@click.option("--no-color", is_flag=True, help="No colours (also when NO_COLOR is set).")
def status(
    run_id: str, folder: str, as_json: bool, all_jobs: bool, watch: bool, no_color: bool
) -> None:
    """Show one run as `sievefile run` shows it: progress bar, counts by state, functions, the
    jobs in flight (longest first) and the latest failures; then each job's id, status,
    outputs (or error, or cache origin) and deliveries.

    RUN is a run id or a unique prefix of one (see `sievefile runs`). A run still going on
    (in another terminal, or detached) is shown as the ledger has it now.
    """
    import json
    import sys

    from runner.execute.manage import state_dir_in
    from runner.execute.records import find_record
    from runner.ui.progress import color_wanted
    from runner.ui.status import print_status, status_lines, watch_status

    record = find_record(state_dir_in(folder), run_id)
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    color = color_wanted(no_color)
    if sys.stdout.isatty():
        watching = watch and record.get("status") == "running"
        if watching:
            found = record["run_id"]
            record = watch_status(lambda: find_record(state_dir_in(folder), found), color=color)
        print_status(record, all_jobs=all_jobs, color=color, view=not watching)
        return
    for line in status_lines(record, all_jobs=all_jobs):
        click.echo(line)


@click.command()
@click.argument("run_id", metavar="RUN")
@_DIR_OPTION
@backend_options
def cancel(run_id: str, folder: str, api_url: str | None, api_key: str | None, local: bool) -> None:
    """Cancel the jobs of a run still in flight on the service (DELETE each one)."""
    import asyncio

    from runner.backend import resolve_backend
    from runner.execute.manage import cancel_run, state_dir_in

    backend = resolve_backend(api_url=api_url, api_key=api_key, local=local)
    results = asyncio.run(cancel_run(state_dir_in(folder), run_id, backend))
    if not results:
        click.echo("no jobs in flight")
    for item in results:
        click.echo(f"  {item.key}  job {item.job_id}: {item.result}")


@click.command()
@click.argument("run_id", metavar="RUN")
@_DIR_OPTION
@backend_options
@click.pass_context
def retry(
    ctx: click.Context,
    run_id: str,
    folder: str,
    api_url: str | None,
    api_key: str | None,
    local: bool,
) -> None:
    """Run a recorded run's failed, cancelled and skipped jobs again, keeping its finished
    outputs (with the run's own vars and selection). Exits like `sievefile run`."""
    from runner.commands.run import run
    from runner.execute.manage import state_dir_in
    from runner.execute.records import find_record

    record = find_record(state_dir_in(folder), run_id)
    ctx.invoke(
        run,
        manifest=record["manifest"],
        resume=record["run_id"],
        api_url=api_url,
        api_key=api_key,
        local=local,
    )


def _counts(record: dict[str, Any]) -> str:
    from runner.ui.status import record_counts

    return record_counts(record)
