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
def status(run_id: str, folder: str, as_json: bool) -> None:
    """Show one run: its status and every job's id, status, timings, outputs, cache origin.

    RUN is a run id or a unique prefix of one (see `sievefile runs`).
    """
    import json

    from runner.execute.manage import state_dir_in
    from runner.execute.records import find_record
    from runner.ui.summary import describe_outputs

    record = find_record(state_dir_in(folder), run_id)
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    click.echo(f"run {record['run_id']}: {record['status']} ({_counts(record)})")
    click.echo(f"manifest: {record['manifest']} (sha256 {record['manifest_sha256'][:12]})")
    click.echo(f"started {record.get('started_at', '?')}, ended {record.get('ended_at', '-')}")
    jobs = record.get("jobs", {})
    width = max((len(key) for key in jobs), default=0)
    for key, job in jobs.items():
        detail = job.get("error", "")
        if "outputs" in job:
            detail = describe_outputs(json.loads(job["outputs"]))
        if job.get("cached_from"):
            detail += f" (from {job['cached_from']})"
        job_id = job.get("job_id", "-")
        click.echo(f"  {key:{width}}  {job['status']:9}  {job_id:36}  {detail}")


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
    statuses: dict[str, int] = {}
    for job in record.get("jobs", {}).values():
        statuses[job["status"]] = statuses.get(job["status"], 0) + 1
    return ", ".join(f"{count} {name}" for name, count in sorted(statuses.items())) or "no jobs"
