"""`sievefile run`: run a manifest's jobs in dependency order."""

from __future__ import annotations

import sys

import click

from runner.commands.options import (
    backend_options,
    schema_options,
    selection_options,
    vars_options,
)


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@selection_options
@vars_options
@backend_options
@schema_options
@click.option(
    "--max-parallel", "-j", type=click.IntRange(min=1), help="Jobs in flight at once ([run])."
)
@click.option(
    "--keep-going",
    "-k",
    is_flag=True,
    help="After a failure, run every job that does not depend on it.",
)
@click.option(
    "--fail-fast/--no-fail-fast",
    default=None,
    help="On the first failure cancel jobs in flight (default: [run] fail_fast, true).",
)
@click.option(
    "--progress",
    type=click.Choice(["auto", "live", "plain", "json", "none"]),
    default="auto",
    show_default=True,
    help="How to show progress: a live view (auto: on a terminal), lines, JSON Lines on "
    "stdout, or nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@click.option(
    "--resume",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[RUN]",
    help="Continue an interrupted run (default: the newest one of this manifest): re-attach to "
    "its jobs in flight, keep finished outputs, push only what never got a job.",
)
@click.option(
    "--detach",
    is_flag=True,
    help="On Ctrl-C leave the jobs in flight running on the service, for a later --resume.",
)
@click.option("--force", is_flag=True, help="Ignore the result cache: push every job.")
@click.option(
    "--force-job",
    "force_jobs",
    multiple=True,
    metavar="SELECTOR",
    help="Ignore the result cache for these jobs (same forms as --select). Repeatable.",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Receive job.complete webhooks on HOST:PORT (registered with each push): a job's end "
    "is heard at once; polling goes on as a slow safety net.",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The base URL the service reaches --listen at (a tunnel or proxy) [default: "
    "http://HOST:PORT].",
)
def run(
    manifest: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    var_options: tuple[str, ...],
    vars_files: tuple[str, ...],
    api_url: str | None,
    api_key: str | None,
    local: bool,
    locked: bool,
    offline: bool,
    schemas_dir: str | None,
    max_parallel: int | None,
    keep_going: bool,
    fail_fast: bool | None,
    progress: str,
    as_json: bool,
    resume: str | None,
    detach: bool,
    force: bool,
    force_jobs: tuple[str, ...],
    listen: str | None,
    public_url: str | None,
) -> None:
    """Run a manifest: push every job once its dependencies finished, in parallel.

    Every input is checked against its function's schema before anything is pushed (inputs
    from upstream outputs again just before their job's push); with a lock file the locked
    function versions run.

    Exits 0 when every job finished, 1 when a job or validation failed, 2 for usage errors,
    3 when every job finished but an output or notification was not delivered (--resume
    delivers what is missing), 130 when interrupted (Ctrl-C cancels the jobs in flight, or
    leaves them running with --detach; a second Ctrl-C exits at once). Each run is recorded
    in `.sievefile/` next to the manifest (see `sievefile runs`); a job whose function version
    and inputs equal an earlier finished job's reuses its outputs (`cached`) unless --force
    or --force-job.
    """
    import json

    from runner.backend import resolve_backend
    from runner.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_UNDELIVERED, ConfigError
    from runner.execute.run import RunRequest, run_manifest
    from runner.manifest.variables import collect_variables
    from runner.secrets import Secrets
    from runner.ui.progress import progress_reporter
    from runner.ui.summary import summary_lines

    if as_json and progress == "json":
        raise ConfigError("--json and --progress json both write to stdout; choose one")
    if public_url is not None and listen is None:
        raise ConfigError("--public-url needs --listen HOST:PORT (where the webhooks arrive)")
    backend = resolve_backend(api_url=api_url, api_key=api_key, local=local)
    # With machine-readable stdout, human lines go to stderr.
    human_err = as_json or progress == "json"
    click.echo(backend.describe(), err=human_err)
    request = RunRequest(
        manifest,
        backend=backend,
        variables=collect_variables(var_options, vars_files),
        select=select,
        exclude=exclude,
        max_parallel=max_parallel,
        fail_fast=fail_fast,
        keep_going=keep_going,
        resume=resume or (resume is not None),
        force=force,
        force_jobs=force_jobs,
        detach=detach,
        schemas_dir=schemas_dir,
        locked=locked,
        offline=offline,
        listen=listen,
        public_url=public_url,
    )
    secrets = Secrets()

    def on_interrupt(presses: int) -> None:
        first = "leaving jobs in flight running" if detach else "cancelling jobs in flight"
        note = f"{first} (Ctrl-C again to exit now)" if presses == 1 else "exit"
        click.echo(f"\ninterrupted: {note}", err=True)

    with progress_reporter(progress, lines_to_stderr=human_err) as report:
        summary = run_manifest(
            request,
            report=report,
            secrets=secrets,
            on_interrupt=on_interrupt,
        )
    if as_json:
        payload = {
            "ok": summary.ok,
            "interrupted": summary.interrupted,
            "requests": summary.requests,
            "run_id": summary.run_id,
            "deliveries": summary.deliveries.to_json(),
            "jobs": [secrets.mask_value(o.to_json()) for o in summary.outcomes],
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for line in summary_lines(summary):
            click.echo(secrets.mask(line), err=human_err)
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if not summary.ok:
        sys.exit(EXIT_FAILURE)
    if not summary.delivered:
        sys.exit(EXIT_UNDELIVERED)
