"""`--progress json`: each `RunEvent` as one JSON object on a line (JSON Lines).

Every object has `event` (its name, below), `time` (ISO 8601, UTC) and `run_id` (null until
the run has one; runs without a ledger have none), and `job` (the job instance's key) when it
is about one. `schemas/events.schema.json` describes each event; docs/events.md explains them.

| event | from | fields |
|---|---|---|
| `run.started` | the run begins | manifest, name, backend, resumed, total, max_parallel, jobs |
| `run.notice` | something to know | key, message |
| `job.expanded` | a run-time matrix got its instances | job, instances |
| `job.pushed` | a job was created on the service | job, job_id, attempt |
| `job.status` | running, reattached, reconciled | job, job_id, status, attempt, message |
| `job.retrying` | a job (or delivery) is tried again | job, job_id, attempt, message |
| `job.finished` | an instance ended | job, status, job_id, message |
| `output.stored` | an output reached a sink | job, output, sink, location |
| `output.failed` | a delivery or notification failed for good | job, message |
| `plugin.error` | a plugin's hook raised | hook, message |
| `http.request` | one HTTP request (`--verbose` only) | method, path, status, seconds |
| `run.finished` | the run ended | status, counts, requests, wall_time, deliveries |
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from runner.execute.outcome import RunEvent

_ENDED = {"finished", "failed", "cancelled", "skipped", "cached", "kept", "detached"}
_STATUS = {"running", "reattached", "reconciled"}


def event_record(event: RunEvent, run_id: str | None, when: float) -> dict[str, Any]:
    """The JSON object for `event` (see the module docstring)."""
    stamp = datetime.fromtimestamp(when, timezone.utc).isoformat(timespec="milliseconds")
    record: dict[str, Any] = {
        "event": "",
        "time": stamp.replace("+00:00", "Z"),
        "run_id": run_id,
    }
    kind, detail = event.kind, dict(event.detail)
    job = {"job": event.key}
    if kind == "run-started":
        record["event"] = "run.started"
        detail.pop("run_id", None)
        record.update(detail)
    elif kind == "run-finished":
        record["event"] = "run.finished"
        detail.pop("run_id", None)
        record.update(detail)
    elif kind == "notice":
        record.update(event="run.notice", key=event.key, message=event.message)
    elif kind == "expanded":
        record.update(event="job.expanded", **job, instances=detail.get("instances", 0))
    elif kind == "pushed":
        record.update(event="job.pushed", **job, job_id=event.job_id, attempt=event.attempt or 1)
    elif kind in _STATUS:
        record.update(event="job.status", **job, status=kind, job_id=event.job_id)
        record.update(_optional(event))
    elif kind == "retrying":
        record.update(event="job.retrying", **job, job_id=event.job_id, message=event.message)
        record.update(_optional(event))
    elif kind in _ENDED:
        record.update(event="job.finished", **job, status=kind, job_id=event.job_id)
        record.update(_optional(event))
    elif kind == "delivered":
        record.update(event="output.stored", **job, message=event.message, **detail)
    elif kind == "undelivered":
        record.update(event="output.failed", **job, message=event.message)
    elif kind == "plugin-error":
        record.update(event="plugin.error", hook=event.key, message=event.message)
    elif kind == "request":
        record.update(event="http.request", **detail)
    else:  # a kind this version does not know: passed on, named after it
        record.update(event=f"run.{kind}", key=event.key, message=event.message)
    return record


def _optional(event: RunEvent) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if event.attempt:
        extra["attempt"] = event.attempt
    if event.message:
        extra["message"] = event.message
    return extra


class JsonLinesProgress:
    """Writes one JSON object per event with `write` (a line, without its newline).
    `http.request` events only when `verbose`."""

    def __init__(
        self,
        write: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        *,
        verbose: bool = False,
        flush: Callable[[], None] = lambda: None,
    ):
        self._write = write
        self._clock = clock
        self._verbose = verbose
        #: writes what `write` holds back (a second Ctrl-C exits the process at once)
        self.flush = flush
        self.run_id: str | None = None

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "request" and not self._verbose:
            return
        if event.kind == "run-started":
            self.run_id = event.detail.get("run_id")
        record = event_record(event, self.run_id, self._clock())
        self._write(json.dumps(record, ensure_ascii=False))
