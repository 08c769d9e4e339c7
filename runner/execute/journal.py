"""What the scheduler asks and tells the ledger during one run: the durability of a run.

`RunJournal.start(...)` decides, before anything is pushed for a job instance, what to do:

- `kept`: the instance already finished in this run (a resume) with the same cache key: its
  outputs are used as they are;
- `cached`: an earlier finished job of this manifest had the same cache key (not forced);
- `reattached`: the instance has a job id and had not ended (a resume): wait for that job, which
  may have ended while no runner watched (its outputs are fetched then);
- `reconciled`: the ledger holds an intent without a job id (the runner died mid-push) and a
  matching job exists on the service: adopt it;
- `push`: nothing known (or a failed/cancelled/reconciled-without-match instance): push.

Then the scheduler reports each push (`intend` before, `pushed` after) and `settle`s each
outcome; the intent of an instance's first push is recorded by `start` itself, in the same
transaction as its cache lookup (one wait for the ledger's thread instead of two).
Everything that lands in the ledger is masked first. The writes run on the ledger's
own thread (`LedgerWriter`), off the event loop: only the intent is awaited (it must be on disk
before the push); the rest are queued in order, and `close()` waits for them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from runner.client import SieveClient
from runner.execute import ledger as states
from runner.execute.cache import cache_key
from runner.execute.ledger import JobRow, Ledger, LedgerWriter
from runner.execute.outcome import JobOutcome, Status
from runner.execute.reconcile import find_pushed_job
from runner.manifest.resolve import ResolvedJob
from runner.secrets import Secrets


@dataclass
class Start:
    """How a job instance begins: `kind` is kept, cached, reattached, reconciled or push."""

    kind: str
    job_id: str | None = None
    outputs: list[Any] | None = None
    cached_from: str | None = None
    attempts: int = 0
    #: For `push`: when the intent of its first push (attempt `attempts + 1`) was recorded.
    intent_at: float | None = None


_STATUS = {
    Status.FINISHED: states.FINISHED,
    Status.FAILED: states.FAILED,
    Status.CANCELLED: states.CANCELLED,
    Status.SKIPPED: states.SKIPPED,
}


class RunJournal:
    """The ledger of run `run_id` of `manifest`, seen from the scheduler.

    `resume` makes `start` look at this run's earlier rows; `forced` names the jobs whose cache
    is ignored (`force_all` ignores it for every job); `locked` maps function references to
    their lock file versions; `environ` names the secrets for cache keys. Without
    `jobs_outlive_runner` (the embedded backend, whose jobs die with the runner process) a
    resume pushes again what was in flight instead of re-attaching or reconciling.
    """

    def __init__(
        self,
        ledger: Ledger,
        run_id: str,
        manifest: str,
        *,
        resume: bool = False,
        forced: Collection[str] = (),
        force_all: bool = False,
        locked: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        secrets: Secrets | None = None,
        jobs_outlive_runner: bool = True,
    ) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.manifest = manifest
        self._earlier: dict[str, JobRow] = ledger.jobs(run_id) if resume else {}
        self._forced = set(forced)
        self._force_all = force_all
        self._locked = dict(locked or {})
        self._environ = dict(environ or {})
        self._secrets = secrets if secrets is not None else Secrets()
        self._keys: dict[str, str] = {}
        self._jobs_outlive_runner = jobs_outlive_runner
        self._writer = LedgerWriter(ledger.path)

    def flush(self) -> None:
        """Wait until every queued write is on disk."""
        self._writer.flush()

    def close(self) -> None:
        """Write what is queued and stop the writer's thread."""
        self._writer.close()

    def claimed_job_ids(self) -> set[str]:
        return self.ledger.claimed_job_ids()

    async def start(
        self, client: SieveClient, job: str, resolved: ResolvedJob, claimed: set[str]
    ) -> Start:
        """What to do for `resolved` (one instance of `job`); see the module docstring.

        `claimed` holds the job ids instances already own (a reconciliation adopts none of
        them, and adds the one it adopts)."""
        key = resolved.key
        self._keys[key] = cache_key(resolved, self._locked, self._environ)
        earlier = self._earlier.get(key)
        if earlier is not None and (
            self._jobs_outlive_runner or earlier.status not in states.UNRESOLVED
        ):
            same_work = earlier.cache_key == self._keys[key]
            if earlier.status in states.DONE and earlier.outputs is not None and same_work:
                return Start(
                    "kept",
                    job_id=earlier.job_id,
                    outputs=earlier.outputs,
                    cached_from=earlier.cached_from,
                    attempts=earlier.attempts,
                )
            if earlier.status in states.RUNNING_JOB and earlier.job_id:
                return Start("reattached", job_id=earlier.job_id, attempts=earlier.attempts)
            if earlier.status == states.PENDING and earlier.intent_at is not None:
                found = await find_pushed_job(
                    client,
                    str(resolved.function),
                    resolved.inputs,
                    earlier.intent_at,
                    defaults=resolved.input_defaults,
                    exclude=claimed,
                )
                if found is not None and found["id"] not in claimed:
                    claimed.add(found["id"])
                    await self._writer.call(
                        Ledger.pushed, self.run_id, key, found["id"], earlier.attempts
                    )
                    return Start("reconciled", job_id=found["id"], attempts=earlier.attempts)
        attempts = 0
        if earlier is not None:
            # an intent whose push never happened (nothing matched) does not count as an attempt
            unsent = earlier.status == states.PENDING and self._jobs_outlive_runner
            attempts = max(0, earlier.attempts - unsent)
        # One round trip to the ledger's thread: a cache hit is recorded, or else the first
        # push's intent is, in the same transaction.
        return await self._writer.call(
            _reuse_or_intend,
            self.manifest if not (self._force_all or job in self._forced) else None,
            self.run_id,
            key,
            job,
            str(resolved.function),
            self._keys[key],
            attempts,
        )

    async def intend(self, job: str, resolved: ResolvedJob, attempt: int) -> float:
        """Record that `resolved` is about to be pushed (on disk when this returns); returns
        the intent's time."""
        key = resolved.key
        if key not in self._keys:
            self._keys[key] = cache_key(resolved, self._locked, self._environ)
        return await self._writer.call(
            Ledger.intend, self.run_id, key, job, str(resolved.function), self._keys[key], attempt
        )

    def pushed(self, key: str, job_id: str, attempt: int) -> None:
        """Record `key`'s job id (queued: a crash before it is written is reconciled)."""
        self._writer.submit(Ledger.pushed, self.run_id, key, job_id, attempt)

    def processing(self, job_id: str, started_at: float | None = None) -> None:
        """The watcher saw `job_id` processing on the service (since `started_at`, when the
        service said)."""
        self._writer.submit(Ledger.processing, self.run_id, job_id, started_at)

    def settle(self, outcome: JobOutcome) -> None:
        """Record how `outcome` ended. A detached instance keeps its in-flight row (a resume
        re-attaches to it); a cached one was recorded by `start`."""
        if outcome.detached or outcome.cached_from is not None:
            return
        status = _STATUS[outcome.status]
        outputs = self._secrets.mask_value(outcome.outputs) if status == states.FINISHED else None
        # outputs holding a secret are stored masked: reusing them would pass on `***`
        reusable = outputs == (outcome.outputs if status == states.FINISHED else None)
        self._writer.submit(
            _write_outcome,
            self.run_id,
            outcome.key,
            outcome.job,
            outcome.function,
            outcome.job_id,
            status,
            outputs=outputs,
            error=self._secrets.mask(outcome.error),
            reusable=reusable,
            cache_key=self._keys.get(outcome.key) if reusable else None,
        )


