"""`sievefile run`: run a manifest's jobs in dependency order."""

from __future__ import annotations

import click

from runner.commands.options import (
    backend_options,
    schema_options,
    selection_options,
    vars_options,
)


@click.command()
# Not required by click: `run --resume m.toml` gives the manifest to --resume's optional value.
@click.argument("manifest", type=click.Path(dir_okay=False), required=False, metavar="MANIFEST")
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
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Also show each HTTP request (method, path, status, time; never the key) and the "
    "summary's full per-job table.",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="Show only errors while the run goes on, then the summary."
)
@click.option(
    "--no-color", is_flag=True, help="No colours (also when the NO_COLOR variable is set)."
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Also write a JUnit XML report to FILE: one test case per job instance.",
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
    manifest: str | None,
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
    verbose: bool,
    quiet: bool,
    no_color: bool,
    report_path: str | None,
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
    from pathlib import Path

    from runner.backend import resolve_backend
    from runner.errors import (
        EXIT_FAILURE,
        EXIT_INTERRUPTED,
        EXIT_UNDELIVERED,
        ConfigError,
        SievefileError,
    )
    from runner.execute.run import RunRequest, run_manifest
    from runner.manifest.variables import collect_variables
    from runner.secrets import Secrets
    from runner.ui.events import JsonLinesProgress
    from runner.ui.progress import (
        LiveProgress,
        PlainProgress,
        Verbosity,
        color_wanted,
        progress_reporter,
    )
    from runner.ui.summary import summary_lines

    if manifest is None:
        if not (resume and resume.endswith(".toml") and Path(resume).is_file()):
            raise click.UsageError("Missing argument 'MANIFEST'.")
        manifest, resume = resume, ""  # `--resume m.toml`: resume the newest run of m.toml
    if as_json and progress == "json":
        raise ConfigError("--json and --progress json both write to stdout; choose one")
    if verbose and quiet:
        raise ConfigError("--verbose and --quiet contradict each other; choose one")
    verbosity = Verbosity.VERBOSE if verbose else Verbosity.QUIET if quiet else Verbosity.NORMAL
    color = color_wanted(no_color)
    if public_url is not None and listen is None:
        raise ConfigError("--public-url needs --listen HOST:PORT (where the webhooks arrive)")
    backend = resolve_backend(api_url=api_url, api_key=api_key, local=local)
    # With machine-readable stdout, human lines go to stderr.
    human_err = as_json or progress == "json"
    if not quiet:
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
        trace_requests=verbose,
        listen=listen,
        public_url=public_url,
    )
    secrets = Secrets()

    with progress_reporter(
        progress, lines_to_stderr=human_err, verbosity=verbosity, color=color
    ) as report:

        def on_interrupt(presses: int) -> None:
            if isinstance(report, LiveProgress):
                report.interrupted(final=presses > 1)
            elif isinstance(report, PlainProgress | JsonLinesProgress):
                report.flush()  # before the note; a second Ctrl-C exits without flushing
            first = "leaving jobs in flight running" if detach else "cancelling jobs in flight"
            note = f"{first} (Ctrl-C again to exit now)" if presses == 1 else "exit"
            click.echo(f"\ninterrupted: {note}", err=True)

        try:
            summary = run_manifest(
                request,
                report=report,
                secrets=secrets,
                on_interrupt=on_interrupt,
            )
        except SievefileError as error:
            if report_path:  # CI reads a report whatever happened
                from runner.ui.junit import stopped_document, write_junit

                document = stopped_document(Path(manifest).stem, str(error))
                write_junit(report_path, document, Path(manifest).stem, mask=secrets.mask)
            raise
    if report_path:
        from runner.ui.junit import write_junit

        write_junit(report_path, summary, Path(manifest).stem, mask=secrets.mask)
    if as_json:
        payload = secrets.mask_value(summary.to_json())
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        lines = summary_lines(summary, verbose=verbose, manifest=manifest)
        for line in lines[:-1]:
            click.echo(secrets.mask(line), err=human_err, color=None if color else False)
        verdict = click.style(
            secrets.mask(lines[-1]), bold=True, fg="green" if summary.ok else "red"
        )
        click.echo(verdict, err=human_err, color=None if color else False)
    # the summary said why: only the exit code is left to give
    ctx = click.get_current_context()
    if summary.interrupted:
        ctx.exit(EXIT_INTERRUPTED)
    if not summary.ok:
        ctx.exit(EXIT_FAILURE)
    if not summary.delivered:
        ctx.exit(EXIT_UNDELIVERED)
