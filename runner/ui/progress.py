"""Progress while a run goes on: one line per event (`plain`), or JSON Lines (`json`).

Both take `RunEvent`s from the scheduler, whose messages are already masked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TextIO

from runner.execute.outcome import RunEvent

_LABELS = {
    "pushed": "pushed",
    "retrying": "retrying",
    "finished": "finished",
    "failed": "FAILED",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "expanded": "expanded",
    "cached": "cached",
    "kept": "kept",
    "reattached": "reattach",
    "reconciled": "reconcile",
    "detached": "detached",
    "notice": "NOTE",
}


class PlainProgress:
    """`HH:MM:SS  finished  probe  (job 1f2e...)` lines, for terminals and CI logs alike."""

    def __init__(self, write: Callable[[str], None], clock: Callable[[], float] = time.time):
        self._write = write
        self._clock = clock

    def __call__(self, event: RunEvent) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(self._clock()))
        parts = [stamp, f"{_LABELS.get(event.kind, event.kind):9}", event.key]
        if event.job_id:
            attempt = f", attempt {event.attempt}" if event.attempt > 1 else ""
            parts.append(f"(job {event.job_id}{attempt})")
        if event.message:
            parts.append(f"- {event.message}")
        self._write("  ".join(parts))


class JsonLinesProgress:
    """One JSON object per event on `stream`: `{"event": ..., "key": ..., ...}`."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.time):
        self._stream = stream
        self._clock = clock

    def __call__(self, event: RunEvent) -> None:
        record = {
            "time": round(self._clock(), 3),
            "event": event.kind,
            "key": event.key,
            "job_id": event.job_id,
            "attempt": event.attempt or None,
            "message": event.message or None,
        }
        self._stream.write(json.dumps({k: v for k, v in record.items() if v is not None}) + "\n")
        self._stream.flush()