def _reuse_or_intend(
    ledger: Ledger,
    manifest: str | None,
    run_id: str,
    key: str,
    job: str,
    function: str,
    cache_key: str,
    attempts: int,
) -> Start:
    """`RunJournal.start`'s write, on the ledger's thread: an earlier finished job of
    `manifest` (None: the cache is not used) with `cache_key` is recorded as this instance's
    outcome (`cached`); else the intent of push `attempts + 1` is recorded (`push`)."""
    hit = ledger.cached(manifest, cache_key) if manifest is not None else None
    if hit is None or hit.outputs is None:
        intent_at = ledger.intend(run_id, key, job, function, cache_key, attempts + 1)
        return Start("push", attempts=attempts, intent_at=intent_at)
    origin = hit.cached_from or f"{hit.run_id}/{hit.key}"
    ledger.record(
        run_id,
        key,
        job,
        function,
        states.CACHED,
        cache_key=cache_key,
        outputs=hit.outputs,
        cached_from=origin,
        job_id=hit.job_id,
    )
    return Start("cached", job_id=hit.job_id, outputs=hit.outputs, cached_from=origin)


def _write_outcome(
    ledger: Ledger,
    run_id: str,
    key: str,
    job: str,
    function: str,
    job_id: str | None,
    status: str,
    *,
    outputs: list[Any] | None,
    error: str,
    reusable: bool,
    cache_key: str | None,
) -> None:
    """`RunJournal.settle`'s write, on the ledger's thread."""
    row = ledger.job(run_id, key)
    if row is not None and row.status in states.DONE and status == states.FINISHED:
        return  # kept from before this resume
    if row is not None and row.status in states.UNRESOLVED and job_id is None:
        return  # an intent or job this run never got to: the next resume resolves it
    if row is None or job_id is None:
        ledger.record(
            run_id,
            key,
            job,
            function,
            status,
            cache_key=cache_key,
            outputs=outputs,
            error=error,
        )
    else:
        ledger.ended(run_id, key, status, outputs=outputs, error=error, reusable=reusable)
