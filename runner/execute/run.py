"""`sievefile run` as a library call: load, plan, connect, schedule, report.

```python
summary = run_manifest(RunRequest("manifests/quickstart.toml"), report=print)
```
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.backend import Backend, open_connection
from runner.client import equal_jitter
from runner.execute.durability import Durability
from runner.execute.outcome import Report, RunSummary
from runner.execute.scheduler import RunPolicy, Scheduler, Validate
from runner.execute.watch import EventWatcher, JobWatcher, ListWatcher
from runner.manifest import build_plan, load_manifest
from runner.secrets import Secrets

#: Where the embedded backend keeps output files, next to the manifest.
STATE_DIR = ".sievefile"


@dataclass
class RunRequest:
    """What to run and how; None leaves the manifest's own setting."""

    manifest: str | os.PathLike[str]
    backend: Backend = field(default_factory=lambda: Backend(kind="embedded"))
    variables: Mapping[str, Any] = field(default_factory=dict)
    select: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_parallel: int | None = None
    fail_fast: bool | None = None
    keep_going: bool = False
    environ: Mapping[str, str] | None = None
    #: Keep a ledger and run record in `.sievefile/` (needed by resume, cache and records).
    durable: bool = True
    #: Continue an earlier run: its id, or True for the newest unfinished run of the manifest.
    resume: str | bool = False
    #: Ignore the result cache for every job (`force`) or for the jobs these selectors match.
    force: bool = False
    force_jobs: Sequence[str] = ()
    #: On Ctrl-C leave the jobs in flight running on the service (a resume collects them).
    detach: bool = False

    @property
    def files_dir(self) -> Path:
        """Where an embedded backend stores output files: `.sievefile/files` by the manifest."""
        return Path(self.manifest).resolve().parent / STATE_DIR / "files"


async def execute(
    request: RunRequest,
    *,
    report: Report | None = None,
    validate: Validate | None = None,
    secrets: Secrets | None = None,
    on_scheduler: Callable[[Scheduler], None] | None = None,
    jitter: Callable[[float], float] = equal_jitter,
) -> RunSummary:
    """Run the request's manifest to the end and return what happened.

    `on_scheduler` receives the scheduler once it exists (the CLI uses it to interrupt);
    `jitter` turns a retry's backoff into the delay actually waited (a seam for tests).
    Raises ManifestError before anything is pushed when the manifest is invalid, RunError
    when another process runs the same manifest, ConfigError when there is nothing to resume.
    """
    with Durability.open(request) as durability:
        return await _execute(
            request,
            durability,
            report=report,
            validate=validate,
            secrets=secrets,
            on_scheduler=on_scheduler,
            jitter=jitter,
        )


async def _execute(
    request: RunRequest,
    durability: Durability | None,
    *,
    report: Report | None,
    validate: Validate | None,
    secrets: Secrets | None,
    on_scheduler: Callable[[Scheduler], None] | None,
    jitter: Callable[[float], float],
) -> RunSummary:
    secrets = secrets if secrets is not None else Secrets()
    options = durability.options if durability is not None else {}
    variables = options.get("variables", request.variables)
    select, exclude = options.get("select", request.select), options.get("exclude", request.exclude)
    manifest = load_manifest(request.manifest, variables=variables, environ=request.environ)
    plan = build_plan(manifest, select=select, exclude=exclude, environ=request.environ)
    journal = None
    if durability is not None:
        journal = durability.begin(manifest, secrets)
        for notice in durability.notices():
            (report or (lambda event: None))(notice)
    policy = RunPolicy(
        max_parallel=request.max_parallel or manifest.run.max_parallel,
        fail_fast=manifest.run.fail_fast if request.fail_fast is None else request.fail_fast,
        keep_going=request.keep_going,
    )
    async with open_connection(request.backend, files_dir=request.files_dir) as connection:
        watcher: JobWatcher = (
            EventWatcher(connection.local)
            if connection.local is not None
            else ListWatcher(connection.client)
        )
        if journal is not None:
            watcher.on_processing = journal.processing
        scheduler = Scheduler(
            plan,
            connection.client,
            watcher,
            policy=policy,
            validate=validate,
            report=report,
            secrets=secrets,
            jitter=jitter,
            journal=journal,
        )
        if on_scheduler is not None:
            on_scheduler(scheduler)
        try:
            summary = await scheduler.run()
        finally:
            await watcher.aclose()
        summary.requests = connection.client.request_count
        if durability is not None:
            durability.end(summary)
        return summary


def run_manifest(
    request: RunRequest,
    *,
    report: Report | None = None,
    validate: Validate | None = None,
    secrets: Secrets | None = None,
    on_interrupt: Callable[[int], None] | None = None,
) -> RunSummary:
    """`execute` in a fresh event loop, with Ctrl-C handling for a terminal.

    The first SIGINT interrupts the run (jobs in flight are cancelled on the service, the rest
    skipped; the summary says `interrupted`); a second one exits the process at once with 130.
    `on_interrupt(count)` is told about each SIGINT (to print a note).
    """

    async def main() -> RunSummary:
        loop = asyncio.get_running_loop()
        holder: list[Scheduler] = []
        presses = 0

        def on_sigint() -> None:
            nonlocal presses
            presses += 1
            if on_interrupt is not None:
                on_interrupt(presses)
            if presses > 1:
                sys.stderr.flush()
                os._exit(130)
            for scheduler in holder:
                scheduler.interrupt(detach=request.detach)

        # Not possible outside the main thread or without signals: Ctrl-C then stops Python.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await execute(
                request,
                report=report,
                validate=validate,
                secrets=secrets,
                on_scheduler=holder.append,
            )
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())
