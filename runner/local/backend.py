"""`LocalBackend`: the Sieve API's behaviour, in process, without HTTP.

It owns the job store, the function registry, the output file store, the worker pool and the
webhook sender. The Starlette app (`backend.app`, see `runner.local.app`) is a thin HTTP face
over it; `sievefile serve` runs that app with uvicorn, and the runner reaches the same app in
process through `backend.transport()` (an `httpx.ASGITransport`, which runs no lifespan
events, so the backend starts its own threads in `start()`).

    with LocalBackend(workers=2) as backend:
        async with httpx.AsyncClient(transport=backend.transport(),
                                     base_url=EMBEDDED_BASE_URL) as client:
            ...

`add_listener(callback)` tells the caller about every job change without polling.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pluggy

from runner.errors import ApiError, BackendError
from runner.local.execution import SHUTDOWN_MESSAGE, JobRunner
from runner.local.files import FileStore, InputRoots
from runner.local.push import parse_push
from runner.local.registry import (
    DEFAULTS_ENCODINGS,
    LOCAL_ORGANIZATION_ID,
    DefaultsEncoding,
    FunctionRegistry,
    LocalFunction,
    build_registry,
)
from runner.local.stats import ServerStats
from runner.local.store import (
    PROCESSING,
    QUEUED,
    STATUSES,
    TERMINAL,
    JobRecord,
    JobStore,
    now_iso,
)
from runner.local.typemap import problem
from runner.local.webhooks import WebhookSender, payload
from runner.local.workers import WorkerPool
from runner.suggest import did_you_mean

if TYPE_CHECKING:
    import httpx
    from starlette.applications import Starlette

logger = logging.getLogger("sievefile.local")

#: The base URL to use with `transport()`; any host works, this one says what it is.
EMBEDDED_BASE_URL = "http://sievefile.embedded"

JOB_NOT_FOUND = "Job not found."
FUNCTION_NOT_FOUND = "Function not found."
VERSION_NOT_FOUND = "Version not found."
NOT_PROCESSING = "Job is not processing."
INTERRUPTED_MESSAGE = (
    "The local server stopped while this job was running (it was restarted); push it again."
)

#: The largest request body the API accepts by default (32 MiB): pushes are small JSON.
MAX_REQUEST_BYTES = 32 * 1024 * 1024

#: Called with the job's JSON after every change (status or new output), from any thread.
JobListener = Callable[[dict[str, Any]], None]


class LocalBackend:
    """Jobs, functions, files and webhooks of one local Sieve API."""

    def __init__(
        self,
        *,
        plugin_manager: pluggy.PluginManager | None = None,
        registry: FunctionRegistry | None = None,
        db: str | Path | None = None,
        files_dir: str | Path | None = None,
        public_url: str | None = None,
        api_key: str | None = None,
        workers: int = 4,
        webhook_backoff: float = 0.5,
        webhook_attempts: int = 10,
        shutdown_grace: float = 5.0,
        defaults: DefaultsEncoding = "pickle",
        input_roots: Sequence[str | Path] | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        """Configure a backend; nothing runs until `start()`.

        - `plugin_manager` (default: the process-wide one) fills the function registry,
          unless `registry` is given.
        - `db`: the SQLite file for job records; None keeps them in memory.
        - `files_dir`: where output files are stored; None uses a temporary folder removed
          by `close()` (pass a folder when outputs must outlive the backend).
        - `public_url`: the server's own base URL (no `/v2`) for output file URLs; None makes
          `file://` URLs (the embedded mode).
        - `api_key`: when set, every request must carry it in `X-API-Key`.
        - `workers`: how many jobs run at once (also the `max_concurrency` it reports).
        - `defaults`: how function metadata carries input defaults: "pickle" as the live
          service (base64 of a pickle in `data`), "json" as plain JSON (`data` and `default`).
        - `input_roots`: the folders `path` and `file://` inputs may come from (None: the
          current working directory); the output store is always readable.
        - `max_request_bytes`: the largest request body accepted (a larger one gets 413).
        """
        if registry is None:
            if plugin_manager is None:
                from runner.plugins import get_plugin_manager

                plugin_manager = get_plugin_manager()
            registry = build_registry(plugin_manager)
        if workers < 1:
            raise BackendError(f"workers must be at least 1, not {workers}")
        if defaults not in DEFAULTS_ENCODINGS:
            raise BackendError(
                f"defaults must be one of {', '.join(DEFAULTS_ENCODINGS)}, not {defaults!r}"
            )
        self.defaults: DefaultsEncoding = defaults
        self.input_roots = InputRoots(input_roots)
        self.max_request_bytes = max_request_bytes
        self.registry = registry
        self.api_key = api_key or None
        self.stats = ServerStats()
        self._db_path = db
        self._files_dir = files_dir
        self.public_url = public_url
        self._workers = workers
        self._shutdown_grace = shutdown_grace
        self.webhooks = WebhookSender(max_attempts=webhook_attempts, backoff=webhook_backoff)
        self._listeners: list[JobListener] = []
        self._changed = threading.Condition()
        self._cancel_events: dict[str, threading.Event] = {}
        self._started = False
        self._closed = False
        self._life_lock = threading.Lock()  # start() and close() may race (server thread)
        self._app: Starlette | None = None
        self.store: JobStore
        self.files: FileStore
        self._runner: JobRunner
        self._pool: WorkerPool
        self._scratch: Path

    # life cycle -------------------------------------------------------------------------

    def start(self) -> LocalBackend:
        """Open the store, recover after a crash, start workers and webhooks. Idempotent.

        Jobs a previous process left `processing` end as `error` (INTERRUPTED_MESSAGE); jobs
        it left `queued` run again, oldest first.
        """
        with self._life_lock:
            if self._closed:
                raise BackendError("this local backend was closed; create a new one")
            if not self._started:
                self._start()
        return self

    def _start(self) -> None:
        self.store = JobStore(self._db_path)
        self.files = FileStore(self._files_dir, self.public_url)
        self._scratch = Path(tempfile.mkdtemp(prefix="sievefile-scratch-"))
        self._runner = JobRunner(
            store=self.store,
            registry=self.registry,
            files=self.files,
            scratch=self._scratch,
            cancel_events=self._cancel_events,
            on_event=self._on_job_event,
            input_roots=self.input_roots,
        )
        self._pool = WorkerPool(self._workers, self._runner.run)
        interrupted = self.store.fail_interrupted(INTERRUPTED_MESSAGE)
        if interrupted:
            logger.warning("%d job(s) were interrupted by a restart", len(interrupted))
        self.webhooks.start()
        self._pool.start()
        self._started = True
        for job_id in self.store.queued_ids():
            self._cancel_events[job_id] = threading.Event()
            self._pool.submit(job_id)

    def close(self) -> None:
        """Stop: running jobs are asked to cancel and end `error`; queued ones stay queued.

        Waits up to `shutdown_grace` seconds for functions to stop and for webhooks to drain.
        """
        with self._life_lock:
            if not self._started or self._closed:
                self._closed = True
                return
            self._closed = True
            self._close_started()

    def _close_started(self) -> None:
        self._runner.shutting_down = True
        for event in list(self._cancel_events.values()):
            event.set()
        if not self._pool.close(self._shutdown_grace):
            logger.warning("some local functions did not stop within %ss", self._shutdown_grace)
        for job_id in self.store.fail_interrupted(SHUTDOWN_MESSAGE):
            self._on_job_event(job_id, "job.complete", None)
        self.webhooks.close(grace=self._shutdown_grace)
        self._runner.close()
        self.store.close()
        self.files.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def serve_at(self, url: str) -> None:
        """Called by whoever serves the app over HTTP, before `start()`: the server's base URL.

        Output file URLs then point at `<url>/v2/files/...` instead of `file://`, unless the
        backend was given an explicit `public_url`.
        """
        if self.public_url is not None:
            return
        if self._started:
            raise BackendError("serve_at() must be called before the backend starts")
        self.public_url = url

    def __enter__(self) -> LocalBackend:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> LocalBackend:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.close)

    @property
    def app(self) -> Starlette:
        """The Starlette app serving this backend under `/v2` (created once)."""
        if self._app is None:
            from runner.local.app import create_app

            self._app = create_app(self)
        return self._app

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport reaching the app in process; use with EMBEDDED_BASE_URL."""
        import httpx

        self.start()
        return httpx.ASGITransport(app=self.app)

    # the API ----------------------------------------------------------------------------

    def push(self, body: Any) -> dict[str, Any]:
        """Queue a job (`POST /v2/push`); ApiError(422, problems) for a bad body."""
        request = parse_push(body, self.registry)
        function = request.function
        job_id = str(uuid.uuid4())
        run_id = str(uuid.uuid4())
        record = JobRecord(
            id=job_id,
            owner_name=function.owner,
            function_name=function.name,
            function_id=function.function_id,
            version_id=function.version_id,
            status=QUEUED,
            created_at=now_iso(),
            started_at=None,
            completed_at=None,
            error="",
            run_id=run_id,
            inputs={
                name: function.input_item(name, value, run_id)
                for name, value in request.inputs.items()
            },
            webhooks=request.webhooks,
        )
        self._require_started()
        self.store.insert(record)  # ValueError for a NaN or infinity: JSON has none
        self._cancel_events[job_id] = threading.Event()
        self.stats.count_push(job_id)
        self._on_job_event(job_id, "job.queued", None, record)
        self._pool.submit(job_id)
        return {
            "id": job_id,
            "run_id": run_id,
            "stream_output": function.is_generator,
            "status": QUEUED,
            "organization_id": LOCAL_ORGANIZATION_ID,
            "model_id": function.version_id,
            "workflow_id": None,
        }

    def job(self, job_id: str, output_offset: int = 0) -> dict[str, Any]:
        """The job's JSON (`GET /v2/jobs/{id}`); ApiError(404) if unknown."""
        self._require_started()
        job = self.store.job_json(job_id, output_offset)
        if job is None:
            raise ApiError(404, JOB_NOT_FOUND)
        return job

    def jobs(self, *, limit: int = 500, offset: int = 0, status: str = "") -> dict[str, Any]:
        """A page of jobs, newest first (`GET /v2/jobs`): `{data, next_offset}`."""
        return json.loads(self.jobs_text(limit=limit, offset=offset, status=status))

    def jobs_text(self, *, limit: int = 500, offset: int = 0, status: str = "") -> str:
        """`jobs()` as the JSON text the API answers (built without decoding the jobs)."""
        self._require_started()
        if status and status not in STATUSES:
            message = (
                f"Unknown status {status!r}{did_you_mean(status, STATUSES)}; "
                f"use one of {', '.join(STATUSES)} or leave it empty"
            )
            raise ApiError(422, [problem(["query", "status"], message, "enum", status)])
        data, next_offset = self.store.page(limit=limit, offset=offset, status=status)
        return f'{{"data":[{",".join(data)}],"next_offset":{next_offset}}}'

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job (`DELETE /v2/jobs/{id}`).

        A queued job is cancelled at once; a running one is marked cancelled and its function
        is asked to stop (its later outputs are discarded). ApiError(404) if unknown,
        ApiError(400) if it already ended.
        """
        self._require_started()
        previous = self.store.cancel(job_id)
        if previous is None:
            if self.store.record(job_id) is None:
                raise ApiError(404, JOB_NOT_FOUND)
            raise ApiError(400, NOT_PROCESSING)
        event = self._cancel_events.get(job_id)
        if event is not None:
            event.set()
        self._on_job_event(job_id, "job.complete", None)
        return {"message": f"Job {job_id} cancelled."}

    def function(self, owner: str, name: str) -> dict[str, Any]:
        """Function metadata (`GET /v2/functions/{owner}/{name}`); ApiError(404) if unknown."""
        return self._function(owner, name).metadata(self.defaults)

    def function_version(self, owner: str, name: str, version: str) -> dict[str, Any]:
        """One version's metadata (`GET /v2/functions/{owner}/{name}/versions/{version}`).

        A local function has one version, the one it serves now; ApiError(404) for others.
        """
        function = self._function(owner, name)
        if version != function.version_id:
            raise ApiError(404, VERSION_NOT_FOUND)
        return dict(function.metadata(self.defaults)["latest_version"])

    def function_versions(
        self, owner: str, name: str, *, limit: int, offset: int
    ) -> dict[str, Any]:
        """The versions of a function, newest first (`GET .../versions`): `{data, next_offset}`."""
        versions = [self.function_version(owner, name, self._function(owner, name).version_id)]
        return {"data": versions[offset : offset + limit], "next_offset": -1}

    def concurrency(self) -> dict[str, Any]:
        """The organisation's concurrency (`GET /v2/user/concurrency`): the worker count as
        the limit, and the jobs running and waiting now."""
        self._require_started()
        counts = self.store.status_counts()
        processing = counts.get(PROCESSING, 0)
        queued = counts.get(QUEUED, 0)
        return {
            "max_concurrency": self._workers,
            "num_current": processing + queued,
            "num_processing": processing,
            "num_queued": queued,
            # Jobs held back by the limit: the queued ones beyond the free workers.
            "num_limited": max(0, queued - max(0, self._workers - processing)),
        }

    def _function(self, owner: str, name: str) -> LocalFunction:
        function = self.registry.get(owner, name)
        if function is None:
            raise ApiError(404, FUNCTION_NOT_FOUND)
        return function

    def stored_file(self, token: str, name: str) -> Path:
        """The stored output file `/v2/files/{token}/{name}` serves; ApiError(404) if none."""
        self._require_started()
        path = self.files.stored_path(token, name)
        if path is None:
            raise ApiError(404, "File not found.")
        return path

    # notifications ----------------------------------------------------------------------

    def add_listener(self, listener: JobListener) -> Callable[[], None]:
        """Call `listener(job_json)` after every job change; returns a function that removes it.

        Listeners run on worker and request threads: keep them quick and thread-safe (an
        asyncio caller should hand over with `loop.call_soon_threadsafe`).
        """
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def wait(self, job_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until the job has ended and return its JSON; BackendError on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                job = self.job(job_id)
                if job["status"] in TERMINAL:
                    return job
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise BackendError(
                        f"job {job_id} is still {job['status']} after {timeout} seconds"
                    )
                self._changed.wait(remaining)

    def _on_job_event(
        self,
        job_id: str,
        event: str,
        output: dict[str, Any] | None,
        record: JobRecord | None = None,
    ) -> None:
        """Wake `wait()`ers, call listeners, queue the webhooks subscribed to `event`.
        `record` is the job as stored at some point, when the caller has it at hand: its
        webhooks never change, so nobody listening costs no read of the job."""
        with self._changed:
            self._changed.notify_all()
        if record is None:
            record = self.store.record(job_id)
        if record is None:
            return
        wanted = {event, "job.complete.no_output"} if event == "job.complete" else {event}
        hooks = [hook for hook in record.webhooks if hook["type"] in wanted]
        listeners = list(self._listeners)
        if not hooks and not listeners:
            return  # rendering the job (all its outputs) would be wasted
        if event == "job.queued":
            job = record.to_json([])  # the push's own record: as stored, no outputs yet
        else:
            current = self.store.job_json(job_id)  # a worker's record is older than its event
            if current is None:
                return
            job = current
        for listener in listeners:
            try:
                listener(job)
            except Exception:
                logger.exception("a job listener failed")
        for hook in hooks:
            self.webhooks.send(hook["url"], payload(hook["type"], job, output), order_key=job_id)

    def _require_started(self) -> None:
        if not self._started:
            self.start()
        if self._closed:
            raise BackendError("this local backend was closed")
