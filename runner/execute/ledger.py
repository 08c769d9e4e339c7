"""The run ledger: what each run of a manifest did, in SQLite, written before each irreversible
step.

`.sievefile/state.db` next to the manifest (WAL, synchronous=FULL) holds one row per run and one
per job instance of a run. The order of writes is what makes a crash at any instruction safe:

1. `intend(...)`: the push is about to happen (time, function, cache key); no job id yet.
2. the push.
3. `pushed(...)`: the job id the service answered.
4. `ended(...)`: the final status, outputs (masked), error.

A row with an intent and no job id is an unknown-outcome push: resume reconciles it against
`GET /v2/jobs` before pushing again (`runner.execute.reconcile`). Secret values never reach the
ledger: inputs are stored only as their cache key (secrets replaced by their names), outputs
and errors are masked.

`LedgerWriter` runs a ledger's calls on a thread of its own, in order, so a run's event loop
never waits for a commit (each is an fsync) unless it must: before a push, the intent.

`RunLock` keeps two runs of one manifest from interleaving: an OS lock (`flock`) on
`.sievefile/<manifest>.lock`, released by the kernel when its process dies, so a SIGKILLed run
never blocks the next one.

`SIEVEFILE_TEST_CRASH_AT=<point>:<n>` makes the n-th `checkpoint(point)` SIGKILL this process:
the seam the crash tests use to stop the runner at exact places of a run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import json
import logging
import os
import queue
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from runner.errors import RunError
from runner.resources import STATE_DIR

logger = logging.getLogger("sievefile.ledger")
T = TypeVar("T")
CRASH_ENV = "SIEVEFILE_TEST_CRASH_AT"

# Row states of a job instance in a run.
PENDING = "pending"  # intent recorded, job id unknown (the push may or may not have happened)
IN_FLIGHT = "in_flight"  # pushed, not yet seen processing, not ended
PROCESSING = "processing"  # seen processing on the service
FINISHED = "finished"
FAILED = "failed"
CANCELLED = "cancelled"
SKIPPED = "skipped"
CACHED = "cached"  # outputs reused from an earlier finished job, nothing pushed
#: States whose outputs a later run or a resume may reuse.
DONE = frozenset({FINISHED, CACHED})
#: States of an instance whose job may exist on the service and is not known to have ended.
UNRESOLVED = frozenset({PENDING, IN_FLIGHT, PROCESSING})
#: States of an instance with a job on the service that has not ended.
RUNNING_JOB = frozenset({IN_FLIGHT, PROCESSING})

# Run states.
RUNNING = "running"
RUN_OK = "finished"
RUN_FAILED = "failed"
RUN_INTERRUPTED = "interrupted"
#: Every job finished but some outputs or notifications were not delivered: resumable.
RUN_UNDELIVERED = "undelivered"
DELIVERED = "delivered"
UNDELIVERED = "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    manifest TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    pid INTEGER,
    options TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS jobs (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    job TEXT NOT NULL,
    function TEXT NOT NULL,
    cache_key TEXT,
    status TEXT NOT NULL,
    job_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    intent_at REAL,
    pushed_at REAL,
    started_at REAL,
    ended_at REAL,
    outputs TEXT,
    error TEXT NOT NULL DEFAULT '',
    cached_from TEXT,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS jobs_cache ON jobs (cache_key, status);
CREATE TABLE IF NOT EXISTS deliveries (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    output INTEGER NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    location TEXT,
    sha256 TEXT,
    error TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    at REAL NOT NULL,
    PRIMARY KEY (run_id, key, output, target)
);
CREATE TABLE IF NOT EXISTS job_ids (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    pushed_at REAL NOT NULL
);
"""


def state_dir_for(manifest: str | os.PathLike[str]) -> Path:
    """`.sievefile/` in the manifest's folder."""
    return Path(manifest).resolve().parent / STATE_DIR


