"""What a run looks like at a glance, built from its `RunEvent`s (or from a run record).

`RunState` is the model behind every view of a run: the live terminal view, the plain lines'
`[done/total]` counter and `sievefile status RUN`. Each event updates it in constant time
(counts are kept, never recounted), so a 10,000-job run costs no more per event than a
10-job one; drawing it looks at the jobs in flight only.

States of a job instance: `waiting` (not pushed yet), `queued` (pushed, not seen running),
`running`, `retrying` (waiting to be pushed again), then one of `END_STATES`.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.execute.outcome import END_STATES, RunEvent

#: Every state the views count, in the order they show them.
STATES = ("waiting", "queued", "running", "finished", "cached", "failed", "cancelled", "skipped")

# event kind -> the end state it puts an instance in
_ENDS = {
    "finished": "finished",
    "kept": "finished",  # finished before a resume: done, nothing sent
    "cached": "cached",
    "failed": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "detached": "detached",
}
# event kind -> the in-flight state it puts an instance in
_FLIGHT = {
    "pushed": "queued",
    "reattached": "queued",
    "reconciled": "queued",
    "running": "running",
    "retrying": "retrying",
}
# events shown as short notices
_NOTICES = {"retrying", "reconciled", "reattached", "delivered", "undelivered", "notice"}
_NOTICE_LABELS = {"undelivered": "NOT DELIVERED", "notice": "note"}


@dataclass
class Flight:
    """A job instance in flight: since when (its first push), its job id and state."""

    since: float
    job_id: str | None
    state: str
    attempt: int = 0


@dataclass
class RunState:
    """The state of one run; feed it events with `apply` (see the module docstring)."""

    clock: Callable[[], float] = time.monotonic
    run_id: str | None = None
    name: str = ""
    #: Job instances known (run-time matrices add theirs when expanded).
    total: int = 0
    #: Jobs whose run-time matrix is not expanded yet: the total is a lower bound.
    pending: set[str] = field(default_factory=set)
    max_parallel: int = 0
    #: job name -> function reference
    functions: dict[str, str] = field(default_factory=dict)
    #: function -> [done, total]
    by_function: dict[str, list[int]] = field(default_factory=dict)
    ends: dict[str, int] = field(default_factory=lambda: dict.fromkeys(END_STATES, 0))
    flights: dict[str, Flight] = field(default_factory=dict)
    ended: dict[str, str] = field(default_factory=dict)
    failures: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=5))
    failed_total: int = 0
    notices: deque[str] = field(default_factory=lambda: deque(maxlen=4))
    requests: int = 0
    status: str = "running"
    started_at: float | None = None
    #: Set when the elapsed time is known rather than measured (a recorded run).
    elapsed_override: float | None = None
    # durations of the instances that ran (not cached or skipped), for the estimate
    _ran: int = 0
    _ran_seconds: float = 0.0
    _counters: dict[str, int] = field(default_factory=dict)

    # -- events ---------------------------------------------------------------------------

    def apply(self, event: RunEvent) -> None:
        """Take one event into account."""
        kind = event.kind
        now = self.clock()
        if self.started_at is None:
            self.started_at = now
        if kind == "run-started":
            self._start(event.detail)
        elif kind == "run-finished":
            self.status = str(event.detail.get("status", event.message or "finished"))
        elif kind == "request":
            self.requests += 1
        elif kind == "expanded":
            self._expanded(event.key, int(event.detail.get("instances", 0)))
        elif kind in _FLIGHT:
            self._fly(event, now)
        elif kind in _ENDS:
            self._end(event.key, _ENDS[kind], now, event.message)
        if kind in _NOTICES:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            label = _NOTICE_LABELS.get(kind, kind)
            stamp = time.strftime("%H:%M:%S")
            self.notices.append(f"{stamp} {label} {event.key}: {event.message}".rstrip(": "))
        elif kind == "plugin-error":
            self.notices.append(f"{time.strftime('%H:%M:%S')} plugin {event.key}: {event.message}")

    def _start(self, detail: Mapping[str, Any]) -> None:
        self.run_id = detail.get("run_id")
        self.name = str(detail.get("name") or "")
        self.max_parallel = int(detail.get("max_parallel") or 0)
        jobs: Mapping[str, Mapping[str, Any]] = detail.get("jobs") or {}
        for name, job in jobs.items():
            function = str(job.get("function", "?"))
            self.functions[name] = function
            counts = self.by_function.setdefault(function, [0, 0])
            if job.get("instances") is None:
                self.pending.add(name)
            else:
                counts[1] += int(job["instances"])
        self.total = int(detail.get("total", sum(c[1] for c in self.by_function.values())))

    def _expanded(self, name: str, instances: int) -> None:
        if name in self.pending:
            self.pending.discard(name)
            self.total += instances
            self._function_counts(name)[1] += instances

    def _fly(self, event: RunEvent, now: float) -> None:
        if event.key in self.ended:
            return  # e.g. a delivery retry of a finished job: it stays finished
        flight = self.flights.get(event.key)
        state = _FLIGHT[event.kind]
        if flight is None:
            self.flights[event.key] = Flight(now, event.job_id, state, event.attempt)
            return
        flight.state = state
        flight.job_id = event.job_id or flight.job_id
        flight.attempt = event.attempt or flight.attempt

    def _end(self, key: str, state: str, now: float, message: str) -> None:
        earlier = self.ended.get(key)
        if earlier is not None:
            self.ends[earlier] -= 1
        else:
            function = self._function_counts(key)
            function[0] += 1
            if key in self.pending:  # a run-time matrix job that never expanded: one instance
                self.pending.discard(key)
                self.total += 1
                function[1] += 1
        self.ended[key] = state
        self.ends[state] += 1
        flight = self.flights.pop(key, None)
        if flight is not None and state in ("finished", "failed"):
            self._ran += 1
            self._ran_seconds += now - flight.since
        if state == "failed":
            self.failed_total += 1
            self.failures.append((key, message))

    def _function_counts(self, key: str) -> list[int]:
        function = self.functions.get(key.split("[", 1)[0], "?")
        return self.by_function.setdefault(function, [0, 0])

    # -- what views show ------------------------------------------------------------------

    @property
    def done(self) -> int:
        return len(self.ended)

    @property
    def total_known(self) -> bool:
        return not self.pending

    def counts(self) -> dict[str, int]:
        """Instances in each of `STATES` (and `detached` when there are any)."""
        queued = running = 0
        for flight in self.flights.values():
            if flight.state == "running":
                running += 1
            else:
                queued += 1  # queued on the service, or waiting for a retry's push
        counts = {
            "waiting": max(0, self.total - self.done - len(self.flights)),
            "queued": queued,
            "running": running,
            **{state: self.ends[state] for state in STATES[3:]},
        }
        if self.ends.get("detached"):
            counts["detached"] = self.ends["detached"]
        return counts

    def elapsed(self) -> float:
        if self.elapsed_override is not None:
            return self.elapsed_override
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    def eta(self) -> float | None:
        """Seconds until the run ends, from the durations of the jobs that ran so far
        (None before one has ended): the work left, spread over the slots that run it."""
        if not self._ran or self.status != "running":
            return None
        mean = self._ran_seconds / self._ran
        now = self.clock()
        remaining = max(0, self.total - self.done)
        waiting = max(0, remaining - len(self.flights))
        work = waiting * mean + sum(max(0.0, mean - (now - f.since)) for f in self.flights.values())
        slots = max(1, min(self.max_parallel or len(self.flights) or 1, remaining or 1))
        return work / slots

    def longest_in_flight(self, limit: int) -> list[tuple[str, Flight]]:
        """The `limit` jobs in flight the longest, oldest first."""
        if limit <= 0:
            return []
        return heapq.nsmallest(limit, self.flights.items(), key=lambda item: item[1].since)

    def counter(self, name: str) -> int:
        """How many events of kind `name` (retrying, reconciled, delivered, ...) were seen."""
        return self._counters.get(name, 0)


def state_from_record(record: Mapping[str, Any], now: float | None = None) -> RunState:
    """The `RunState` of a recorded run (`sievefile status RUN`): ended jobs counted, jobs in
    flight aged from their push, the latest failures, times from the record's timestamps."""
    from datetime import datetime

    def stamp(text: Any) -> float | None:
        return datetime.fromisoformat(text).timestamp() if isinstance(text, str) else None

    now = time.time() if now is None else now
    state = RunState(clock=lambda: now)
    state.run_id = record.get("run_id")
    state.status = str(record.get("status", "?"))
    jobs: Mapping[str, Mapping[str, Any]] = record.get("jobs", {})
    for key, job in jobs.items():
        state.functions.setdefault(str(job.get("job", key.split("[", 1)[0])), job["function"])
        state._function_counts(key)[1] += 1
    state.total = len(jobs)
    ordered: Iterable[tuple[str, Mapping[str, Any]]] = sorted(
        jobs.items(), key=lambda item: str(item[1].get("ended_at", ""))
    )
    for key, job in ordered:
        status = str(job.get("status"))
        pushed = stamp(job.get("pushed_at"))
        if status in ("in_flight", "processing", "pending"):
            flight_state = "running" if status == "processing" else "queued"
            since = pushed if pushed is not None else now
            state.flights[key] = Flight(since, job.get("job_id"), flight_state)
        elif status in ("finished", "cached", "failed", "cancelled", "skipped"):
            ended = stamp(job.get("ended_at"))
            if pushed is not None and ended is not None:
                state.flights[key] = Flight(pushed, job.get("job_id"), "running")
                state._end(key, status, ended, str(job.get("error", "")))
            else:
                state._end(key, status, now, str(job.get("error", "")))
    started, ended = stamp(record.get("started_at")), stamp(record.get("ended_at"))
    if started is not None:
        state.elapsed_override = (ended if ended is not None else now) - started
    return state
