"""Running one job: prepare its inputs, call the function, store its outputs, record the end.

A worker thread calls `JobRunner.run(job_id)`. The job's cancel event is bound to the thread's
context (`runner.local.types.bind_cancel_event`) so the function can stop cooperatively; a
generator is also stopped between two outputs. A function's exception ends the job as `error`
with `"<ExceptionType>: <message>"`; the traceback goes to the server log.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import math
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from runner.errors import BackendError, SievefileError
from runner.local.files import FileStore, InputResolver, InputRoots
from runner.local.registry import FunctionRegistry, LocalFunction
from runner.local.store import ERROR, FINISHED, JobRecord, JobStore
from runner.local.typemap import type_of_value
from runner.local.types import File, JobCancelled, bind_cancel_event

logger = logging.getLogger("sievefile.local")

#: Called after every change of a job: (job id, event, new output item or None, the job as
#: stored at some point, for its webhooks).
JobEvent = Callable[[str, str, "dict[str, Any] | None", JobRecord], None]

SHUTDOWN_MESSAGE = "The local backend shut down while this job was running; push it again."


class JobRunner:
    """Runs jobs of one backend; shared by all its worker threads."""

    def __init__(
        self,
        *,
        store: JobStore,
        registry: FunctionRegistry,
        files: FileStore,
        scratch: Path,
        cancel_events: dict[str, threading.Event],
        on_event: JobEvent,
        input_roots: InputRoots | None = None,
    ) -> None:
        self.store = store
        self.input_roots = input_roots
        self.registry = registry
        self.files = files
        self.scratch = scratch
        self.cancel_events = cancel_events
        self.on_event = on_event
        self.shutting_down = False
        self.http = httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0))

    def close(self) -> None:
        self.http.close()

    def run(self, job_id: str) -> None:
        """Run a queued job to its end; does nothing if it is no longer queued."""
        if not self.store.claim(job_id):
            self.cancel_events.pop(job_id, None)  # cancelled while queued
            return
        record = self.store.record(job_id)
        assert record is not None
        self.on_event(job_id, "job.start", None, record)
        cancel_event = self.cancel_events.setdefault(job_id, threading.Event())
        scratch = self.scratch / job_id
        status, error = FINISHED, ""
        try:
            self._call(record, self._function(record), cancel_event, scratch)
        except JobCancelled:
            status, error = ERROR, SHUTDOWN_MESSAGE if self.shutting_down else "Job was cancelled."
        except SievefileError as exc:
            status, error = ERROR, exc.message
        except (Exception, SystemExit) as exc:  # sys.exit() in a function must not kill a worker
            logger.exception("job %s (%s) failed", job_id, record.function_reference)
            status, error = ERROR, f"{type(exc).__name__}: {exc}"
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            self.cancel_events.pop(job_id, None)
        # A job cancelled meanwhile stays cancelled: `finish` only moves a processing job.
        if self.store.finish(job_id, status, error):
            self.on_event(job_id, "job.complete", None, record)

    def _function(self, record: JobRecord) -> LocalFunction:
        try:
            function = self.registry.find(record.function_reference)
        except LookupError as exc:
            raise BackendError(f"{exc}; it was removed after this job was pushed") from None
        if function.version_id != record.version_id:
            raise BackendError(
                f"{record.function_reference} changed after this job was pushed (version "
                f"{record.version_id}, now {function.version_id}); push it again"
            )
        return function

    def _call(
        self,
        record: JobRecord,
        function: LocalFunction,
        cancel_event: threading.Event,
        scratch: Path,
    ) -> None:
        """Call the function in a fresh context, so the cancel event it sees is this job's."""
        contextvars.Context().run(self._call_bound, record, function, cancel_event, scratch)

    def _call_bound(
        self,
        record: JobRecord,
        function: LocalFunction,
        cancel_event: threading.Event,
        scratch: Path,
    ) -> None:
        bind_cancel_event(cancel_event)
        resolver = InputResolver(
            self.files, scratch, cancel_event, self.http, roots=self.input_roots
        )
        arguments = function.arguments(record.input_values(), resolver)
        result = function.function(**arguments)
        if function.is_generator or inspect.isgenerator(result):
            for value in result:
                if cancel_event.is_set():
                    result.close()
                    raise JobCancelled("job was cancelled")
                self._add_output(record, function, value)
        elif result is not None:
            self._add_output(record, function, result)

    def _add_output(self, record: JobRecord, function: LocalFunction, value: Any) -> None:
        declared = function.output_type
        item = {
            "type": declared.sieve_type
            if declared is not None and declared.kind != "any"
            else type_of_value(value),
            "name": "output_0",
            "data": self._to_json(value, "output"),
            "description": function.output_description,
            "schema": declared.schema if declared is not None else None,
            "run_id": record.run_id,
        }
        if self.store.add_output(record.id, item) is not None:
            self.on_event(record.id, "job.new_output", item, record)

    def _to_json(self, value: Any, where: str) -> Any:
        """Plain JSON for a returned value, storing every File it contains."""
        if isinstance(value, File):
            if value.path is not None:
                return {"url": self.files.put(value.path)}
            return {"url": value.url}
        if value is None or isinstance(value, (str, bool, int)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise BackendError(f"{where} is {value}, which JSON cannot carry")
            return value
        if isinstance(value, (list, tuple)):
            return [self._to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            converted = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise BackendError(f"{where} has a key {key!r} that is not a string")
                converted[key] = self._to_json(item, f"{where}[{key!r}]")
            return converted
        raise BackendError(
            f"{where} is a {type(value).__name__}; return str, int, float, bool, None, list, "
            "dict or runner.local.types.File"
        )