def new_run_id(clock: float | None = None) -> str:
    """`20260128-142501-3fa2`: sortable by start time, unique enough for one folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock if clock is not None else time.time()))
    return f"{stamp}-{uuid.uuid4().hex[:4]}"


@dataclass
class JobRow:
    """One job instance of one run, as the ledger has it."""

    run_id: str
    key: str
    job: str
    function: str
    cache_key: str | None
    status: str
    job_id: str | None
    attempts: int
    intent_at: float | None
    pushed_at: float | None
    started_at: float | None
    ended_at: float | None
    outputs: list[Any] | None
    error: str
    cached_from: str | None


@dataclass
class DeliveryRow:
    """One output of one job instance handed to one sink (`target`: the sink's identity)."""

    run_id: str
    key: str
    output: int
    target: str
    status: str
    location: str | None
    sha256: str | None
    error: str
    attempts: int
    at: float


@dataclass
class RunRow:
    """One run of a manifest."""

    run_id: str
    manifest: str
    manifest_sha256: str
    status: str
    started_at: float
    ended_at: float | None
    pid: int | None
    options: dict[str, Any]


class RunLock:
    """An exclusive `flock` on `.sievefile/<manifest name>.lock` while a run goes on.

    `acquire()` raises RunError (naming the pid holding it) when another process runs the
    manifest. The kernel drops the lock when the process dies, however it dies.
    """

    def __init__(self, manifest: str | os.PathLike[str]) -> None:
        self.manifest = Path(manifest)
        self.path = state_dir_for(manifest) / f"{self.manifest.name}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:  # `.sievefile` is a file, a folder cannot be written, ...
            raise RunError(f"cannot use the run state at {self.path.parent}: {error}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunError(
                f"{self.manifest}: another sievefile run of this manifest is in progress "
                f"(pid {holder}); wait for it to end, or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def is_held(self) -> bool:
        """True when the lock is held right now (a run of the manifest is going on)."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class Ledger:
    """The SQLite ledger of one manifest folder; see the module docstring.

    Every write commits at once (autocommit), so what a method returned is on disk.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.path.parent / ".gitignore"
            if not ignore.exists():
                # local state, never to be committed (secrets are masked, job ids are private)
                ignore.write_text("# sievefile's local run state; not for version control\n*\n")
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as error:
            # `.sievefile` is a file, state.db is a folder or not a database, a locked file
            if db is not None:
                db.close()
            advice = ""
            if isinstance(error, sqlite3.DatabaseError):
                advice = "; move it aside to start afresh (the runs it recorded are then forgotten)"
            raise RunError(f"cannot use the run state at {self.path}: {error}{advice}") from None
        self._db = db
        self._crash_point, self._crash_count = _crash_setting()

    @classmethod
    def for_manifest(cls, manifest: str | os.PathLike[str]) -> Ledger:
        return cls(state_dir_for(manifest) / "state.db")

    def close(self) -> None:
        self._db.close()

    # -- runs -----------------------------------------------------------------------------

    def start_run(
        self, run_id: str, manifest: str, manifest_sha256: str, options: dict[str, Any]
    ) -> None:
        """Record a new run (or a resumed one, which keeps its rows) as running by this process."""
        self._db.execute(
            "INSERT INTO runs (run_id, manifest, manifest_sha256, status, started_at, pid, options)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(run_id) DO UPDATE SET status = excluded.status, pid = excluded.pid,"
            " ended_at = NULL, manifest_sha256 = excluded.manifest_sha256",
            (run_id, manifest, manifest_sha256, RUNNING, time.time(), os.getpid(),
             json.dumps(options)),
        )  # fmt: skip

    def end_run(self, run_id: str, status: str) -> None:
        self._db.execute(
            "UPDATE runs SET status = ?, ended_at = ? WHERE run_id = ?",
            (status, time.time(), run_id),
        )

    def run(self, run_id: str) -> RunRow | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run_row(row) if row else None

    def runs(self, manifest: str | None = None) -> list[RunRow]:
        """Runs, newest first (of one manifest when given)."""
        if manifest is None:
            rows = self._db.execute("SELECT * FROM runs ORDER BY started_at DESC").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE manifest = ? ORDER BY started_at DESC", (manifest,)
            ).fetchall()
        return [_run_row(row) for row in rows]

    def unfinished_run(self, manifest: str) -> RunRow | None:
        """The newest run of `manifest` that did not end (crashed or interrupted), if any."""
        for run in self.runs(manifest):
            if run.status in (RUNNING, RUN_INTERRUPTED, RUN_UNDELIVERED):
                return run
            if run.status in (RUN_OK, RUN_FAILED):
                return None
        return None

    # -- jobs -----------------------------------------------------------------------------

    def jobs(self, run_id: str) -> dict[str, JobRow]:
        rows = self._db.execute("SELECT * FROM jobs WHERE run_id = ?", (run_id,)).fetchall()
        return {row["key"]: _job_row(row) for row in rows}

    def job(self, run_id: str, key: str) -> JobRow | None:
        row = self._db.execute(
            "SELECT * FROM jobs WHERE run_id = ? AND key = ?", (run_id, key)
        ).fetchone()
        return _job_row(row) if row else None

    def claimed_job_ids(self) -> set[str]:
        """Every job id any run recorded (a reconciliation must not adopt one of them)."""
        rows = self._db.execute("SELECT job_id FROM job_ids").fetchall()
        return {row["job_id"] for row in rows}

    def intend(
        self, run_id: str, key: str, job: str, function: str, cache_key: str | None, attempt: int
    ) -> float:
        """Record that `key` is about to be pushed (attempt `attempt`); returns the intent time."""
        now = time.time()
        self._db.execute(
            "INSERT INTO jobs (run_id, key, job, function, cache_key, status, job_id, attempts,"
            " intent_at, pushed_at, ended_at, outputs, error, cached_from)"
            " VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, NULL, '', NULL)"
            " ON CONFLICT(run_id, key) DO UPDATE SET function = excluded.function,"
            " cache_key = excluded.cache_key, status = excluded.status, job_id = NULL,"
            " attempts = excluded.attempts, intent_at = excluded.intent_at, pushed_at = NULL,"
            " started_at = NULL,"
            " ended_at = NULL, outputs = NULL, error = '', cached_from = NULL",
            (run_id, key, job, function, cache_key, PENDING, attempt, now),
        )
        self.checkpoint("before-push")
        return now

    def pushed(self, run_id: str, key: str, job_id: str, attempt: int) -> None:
        """Record the job id of `key`'s push (or of the job reconciliation found for it)."""
        self.checkpoint("after-push")
        now = time.time()
        with self._transaction():
            self._db.execute(
                "UPDATE jobs SET status = ?, job_id = ?, pushed_at = ?"
                " WHERE run_id = ? AND key = ?",
                (IN_FLIGHT, job_id, now, run_id, key),
            )
            self._db.execute(
                "INSERT INTO job_ids (run_id, key, attempt, job_id, pushed_at) VALUES (?,?,?,?,?)",
                (run_id, key, attempt, job_id, now),
            )
        self.checkpoint("waiting")

    def processing(self, run_id: str, job_id: str, started_at: float | None = None) -> None:
        """Record when job `job_id` of the run started on the service (`started_at`, else now:
        when it was first seen processing), never before the push was recorded (the service's
        clock may differ from ours)."""
        self._db.execute(
            "UPDATE jobs SET status = ?, started_at = MAX(?, COALESCE(pushed_at, 0))"
            " WHERE run_id = ? AND job_id = ?"
            " AND status = ?",
            (PROCESSING, started_at if started_at is not None else time.time(), run_id, job_id,
             IN_FLIGHT),
        )  # fmt: skip

    def ended(
        self,
        run_id: str,
        key: str,
        status: str,
        *,
        outputs: list[Any] | None = None,
        error: str = "",
        reusable: bool = True,
    ) -> None:
        """Record how `key` ended (outputs and error already masked). Outputs that are not
        `reusable` (masking changed them) lose their cache key: nothing reuses them."""
        self.checkpoint("fetched")
        self._db.execute(
            "UPDATE jobs SET status = ?, ended_at = ?, outputs = ?, error = ?,"
            " cache_key = CASE WHEN ? THEN cache_key END WHERE run_id = ? AND key = ?",
            (status, time.time(), _dump(outputs), error, reusable, run_id, key),
        )

    def record(
        self,
        run_id: str,
        key: str,
        job: str,
        function: str,
        status: str,
        *,
        cache_key: str | None = None,
        outputs: list[Any] | None = None,
        error: str = "",
        cached_from: str | None = None,
        job_id: str | None = None,
    ) -> None:
        """Record a job instance that needed no push: cached, skipped or failed before one."""
        now = time.time()
        self._db.execute(
            "INSERT INTO jobs (run_id, key, job, function, cache_key, status, job_id, attempts,"
            " intent_at, pushed_at, ended_at, outputs, error, cached_from)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL, ?, ?, ?, ?)"
            " ON CONFLICT(run_id, key) DO UPDATE SET status = excluded.status,"
            " cache_key = excluded.cache_key, job_id = excluded.job_id,"
            " ended_at = excluded.ended_at, outputs = excluded.outputs, error = excluded.error,"
            " cached_from = excluded.cached_from",
            (run_id, key, job, function, cache_key, status, job_id, now, _dump(outputs), error,
             cached_from),
        )  # fmt: skip

    def cached(self, manifest: str, cache_key: str) -> JobRow | None:
        """The newest finished job of `manifest` with `cache_key`, whose outputs can be reused."""
        return find_cached(self._db, manifest, cache_key)

    # -- deliveries -------------------------------------------------------------------------

    def deliveries(self, run_id: str) -> list[DeliveryRow]:
        """Every delivery of the run, delivered or failed, in the order they were recorded."""
        rows = self._db.execute(
            "SELECT * FROM deliveries WHERE run_id = ? ORDER BY at", (run_id,)
        ).fetchall()
        return [DeliveryRow(**dict(row)) for row in rows]

    def record_delivery(
        self,
        run_id: str,
        key: str,
        output: int,
        target: str,
        status: str,
        *,
        location: str | None = None,
        sha256: str | None = None,
        error: str = "",
        attempts: int = 0,
    ) -> None:
        """Record how delivering output `output` of `key` to `target` went (masked text)."""
        self.checkpoint("deliver")  # the sink has the output; the ledger does not know yet
        self._db.execute(
            "INSERT INTO deliveries (run_id, key, output, target, status, location, sha256,"
            " error, attempts, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(run_id, key, output, target) DO UPDATE SET status = excluded.status,"
            " location = excluded.location, sha256 = excluded.sha256, error = excluded.error,"
            " attempts = deliveries.attempts + excluded.attempts, at = excluded.at",
            (run_id, key, output, target, status, location, sha256, error, attempts, time.time()),
        )
        self.checkpoint("delivered")

    # -- crash seam -------------------------------------------------------------------------

    def checkpoint(self, point: str) -> None:
        """SIGKILL this process at the n-th `point` when SIGFILE_TEST_CRASH_AT asks for it."""
        if self._crash_point != point:
            return
        self._crash_count -= 1
        if self._crash_count <= 0:
            os.kill(os.getpid(), signal.SIGKILL)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._db.in_transaction:
            # Inside `LedgerWriter`'s batch: commit it with this, so what this records (a job
            # id, right after its push) is on disk when it returns, as outside a batch.
            yield
            self._db.execute("COMMIT")
            self._db.execute("BEGIN IMMEDIATE")
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


class LedgerWriter:
    """A `Ledger` of its own (its own SQLite connection) on its own thread.

    `call(fn, ...)` runs `fn(ledger, ...)` there and awaits the result (an intent, which must
    be on disk before its push); `submit(fn, ...)` queues it and returns at once (the job id
    after a push, a job's end). One thread runs them in the order they came, so a job's rows
    are written in the order of what happened. What is queued together is committed together
    (one transaction, one fsync, at most `batch` calls), except that a job id (`pushed`) is
    committed at once with what came before it; a call's result is handed back only once its
    transaction committed. `flush()` waits until everything queued is on disk.
    A queued write that fails is logged: the run goes on, and a resume reconciles what the
    ledger missed.
    """

    def __init__(self, path: str | os.PathLike[str], *, batch: int = 256) -> None:
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._batch = batch
        ready: concurrent.futures.Future[Ledger] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve, args=(path, ready), name="sievefile-ledger", daemon=True
        )
        self._thread.start()
        self._ledger = ready.result()
        self._closed = False

    def submit(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        future.add_done_callback(_log_failure)
        self._queue.put(_Call(fn, args, kwargs, future))
        return future

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(_Call(fn, args, kwargs, future))
        return await asyncio.wrap_future(future)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(ledger, ...)` on the writer's thread, waiting for it (outside an event loop)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(_Call(fn, args, kwargs, future))
        return future.result()

    def flush(self) -> None:
        self.run(lambda ledger: None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _serve(
        self, path: str | os.PathLike[str], ready: concurrent.futures.Future[Ledger]
    ) -> None:
        try:
            ledger = Ledger(path)
        except BaseException as error:
            ready.set_exception(error)
            return
        ready.set_result(ledger)
        stopping = False
        while not stopping:
            calls: list[_Call] = []
            item = self._queue.get()
            while item is not None:
                calls.append(item)
                if len(calls) >= self._batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = item is None
            if calls:
                _run_batch(ledger, calls)
        ledger.close()


@dataclass
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: concurrent.futures.Future[Any]


def _run_batch(ledger: Ledger, calls: list[_Call]) -> None:
    """Run `calls` in one transaction; hand their results back once it committed."""
    outcomes: list[tuple[bool, Any]] = []
    try:
        ledger._db.execute("BEGIN IMMEDIATE")
        for call in calls:
            try:
                outcomes.append((True, call.fn(ledger, *call.args, **call.kwargs)))
            except Exception as error:
                outcomes.append((False, error))
        ledger._db.execute("COMMIT")
    except Exception as error:  # the batch is lost: every call says so
        with contextlib.suppress(Exception):
            ledger._db.execute("ROLLBACK")
        for call in calls:
            call.future.set_exception(error)
        return
    for call, (ok, value) in zip(calls, outcomes, strict=True):
        if ok:
            call.future.set_result(value)
        else:
            call.future.set_exception(value)


def _log_failure(future: concurrent.futures.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("a ledger write failed: %s", future.exception())


def find_cached(db: sqlite3.Connection, manifest: str, cache_key: str) -> JobRow | None:
    """`Ledger.cached` over any connection to a ledger (`plan` reads one read-only)."""
    row = db.execute(
        "SELECT jobs.* FROM jobs JOIN runs USING (run_id) WHERE runs.manifest = ?"
        " AND jobs.cache_key = ? AND jobs.status = ? ORDER BY jobs.ended_at DESC LIMIT 1",
        (manifest, cache_key, FINISHED),
    ).fetchone()
    return _job_row(row) if row else None


def _crash_setting() -> tuple[str | None, int]:
    value = os.environ.get(CRASH_ENV, "")
    if not value:
        return None, 0
    point, _, count = value.partition(":")
    return point, int(count or "1")


def _dump(outputs: list[Any] | None) -> str | None:
    return None if outputs is None else json.dumps(outputs, ensure_ascii=False)


def _job_row(row: sqlite3.Row) -> JobRow:
    values = dict(row)
    values["outputs"] = json.loads(values["outputs"]) if values["outputs"] is not None else None
    return JobRow(**values)


def _run_row(row: sqlite3.Row) -> RunRow:
    values = dict(row)
    values["options"] = json.loads(values["options"] or "{}")
    return RunRow(**values)
