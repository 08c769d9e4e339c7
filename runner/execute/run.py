"""`sievefile run` as a library call: one pipeline in one event loop.

```python
summary = run_manifest(RunRequest("manifests/quickstart.toml"), report=print)
```
load -> plan -> sinks and notifiers -> schemas -> validate -> schedule -> deliver -> record:
each step is fed by the one before. A resume plans from the options its run was started with
(vars, selection), so it validates exactly what it runs. Nothing is pushed before the
manifest, every static input and every sink's and notifier's configuration were checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from runner.backend import Backend, Connection, check_http_url, open_connection
from runner.client import RequestRecord, RetryPolicy, equal_jitter
from runner.concurrency import (
    Concurrency,
    configured_parallelism,
    default_parallelism,
    service_concurrency,
)
from runner.errors import EXIT_INTERRUPTED
from runner.execute.delivery import Deliverer, DeliveryPolicy, OutputFiles, configure_delivery
from runner.execute.durability import Durability
from runner.execute.journal import RunJournal
from runner.execute.ledger import state_dir_for
from runner.execute.outcome import JobOutcome, Report, RunEvent, RunSummary, Status
from runner.execute.scheduler import RunPolicy, Scheduler
from runner.execute.validation import prepare_validation
from runner.execute.watch import EventWatcher, JobWatcher, ListWatcher, OnProcessing
from runner.hooktypes import JobRecord, JobStatus, RunInfo, RunResult
from runner.manifest import build_plan
from runner.manifest.loader import start_loading
from runner.manifest.model import FunctionRef, Manifest
from runner.manifest.plan import Plan
from runner.plugins import call_hook, get_plugin_manager
from runner.schemas.lock import lock_path_for
from runner.schemas.service import BackendFetcher
from runner.secrets import Secrets

if TYPE_CHECKING:
    from runner.execute.receiver import WebhookReceiver


#: How long a run waits for its early requests to be sent before it checks the manifest (the
#: checks keep the event loop busy): a backend that takes longer to connect holds up no more.
_EARLY_SEND_WAIT = 0.5


@dataclass
class _EarlyRequests:
    """What `_Pipeline._send_early` started: metadata fetches and the concurrency probe."""

    fetcher: BackendFetcher | None = None
    probe: asyncio.Future[Concurrency | None] | None = None

    async def discard(self) -> None:
        """Cancel what nobody took (the manifest was broken, or a step failed), quietly."""
        if self.fetcher is not None:
            await self.fetcher.discard_early()
        if self.probe is not None:
            self.probe.cancel()
            await asyncio.gather(self.probe, return_exceptions=True)


def _unpinned_functions(document: dict[str, Any]) -> list[FunctionRef]:
    """The functions without a version that the jobs of an unchecked manifest name."""
    jobs = document.get("jobs")
    found: dict[str, FunctionRef] = {}
    for raw in jobs.values() if isinstance(jobs, dict) else ():
        text = raw.get("function") if isinstance(raw, dict) else None
        if isinstance(text, str):
            with contextlib.suppress(ValueError):
                ref = FunctionRef.parse(text)
                if ref.version is None:
                    found.setdefault(ref.slug, ref)
    return list(found.values())


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
    #: Check inputs against the functions' schemas (before the run and before each push).
    check_inputs: bool = True
    #: Where function schemas come from: the cache folder, the lock only, no fetches.
    schemas_dir: str | Path | None = None
    locked: bool = False
    offline: bool = False
    #: The plugins (hooks, sinks, notifiers, the embedded backend's local functions); None:
    #: the process-wide plugin manager.
    plugins: pluggy.PluginManager | None = None
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    #: Report every HTTP request as a `request` event (`run --verbose`).
    trace_requests: bool = False
    #: `HOST:PORT` for a webhook receiver (`--listen`): jobs' ends are heard, polling slows.
    listen: str | None = None
    #: The receiver's base URL as the service reaches it (`--public-url`; default http://HOST:PORT).
    public_url: str | None = None

    @property
    def files_dir(self) -> Path:
        """Where an embedded backend stores output files: `.sievefile/files` by the manifest."""
        return state_dir_for(self.manifest) / "files"


async def execute(
    request: RunRequest,
    *,
    report: Report | None = None,
    secrets: Secrets | None = None,
    on_scheduler: Callable[[Scheduler], None] | None = None,
    jitter: Callable[[float], float] = equal_jitter,
) -> RunSummary:
    """Run the request's manifest to the end and return what happened.

    `on_scheduler` receives the scheduler once it exists (the CLI uses it to interrupt);
    `jitter` turns a retry's backoff into the delay actually waited (a seam for tests).
    Raises ManifestError or ValidationError before anything is pushed when the manifest, an
    input, or a sink's or notifier's configuration is invalid; RunError when another process
    runs the same manifest; ConfigError when there is nothing to resume.
    """
    with Durability.open(request) as durability:
        pipeline = _Pipeline(request, durability, report, secrets, jitter)
        return await pipeline.run(on_scheduler)


class _Pipeline:
    """One run, step by step; see the module docstring."""

    def __init__(
        self,
        request: RunRequest,
        durability: Durability | None,
        report: Report | None,
        secrets: Secrets | None,
        jitter: Callable[[float], float],
    ) -> None:
        self.request = request
        self.durability = durability
        self._report: Report = report or (lambda event: None)
        #: What the caller shows is masked with every secret the run met: jobs' env values and
        #: the sinks' and notifiers' settings.
        self.shown_secrets = secrets if secrets is not None else Secrets()
        #: The jobs' own secrets: stored outputs holding one are masked and never reused. A
        #: sink's setting is not among them, so it cannot stop a finished job being kept.
        self.secrets = Secrets()
        # which instance each job id belongs to, for the watcher's "processing" news
        self._job_keys: dict[str, str] = {}
        self._early: set[str] = set()  # seen processing before their push was reported
        self._running: set[str] = set()  # reported running
        # told right after `run-started`, so that event comes first
        self._notices: list[RunEvent] = []
        self.jitter = jitter
        self.plugins = request.plugins or get_plugin_manager()
        self.environ = request.environ if request.environ is not None else os.environ
        self.records: dict[str, JobRecord] = {}

    async def run(self, on_scheduler: Callable[[Scheduler], None] | None) -> RunSummary:
        request, durability = self.request, self.durability
        started = time.time()
        # a resume runs what its run was started with, whatever this command says
        options = durability.options if durability is not None else {}
        select = options.get("select", request.select)
        exclude = options.get("exclude", request.exclude)
        pending = start_loading(
            request.manifest,
            variables=options.get("variables", request.variables),
            environ=request.environ,
        )
        async with contextlib.AsyncExitStack() as stack:
            connection: Connection | None = None
            early = _EarlyRequests()
            if request.backend.kind == "remote" and pending.document is not None:
                # A remote backend's first requests need only what the manifest names: sent
                # now, they travel while it is checked (docs/running.md, "Start-up").
                with contextlib.suppress(Exception):  # a bad URL is reported after the checks
                    connection = await stack.enter_async_context(self._connect())
                if connection is not None:
                    stack.push_async_callback(early.discard)
                    await self._send_early(early, pending.document, connection, select or exclude)
            manifest = pending.finish()
            plan = build_plan(manifest, select=select, exclude=exclude, environ=request.environ)
            delivery = configure_delivery(manifest, self.plugins, self.environ)
            self.shown_secrets.update(delivery.secrets)
            delivery.create()
            if connection is None:
                connection = await stack.enter_async_context(self._connect())
            connection.client.retry = RetryPolicy(
                budget=manifest.run.retry_budget,
                base_delay=manifest.run.retry_delay,
                max_delay=manifest.run.retry_max_delay,
            )
            # asked while the schemas are fetched: a round trip less before the first push
            probe = asyncio.ensure_future(self._parallelism(manifest, connection, early.probe))
            validate = None
            try:
                if request.check_inputs:
                    validate = await prepare_validation(
                        manifest,
                        plan,
                        early.fetcher or BackendFetcher(request.backend, client=connection.client),
                        schemas_dir=request.schemas_dir,
                        locked=request.locked,
                        offline=request.offline,
                    )
            except BaseException:
                probe.cancel()
                raise
            max_parallel = await probe
            journal = None
            if durability is not None:
                journal = durability.begin(manifest, self.secrets)
            self.info = RunInfo(
                run_id=durability.run_id if durability is not None else None,
                manifest=Path(request.manifest).resolve(),
                name=manifest.name,
                backend="embedded"
                if request.backend.kind == "embedded"
                else str(request.backend.url),
                started_at=started,
                resumed=durability.resuming if durability is not None else False,
                planned_jobs=plan.instance_count(),
            )
            local_files = request.files_dir if connection.local is not None else None
            self.files = OutputFiles(local_files)
            self.deliverer = Deliverer(
                delivery,
                run=self.info,
                files=self.files,
                ledger=durability.ledger if durability is not None else None,
                report=self.report,
                policy=request.delivery,
                jitter=self.jitter,
            )
            self._hook("run_started", run=self.info)
            self.deliverer.start()
            watcher, receiver = await self._watcher(connection)
            watcher.on_processing = self._processing(journal)
            policy = RunPolicy(
                max_parallel=max_parallel,
                fail_fast=manifest.run.fail_fast
                if request.fail_fast is None
                else request.fail_fast,
                keep_going=request.keep_going,
            )
            self._started(plan, policy.max_parallel)
            if durability is not None:
                self._notices.extend(durability.notices())
            for notice in self._notices:
                self.report(notice)
            scheduler = Scheduler(
                plan,
                connection.client,
                watcher,
                policy=policy,
                validate=validate,
                report=self.report,
                secrets=self.secrets,
                jitter=self.jitter,
                journal=journal,
                observer=self,
            )
            self.deliverer.stopping = lambda: scheduler.interrupted
            if on_scheduler is not None:
                on_scheduler(scheduler)
            # The manifest, the plan and the modules loaded by now last the whole run: a full
            # garbage collection need not scan them again (up to 22 ms each on 1,000 jobs).
            # Unfrozen after it, so a process that runs many manifests still collects them.
            gc.freeze()
            try:
                summary = await scheduler.run()
            finally:
                gc.unfreeze()
                await watcher.aclose()
                if receiver is not None:
                    await receiver.aclose()
            summary.requests = connection.client.request_count
        await self._deliver(summary, started)
        if durability is not None:
            durability.end(summary)
        self.shown_secrets.update(self.secrets)
        summary.wall_time = time.time() - started
        self._finished(summary)
        return summary

    async def _watcher(self, connection: Connection) -> tuple[JobWatcher, WebhookReceiver | None]:
        """How the run hears of jobs ending: the embedded backend's events, else polling,
        with `--listen` a webhook receiver whose deliveries the poller confirms."""
        if connection.local is not None:
            if self.request.listen:
                self.report(
                    RunEvent(
                        "notice",
                        "listen",
                        "--listen ignored: the embedded backend reports job ends directly",
                    )
                )
            return EventWatcher(connection.local), None
        if not self.request.listen:
            return ListWatcher(connection.client), None
        # starlette and uvicorn are imported only by runs that listen
        from runner.execute.receiver import WebhookReceiver, parse_listen

        host, port = parse_listen(self.request.listen)
        if self.request.public_url is not None:
            check_http_url(self.request.public_url, "--public-url")
        watcher = ListWatcher(connection.client, hinted=True)
        receiver = WebhookReceiver(host, port, watcher.hint, public_url=self.request.public_url)
        await receiver.start()
        watcher.webhook_url = receiver.url
        shown = receiver.url.rsplit("/", 1)[0] + "/<token>"
        self.report(RunEvent("notice", "listen", f"receiving job.complete webhooks at {shown}"))
        return watcher, receiver

    # -- events about the run itself (see RunEvent) ---------------------------------------

    def _started(self, plan: Plan, max_parallel: int) -> None:
        info = self.info
        jobs = {
            name: {
                "function": str(job.function),
                "instances": len(plan.instances(name)) if plan.is_expanded(name) else None,
            }
            for name, job in plan.jobs.items()
        }
        detail = {
            "run_id": info.run_id,
            "manifest": str(info.manifest),
            "name": info.name,
            "backend": info.backend,
            "resumed": info.resumed,
            "total": plan.instance_count(),
            "max_parallel": max_parallel,
            "jobs": jobs,
        }
        self.report(RunEvent("run-started", info.run_id or info.name, detail=detail))

    def _finished(self, summary: RunSummary) -> None:
        detail = {
            "run_id": summary.run_id,
            "status": summary.status,
            "counts": summary.counts(),
            "requests": summary.requests,
            "wall_time": round(summary.wall_time or 0.0, 3),
            "deliveries": summary.deliveries.to_json(),
        }
        key = summary.run_id or self.info.name
        self.report(RunEvent("run-finished", key, summary.status, detail=detail))

    def _processing(self, journal: RunJournal | None) -> OnProcessing:
        """The watcher's `on_processing`: record it, and report the instance `running`."""

        def processing(job_id: str, started_at: float | None = None) -> None:
            if journal is not None:
                journal.processing(job_id, started_at)
            if started_at is not None:
                return  # seen only once it had ended (it ran between two looks): no news
            # reported once per job: a backend may say "processing" at every progress update
            if job_id in self._running:
                return
            self._running.add(job_id)
            key = self._job_keys.pop(job_id, None)
            if key is not None:
                self.report(RunEvent("running", key, job_id=job_id))
            else:
                self._early.add(job_id)

        return processing

    def _traced(self, record: RequestRecord) -> None:
        path = self.shown_mask(record.path)
        detail = {
            "method": record.method,
            "path": path,
            "status": record.status,
            "seconds": round(record.seconds, 4),
        }
        message = f"{record.status} in {record.seconds * 1000:.0f} ms"
        if record.key_sent:
            message += " (X-API-Key: ***)"
        self.report(RunEvent("request", f"{record.method} {path}", message, detail=detail))

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Connection]:
        request = self.request
        async with open_connection(
            request.backend,
            files_dir=request.files_dir,
            # an embedded backend reads input files from the manifest's folder only
            input_roots=[Path(request.manifest).resolve().parent],
            plugins=self.plugins,
        ) as connection:
            if request.trace_requests:
                connection.client.observe_requests(self._traced)
            yield connection

    async def _send_early(
        self,
        early: _EarlyRequests,
        document: dict[str, Any],
        connection: Connection,
        selection: Sequence[str],
    ) -> None:
        """Start (into `early`) the requests the run makes before its first push that the
        unchecked `document` already tells: each unpinned function's metadata (when nothing
        else decides what is fetched: no lock file, no selection) and the service's
        concurrency (when neither `-j` nor the manifest sets `max_parallel`). Returns once
        they are sent."""
        request, client = self.request, connection.client
        client.note_sends()
        try:
            if (
                request.check_inputs
                and not request.offline
                and not request.locked  # a lock is required: without one, nothing is fetched
                and not selection
                and not lock_path_for(Path(request.manifest)).is_file()
            ):
                early.fetcher = BackendFetcher(request.backend, client=client)
                for ref in _unpinned_functions(document):
                    early.fetcher.fetch_early(ref.owner, ref.name)
            run_table = document.get("run")
            if request.max_parallel is None and not (
                isinstance(run_table, dict) and "max_parallel" in run_table
            ):
                early.probe = asyncio.ensure_future(service_concurrency(client))
        finally:
            await client.until_sent(_EARLY_SEND_WAIT)  # and stops noting sends

    async def _parallelism(
        self,
        manifest: Manifest,
        connection: Connection,
        early_probe: asyncio.Future[Concurrency | None] | None = None,
    ) -> int:
        """`-j`, else `[run] max_parallel`, else the default capped by the service's
        concurrency limit when it reports one (see docs/running.md)."""
        configured = configured_parallelism(manifest, self.request.max_parallel)
        if configured is not None or connection.local is not None:
            return configured or manifest.run.max_parallel
        concurrency = await (early_probe or service_concurrency(connection.client))
        parallelism = default_parallelism(configured, concurrency)
        if concurrency is not None:
            self._notices.append(
                RunEvent(
                    "notice",
                    "concurrency",
                    f"service: {concurrency.describe()}; this run: max_parallel {parallelism}",
                )
            )
        return parallelism

    async def _deliver(self, summary: RunSummary, started: float) -> None:
        """Wait for the sinks, then say the run finished (hooks, notifiers)."""
        stats = await self.deliverer.drain()
        status = "interrupted" if summary.interrupted else "finished" if summary.ok else "failed"
        result = RunResult(
            status=status,
            jobs=tuple(self.records[o.key] for o in summary.outcomes if o.key in self.records),
            duration=time.time() - started,
            requests=summary.requests,
            deliveries=stats,
        )
        self._hook("run_finished", run=self.info, summary=result)
        summary.deliveries = await self.deliverer.run_finished(result)

    # -- RunObserver: the scheduler tells what happens to each job instance ---------------------

    def pushed(self, outcome: JobOutcome) -> None:
        self._hook("job_pushed", run=self.info, job=self._record(outcome, JobStatus.PUSHED))

    def settled(self, outcome: JobOutcome) -> None:
        if outcome.detached:
            return  # still running on the service: a resume settles it
        record = self._record(outcome, _status_of(outcome))
        self.records[outcome.key] = record
        self._hook("job_finished", run=self.info, job=record)
        self.deliverer.job_ended(record)

    def _record(self, outcome: JobOutcome, status: JobStatus) -> JobRecord:
        function = _parse_function(outcome.function)
        instance = outcome.key[len(outcome.job) + 1 : -1] if outcome.key != outcome.job else ""
        final = status is not JobStatus.PUSHED
        return JobRecord(
            key=outcome.key,
            job=outcome.job,
            instance=instance,
            function=function.slug if function else outcome.function,
            version=function.version if function else None,
            status=status,
            job_id=outcome.job_id,
            attempts=outcome.attempts,
            outputs=tuple(
                self.files.record(outcome.key, index, data)
                for index, data in enumerate(outcome.outputs if final else ())
            ),
            error=self.shown_mask(outcome.error),
            allowed_failure=outcome.allowed,
            cached_from=outcome.cached_from,
            ended_at=time.time() if final else None,
            duration=outcome.duration if final else None,
        )

    def _hook(self, name: str, **arguments: Any) -> None:
        for problem in call_hook(self.plugins, name, **arguments):
            self.report(RunEvent("plugin-error", name, str(problem)))

    def shown_mask(self, text: str) -> str:
        self.shown_secrets.update(self.secrets)
        return self.shown_secrets.mask(text)

    def report(self, event: RunEvent) -> None:
        """Tell the caller, with every secret met so far masked; note which instance each
        pushed job id is (for reporting it `running`)."""
        self._report(dataclasses.replace(event, message=self.shown_mask(event.message)))
        if event.job_id is not None and event.kind in ("pushed", "reattached", "reconciled"):
            if event.job_id in self._early:  # seen processing before its push was reported
                self._early.discard(event.job_id)
                self._report(RunEvent("running", event.key, job_id=event.job_id))
            else:
                self._job_keys[event.job_id] = event.key


def _status_of(outcome: JobOutcome) -> JobStatus:
    if outcome.status is Status.FINISHED:
        return JobStatus.CACHED if outcome.cached_from is not None else JobStatus.FINISHED
    return {
        Status.FAILED: JobStatus.ERROR,
        Status.CANCELLED: JobStatus.CANCELLED,
        Status.SKIPPED: JobStatus.SKIPPED,
    }[outcome.status]


def _parse_function(text: str) -> FunctionRef | None:
    try:
        return FunctionRef.parse(text)
    except ValueError:
        return None


def run_manifest(
    request: RunRequest,
    *,
    report: Report | None = None,
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
                os._exit(EXIT_INTERRUPTED)  # a second Ctrl-C: no clean-up, at once
            for scheduler in holder:
                scheduler.interrupt(detach=request.detach)

        # Not possible outside the main thread or without signals: Ctrl-C then stops Python.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await execute(
                request,
                report=report,
                secrets=secrets,
                on_scheduler=holder.append,
            )
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())
