"""The scheduler: runs a plan's jobs in dependency order, in parallel, against any backend.

A job starts when every job it depends on has finished; its instances (one, or one per matrix
combination) are resolved from the upstream outputs, validated, pushed and watched, at most
`max_parallel` at a time, fewer while the service refuses pushes with 429
(`runner.execute.window.CongestionWindow`). What a failure does:

- `continue_on_error` on the job: the failure is tolerated; its dependents are skipped, the rest
  of the run goes on and the run can still succeed.
- `keep_going` (`--keep-going`): every branch that can still run runs; only the failed job's
  dependents are skipped; the run fails.
- `fail_fast` (the default): jobs in flight are cancelled (`DELETE`) and the rest skipped.
- neither: jobs in flight finish, nothing new starts.

A job that ends in `error` is pushed again up to `retries` times, after an exponential backoff.
A job still running after `timeout` seconds (counted from its push) is cancelled and fails.
A push whose outcome is unknown (the answer was lost) is reconciled before anything else: the
recent jobs are listed and a job with the same function and inputs is adopted
(`runner.execute.reconcile`); only when none exists is the job pushed again, after the client's
backoff, for as long as its retry budget lasts (`RetryPolicy.budget`, `[run] retry_budget`).
`interrupt()` (Ctrl-C) cancels every job in flight and skips the rest; `interrupt(detach=True)`
leaves the jobs in flight running on the service (a resume re-attaches to them).

With a `journal` (`runner.execute.journal.RunJournal`) every push is recorded in the run ledger
before and after it happens, every outcome when it ends, and each instance may begin from what
the ledger knows (kept, cached, re-attached) instead of a push.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from runner.client import RetryPolicy, SieveClient, equal_jitter
from runner.errors import ApiError, PushOutcomeUnknown, SievefileError
from runner.execute.journal import RunJournal
from runner.execute.outcome import JobOutcome, Report, RunEvent, RunSummary, Status
from runner.execute.reconcile import find_pushed_job
from runner.execute.watch import JobWatcher
from runner.execute.window import CongestionWindow
from runner.manifest.matrix import JobInstance
from runner.manifest.model import DEFAULT_MAX_PARALLEL
from runner.manifest.plan import Plan
from runner.manifest.resolve import ResolvedJob
from runner.secrets import Secrets

#: Pushes sent at once, each on a connection of the client's (`runner.transport.MAX_CONNECTIONS`
#: leaves the rest to the watcher, so a poll never queues behind pushes). At 50, the first wave
#: of 100 independent chains went out in two rounds, 0.1 s apart.
PUSH_CONCURRENCY = 100

#: Why a job or instance the run never started was skipped.
STOPPED_BEFORE_START = "the run stopped before it started"

#: Called with each resolved job before its push; raises ValidationError to stop it.
Validate = Callable[[ResolvedJob], None]


class RunObserver(Protocol):
    """Told about each job instance as it is pushed and once its outcome is final (the run
    pipeline turns these into hooks, notifications and deliveries)."""

    def pushed(self, outcome: JobOutcome) -> None: ...

    def settled(self, outcome: JobOutcome) -> None: ...


@dataclass(frozen=True)
class RunPolicy:
    """How a run treats parallelism and failures (manifest `[run]`, overridden by flags)."""

    max_parallel: int = DEFAULT_MAX_PARALLEL
    fail_fast: bool = True
    keep_going: bool = False
    retry_base_delay: float = 2.0
    retry_max_delay: float = 60.0


class Scheduler:
    """Runs one plan once. Use `await Scheduler(...).run()`."""

    def __init__(
        self,
        plan: Plan,
        client: SieveClient,
        watcher: JobWatcher,
        *,
        policy: RunPolicy | None = None,
        validate: Validate | None = None,
        report: Report | None = None,
        secrets: Secrets | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        jitter: Callable[[float], float] = equal_jitter,
        journal: RunJournal | None = None,
        observer: RunObserver | None = None,
    ) -> None:
        self.plan = plan
        self.client = client
        self.watcher = watcher
        self.policy = policy or RunPolicy()
        self.secrets = secrets if secrets is not None else Secrets()
        self._validate = validate
        self._report = report or (lambda event: None)
        self._sleep = sleep
        self._jitter = jitter
        self.window = CongestionWindow(self.policy.max_parallel)
        # a job that ended in error waits as a failed request does (before jitter)
        self._job_retry = RetryPolicy(
            base_delay=self.policy.retry_base_delay, max_delay=self.policy.retry_max_delay
        )
        self._pushing = asyncio.Semaphore(PUSH_CONCURRENCY)
        self._results: dict[str, dict[str, Any]] = {}
        self._outcomes: dict[str, JobOutcome] = {}
        self._job_tasks: dict[str, asyncio.Task[bool]] = {}
        # jobs not started yet, each with the jobs it needs; and the jobs that ended
        self._waiting = {name: set(needs) for name, needs in plan.graph.items()}
        self._needed_by: dict[str, list[str]] = {name: [] for name in plan.graph}
        for name, needs in plan.graph.items():
            for need in needs:
                self._needed_by[need].append(name)
        self._succeeded: set[str] = set()
        self._unsuccessful: set[str] = set()
        self._begun: set[str] = set()  # jobs whose task ran its first step
        self._ended: asyncio.Future[None]
        self._remote_cancels: set[asyncio.Future[None]] = set()
        self._stopping = False
        self._interrupted = False
        self._detach = False
        self.journal = journal
        self.observer = observer
        # job ids owned by an instance: a reconciliation never adopts one of them twice
        self._claimed: set[str] = journal.claimed_job_ids() if journal is not None else set()

    # -- public -------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        """Run every job of the plan; returns when all have ended or were skipped."""
        stop_listening = self.client.add_response_listener(self.window.observe)
        try:
            return await self._run()
        finally:
            stop_listening()

    async def _run(self) -> RunSummary:
        self._ended = asyncio.get_running_loop().create_future()
        self._advance(self.plan.graph)
        try:
            await self._ended
        except BaseException:
            # An error (the service lost, a bug) ends the run: what is in flight is cancelled
            # on the service, and the error raised once that is done.
            self._stop(cancel_in_flight=True)
            await self._wind_down()
            raise
        await self._wind_down()
        return self._summary()

    async def _wind_down(self) -> None:
        """Wait for the job tasks still running and for the DELETEs of the instances that
        were cancelled: none may still be out when the run returns and its client closes."""
        while True:
            pending: list[asyncio.Future[Any]] = [*self._job_tasks.values()]
            pending += self._remote_cancels
            if not pending:
                return
            await asyncio.wait(pending)

    def _advance(self, names: Iterable[str]) -> None:
        """Start each of `names` whose needs have all finished; skip each that can no longer
        run (a need did not finish, or the run is stopping), and then what needs it.

        Called once with every job, then as each job ends with the jobs that need it: a job's
        end costs what depends on it, not a look at every job and task of the run.
        """
        pending = list(names)
        for name in pending:  # grows as skipped jobs make the jobs that need them skippable
            needs = self._waiting.get(name)
            if needs is None:
                continue
            failed_needs = sorted(needs & self._unsuccessful)
            if failed_needs or self._stopping:
                del self._waiting[name]
                self._unsuccessful.add(name)
                reason = (
                    f"needs {', '.join(failed_needs)}, which did not finish"
                    if failed_needs
                    else STOPPED_BEFORE_START
                )
                self._skip_job(name, reason)
                pending.extend(self._needed_by[name])
            elif needs <= self._succeeded:
                del self._waiting[name]
                task = asyncio.create_task(self._run_job(name), name=name)
                self._job_tasks[name] = task
                task.add_done_callback(self._job_ended)
        if not self._job_tasks and not self._ended.done():
            self._ended.set_result(None)

    def _job_ended(self, task: asyncio.Task[bool]) -> None:
        name = task.get_name()
        del self._job_tasks[name]
        try:
            if task.cancelled():
                if name not in self._begun:
                    # cancelled (a stop) in the loop turn that started it, before its first line
                    self._skip_job(name, STOPPED_BEFORE_START)
                self._unsuccessful.add(name)
            elif task.result():  # raises the job's error, if it had one
                self._succeeded.add(name)
            else:
                self._unsuccessful.add(name)
            self._advance(list(self._waiting) if self._stopping else self._needed_by[name])
        except BaseException as error:
            # A done-callback's error would only be logged and the run would wait for ever:
            # the run fails with the first error (a job's, or a report's while skipping).
            if not self._ended.done():
                self._ended.set_exception(error)

    @property
    def interrupted(self) -> bool:
        """Whether `interrupt()` was called (Ctrl-C)."""
        return self._interrupted

    def interrupt(self, *, detach: bool = False) -> None:
        """Stop the run: cancel every job in flight (DELETE) and skip the rest; with `detach`
        the jobs in flight keep running on the service, for a later resume."""
        self._interrupted = True
        self._detach = detach
        self._stop(cancel_in_flight=True)

    # -- jobs ---------------------------------------------------------------------------

    async def _run_job(self, name: str) -> bool:
        """Run every instance of job `name`; True when all of them finished."""
        self._begun.add(name)
        job = self.plan.jobs[name]
        if not self.plan.is_expanded(name):
            try:
                instances = self.plan.expand(name, self._results)
            except SievefileError as error:
                outcome = JobOutcome(name, name, str(job.function), Status.FAILED)
                self._outcomes[name] = outcome
                self._fail(outcome, str(error), allowed=job.continue_on_error)
                self._settle(outcome)
                return False
            self._emit(
                "expanded",
                name,
                f"{len(instances)} instances",
                detail={"instances": len(instances)},
            )
        instances = self.plan.instances(name)
        if len(instances) == 1:  # the usual job: no task of its own, which costs a loop turn
            outcomes = [await self._run_instance(instances[0])]
        else:
            tasks = [asyncio.ensure_future(self._run_instance(i)) for i in instances]
            try:
                outcomes = await asyncio.gather(*tasks)
            except BaseException as error:
                # Cancelled (gather cancelled them), or one instance broke: each other instance
                # cancels its job on the service as it stops; the job ends after they have.
                if not isinstance(error, asyncio.CancelledError):
                    for task in tasks:
                        task.cancel()
                await asyncio.wait(tasks)
                raise
        return all(outcome.status is Status.FINISHED for outcome in outcomes)

    def _skip_job(self, name: str, reason: str) -> None:
        job = self.plan.jobs[name]
        keys = [i.key for i in self.plan.instances(name)] if self.plan.is_expanded(name) else [name]
        for key in keys:
            outcome = JobOutcome(key, name, str(job.function), Status.SKIPPED, error=reason)
            self._outcomes[key] = outcome
            self._emit("skipped", key, reason)
            self._settle(outcome)

    async def _run_instance(self, instance: JobInstance) -> JobOutcome:
        job = instance.job
        outcome = JobOutcome(instance.key, job.name, str(job.function), Status.FAILED)
        self._outcomes[instance.key] = outcome
        started = time.monotonic()
        try:
            async with self.window:
                if self._stopping:
                    outcome.status = Status.SKIPPED
                    outcome.error = STOPPED_BEFORE_START
                    self._emit("skipped", instance.key, outcome.error)
                    return outcome
                await self._attempts(instance, outcome)
        except asyncio.CancelledError:
            await self._cancel_shielded(outcome)
        except SievefileError as error:
            self._fail(outcome, str(error), allowed=job.continue_on_error)
        except Exception as error:
            # A bug (sievefile's, a plugin's, a caller's report) ends the run with it, but not
            # with this instance's job still running, and paid for, on the service.
            if outcome.job_id is not None and outcome.status is not Status.FINISHED:
                outcome.status = Status.CANCELLED
                outcome.error = self.secrets.mask(f"cancelled: the run failed ({error!r})")
                await self._cancel_shielded(outcome, quiet=True)
            raise
        finally:
            outcome.duration = time.monotonic() - started
            self._settle(outcome)
        return outcome

    def _settle(self, outcome: JobOutcome) -> None:
        if self.journal is not None:
            self.journal.settle(outcome)
        if self.observer is not None:
            self.observer.settled(outcome)

    async def _attempts(self, instance: JobInstance, outcome: JobOutcome) -> None:
        job = instance.job
        resolved = self.plan.resolve(instance, self._results)
        self.secrets.update(resolved.secrets)
        if self._validate is not None:
            self._validate(resolved)  # may pin the locked version
        outcome.function = str(resolved.function)
        job_id: str | None = None
        sent_at: float | None = None
        intent_at: float | None = None  # the first push's intent, when the journal wrote it
        if self.journal is not None:
            start = await self.journal.start(self.client, job.name, resolved, self._claimed)
            outcome.attempts = start.attempts
            intent_at = start.intent_at
            if start.outputs is not None:
                outcome.status = Status.FINISHED
                outcome.job_id = start.job_id
                outcome.outputs = start.outputs
                outcome.cached_from = start.cached_from if start.kind == "cached" else None
                self._keep_result(outcome)
                origin = f"outputs of {start.cached_from}" if start.kind == "cached" else ""
                self._emit(start.kind, instance.key, origin, job_id=start.job_id)
                return
            if start.job_id is not None:
                job_id = start.job_id
                self._claimed.add(job_id)
                self._emit(start.kind, instance.key, job_id=job_id, attempt=outcome.attempts)
        while True:
            if job_id is None:
                outcome.attempts += 1
                async with self._pushing:
                    job_id, sent_at = await self._push(resolved, outcome, intent_at)
                intent_at = None
            outcome.job_id = job_id
            try:
                final = await asyncio.wait_for(
                    self.watcher.wait(outcome.job_id, outcome.function, sent_at), job.timeout
                )
            except asyncio.TimeoutError:
                self.watcher.forget(outcome.job_id)
                await self._cancel_remote(outcome, quiet=True)
                self._fail(
                    outcome,
                    f"timed out after {job.timeout:g}s (job {outcome.job_id} cancelled)",
                    allowed=job.continue_on_error,
                )
                return
            except SievefileError:
                # We lost track of the job (the service stopped answering): don't leave it
                # running, and paying, behind us.
                self.watcher.forget(outcome.job_id)
                await self._cancel_remote(outcome, quiet=True)
                raise
            status = final.get("status")
            if status == "finished":
                outcome.status = Status.FINISHED
                outcome.outputs = [item.get("data") for item in final.get("outputs") or []]
                self._keep_result(outcome)
                self._emit("finished", instance.key, job_id=outcome.job_id)
                return
            message = final.get("error") or f"the job ended {status}"
            if status == "error" and outcome.attempts <= job.retries:
                delay = self._jitter(self._job_retry.backoff(outcome.attempts))
                self._emit(
                    "retrying",
                    instance.key,
                    f"{message}; retry {outcome.attempts} of {job.retries} in {delay:.1f}s",
                    job_id=outcome.job_id,
                    attempt=outcome.attempts,
                )
                await self._sleep(delay)
                if not self._stopping:
                    job_id = sent_at = None
                    continue
                message += " (not retried: the run is stopping)"
            if status == "cancelled":
                message = f"job {outcome.job_id} was cancelled on the service"
            self._fail(outcome, message, allowed=job.continue_on_error)
            return

    def _keep_result(self, outcome: JobOutcome) -> None:
        """A finished instance's outputs, for the references of the jobs that need it."""
        self._results[outcome.key] = {
            "id": outcome.job_id,
            "status": "finished",
            "outputs": outcome.outputs,
        }

    async def _push(
        self, resolved: ResolvedJob, outcome: JobOutcome, intent_at: float | None = None
    ) -> tuple[str, float]:
        """Push `resolved` once and return its job id and when (`time.monotonic()`) the push
        that made it left, recording the push in the journal (`intent_at`: its intent is
        recorded already, at that time).

        A lost answer is reconciled: a job with the same function and inputs created since the
        intent is adopted; only when none exists is it pushed again, after the client's backoff
        (prompt at first), until the client's retry budget is spent since the first try; then
        PushOutcomeUnknown propagates. Never pushed again before looking.
        """
        key, job_name, function = resolved.key, outcome.job, str(resolved.function)
        retry = self.client.retry
        started = time.monotonic()
        lost = 0
        while True:
            if intent_at is not None:
                since, intent_at = intent_at, None
            elif self.journal is not None:
                since = await self.journal.intend(job_name, resolved, outcome.attempts)
            else:
                since = time.time()
            sent_at = time.monotonic()
            try:
                pushed = await self.client.push(
                    function,
                    resolved.inputs,
                    webhooks=[*resolved.webhooks, *self.watcher.webhooks] or None,
                    env=resolved.env or None,
                )
            except PushOutcomeUnknown as error:
                found = await find_pushed_job(
                    self.client,
                    function,
                    resolved.inputs,
                    since,
                    defaults=resolved.input_defaults,
                    exclude=self._claimed,
                )
                if found is not None and found["id"] not in self._claimed:
                    job_id = str(found["id"])
                    self._claim(outcome, job_id)
                    self._emit(
                        "reconciled",
                        key,
                        f"the push's answer was lost ({error.cause}); found its job",
                        job_id=job_id,
                        attempt=outcome.attempts,
                    )
                    return job_id, sent_at
                lost += 1
                delay = self._jitter(retry.backoff(lost))
                if time.monotonic() - started + delay > retry.budget:
                    raise
                self._emit(
                    "retrying",
                    key,
                    f"the push's answer was lost ({error.cause}) and no such job exists; "
                    f"pushing again in {delay:.2f}s",
                    attempt=outcome.attempts,
                )
                await self._sleep(delay)
                continue
            job_id = str(pushed["id"])
            self._claim(outcome, job_id)
            self._emit("pushed", key, job_id=job_id, attempt=outcome.attempts)
            return job_id, sent_at

    def _claim(self, outcome: JobOutcome, job_id: str) -> None:
        """`job_id` is the job of `outcome` now: recorded, and never adopted by another."""
        self._claimed.add(job_id)
        outcome.job_id = job_id
        if self.journal is not None:
            self.journal.pushed(outcome.key, job_id, outcome.attempts)
        if self.observer is not None:
            self.observer.pushed(outcome)

    # -- failure and cancellation ---------------------------------------------------------

    def _fail(self, outcome: JobOutcome, message: str, *, allowed: bool) -> None:
        outcome.status = Status.FAILED
        outcome.error = self.secrets.mask(message)
        outcome.allowed = allowed
        self._emit("failed", outcome.key, outcome.error, job_id=outcome.job_id)
        if allowed or self.policy.keep_going:
            return
        self._stop(cancel_in_flight=self.policy.fail_fast)

    def _stop(self, *, cancel_in_flight: bool) -> None:
        self._stopping = True
        if cancel_in_flight:
            for task in self._job_tasks.values():
                task.cancel()

    async def _cancel_shielded(self, outcome: JobOutcome, *, quiet: bool = False) -> None:
        """`_cancel_remote`, shielded: a second cancel (another failure's stop) must not leave
        the job running on the service; the run waits for it before it returns."""
        cancel = asyncio.ensure_future(self._cancel_remote(outcome, quiet=quiet))
        self._remote_cancels.add(cancel)
        cancel.add_done_callback(self._remote_cancels.discard)
        await asyncio.shield(cancel)

    async def _cancel_remote(self, outcome: JobOutcome, *, quiet: bool = False) -> None:
        """DELETE the job of `outcome` if one was pushed; record it as cancelled."""
        if not quiet:
            outcome.status = Status.CANCELLED
            outcome.error = "cancelled: " + (
                "interrupted" if self._interrupted else "another job failed (fail_fast)"
            )
        if outcome.job_id is None:
            if not quiet:
                outcome.status = Status.SKIPPED
                outcome.error = STOPPED_BEFORE_START
                self._emit("skipped", outcome.key, outcome.error)
            return
        self.watcher.forget(outcome.job_id)
        if self._detach and not quiet:
            outcome.detached = True
            outcome.error = f"detached: job {outcome.job_id} keeps running; resume to collect it"
            self._emit("detached", outcome.key, outcome.error, job_id=outcome.job_id)
            return
        try:
            await self.client.cancel_job(outcome.job_id)
        except ApiError as error:
            if error.status_code != 400:  # 400: it had already ended
                outcome.error += f" (cancelling job {outcome.job_id} failed: {error})"
        except SievefileError as error:
            outcome.error += f" (cancelling job {outcome.job_id} failed: {error})"
        if not quiet:
            self._emit("cancelled", outcome.key, outcome.error, job_id=outcome.job_id)

    # -- reporting ------------------------------------------------------------------------

    def _emit(
        self,
        kind: str,
        key: str,
        message: str = "",
        *,
        job_id: str | None = None,
        attempt: int = 0,
        detail: dict[str, Any] | None = None,
    ) -> None:
        event = RunEvent(kind, key, self.secrets.mask(message), job_id, attempt, detail or {})
        self._report(event)

    def _summary(self) -> RunSummary:
        by_job: dict[str, list[JobOutcome]] = {}
        for outcome in self._outcomes.values():
            by_job.setdefault(outcome.job, []).append(outcome)
        ordered = [o for wave in self.plan.waves for name in wave for o in by_job.get(name, ())]
        return RunSummary(ordered, interrupted=self._interrupted)
