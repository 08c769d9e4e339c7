"""Waiting for many jobs at once.

A watcher turns "tell me when job X has ended" into as few requests as possible:

- `ListWatcher` polls the list endpoint (`GET /v2/jobs?status=processing`, then
  `?status=queued` only for watched jobs not found there and never seen processing, each
  paged) so one
  request reports on many jobs, and fetches a job once (`GET /v2/jobs/{id}`) when it leaves
  those lists. The poll interval adapts: it aims at the moment a quarter of the jobs in flight
  have probably ended, judged by the rate at which jobs have been ending, within
  `[min_interval, max_interval]`; before any job has ended it grows by half each quiet poll.
- `EventWatcher` listens to the embedded local backend, which announces every job change: no
  polling and no requests at all.

Both return the job's final JSON (status `finished`, `error` or `cancelled`, with its outputs),
and call `on_processing(job_id)` (when set) the first time they see a watched job processing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from runner.client import FINAL_STATUSES, SieveClient, check_running
from runner.errors import ResponseError

if TYPE_CHECKING:
    from runner.local.backend import LocalBackend

Json = dict[str, Any]
Clock = Callable[[], float]
OnProcessing = Callable[[str], None]
Sleep = Callable[[float], Awaitable[None]]

# Statuses a job passes through before it ends ("started" is what some older docs call processing).
_IN_FLIGHT_LISTS = ("processing", "queued")


class JobWatcher(Protocol):
    """Reports when watched jobs end."""

    async def wait(self, job_id: str) -> Json:
        """Return the job's JSON once it has ended (finished, error or cancelled)."""
        ...

    def forget(self, job_id: str) -> None:
        """Stop watching `job_id` (its waiter was cancelled, e.g. by a timeout)."""
        ...

    #: Called with a watched job's id the first time it is seen processing (None: nobody).
    on_processing: OnProcessing | None

    async def aclose(self) -> None:
        """Stop watching everything."""
        ...


class ListWatcher:
    """Watches jobs through the list endpoint; see the module docstring."""

    def __init__(
        self,
        client: SieveClient,
        *,
        min_interval: float = 0.25,
        max_interval: float = 10.0,
        first_interval: float = 0.5,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.first_interval = first_interval
        self.polls = 0
        self._clock = clock
        self._sleep = sleep
        self._waiters: dict[str, asyncio.Future[Json]] = {}
        self._ended_at: deque[float] = deque(maxlen=64)
        self._seen_processing: set[str] = set()
        self._quiet_interval = first_interval
        self._task: asyncio.Task[None] | None = None
        self.on_processing: OnProcessing | None = None

    async def wait(self, job_id: str) -> Json:
        future = self._waiters.get(job_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiters[job_id] = future
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll_loop(), name="sievefile-list-watcher")
        return await asyncio.shield(future)

    def forget(self, job_id: str) -> None:
        self._seen_processing.discard(job_id)
        future = self._waiters.pop(job_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def aclose(self) -> None:
        for job_id in list(self._waiters):
            self.forget(job_id)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def next_interval(self) -> float:
        """How long to wait before the next poll (see the module docstring)."""
        in_flight = len(self._waiters)
        if len(self._ended_at) < 2:
            return self._quiet_interval
        span = max(self._clock() - self._ended_at[0], 1e-3)
        rate = (len(self._ended_at) - 1) / span  # jobs ending per second, lately
        wanted = max(1.0, in_flight / 4) / rate
        return min(self.max_interval, max(self.min_interval, wanted))

    async def _poll_loop(self) -> None:
        while self._waiters:
            await self._sleep(self.next_interval())
            if not self._waiters:
                return
            try:
                ended = await self._poll_once()
            except Exception as error:  # reported to every waiter: they fail their jobs
                for future in self._waiters.values():
                    if not future.done():
                        future.set_exception(error)
                self._waiters.clear()
                return
            if ended:
                self._quiet_interval = self.first_interval
            else:
                self._quiet_interval = min(self.max_interval, self._quiet_interval * 1.5)

    async def _poll_once(self) -> int:
        """One round: find the watched jobs that left the in-flight lists and fetch them."""
        self.polls += 1
        unaccounted = set(self._waiters)
        for status in _IN_FLIGHT_LISTS:
            # Statuses only move forward: a job once seen processing is never queued again,
            # so the queued list is only worth a request for jobs not yet seen processing.
            if status == "queued" and not (unaccounted - self._seen_processing):
                break
            if not unaccounted:
                break
            async for job in self.client.iter_jobs(status):
                job_id = job.get("id", "")
                if job_id in unaccounted:
                    unaccounted.discard(job_id)
                    if status == "processing" and job_id not in self._seen_processing:
                        self._seen_processing.add(job_id)
                        if self.on_processing is not None:
                            self.on_processing(job_id)
                if not unaccounted:
                    break
        ended = 0
        for job_id in unaccounted:
            try:
                job = await self.client.get_job(job_id)
                if job.get("status") not in FINAL_STATUSES:
                    check_running(job, job_id)  # a status nobody knows is not waited on
                    continue  # it moved between lists while we looked, or lists lag: next round
            except ResponseError as error:
                # this job's answer is unusable: it fails alone, the others are still watched
                self._fail(job_id, error)
                continue
            future = self._waiters.pop(job_id, None)
            self._seen_processing.discard(job_id)
            if future is not None and not future.done():
                future.set_result(job)
            self._ended_at.append(self._clock())
            ended += 1
        return ended

    def _fail(self, job_id: str, error: Exception) -> None:
        self._seen_processing.discard(job_id)
        future = self._waiters.pop(job_id, None)
        if future is not None and not future.done():
            future.set_exception(error)


class EventWatcher:
    """Watches jobs of the embedded local backend through its change notifications."""

    def __init__(self, backend: LocalBackend) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiters: dict[str, asyncio.Future[Json]] = {}
        # Jobs can end before anyone waits for them (between push and wait): keep their JSON.
        self._ended: dict[str, Json] = {}
        self.on_processing: OnProcessing | None = None
        self._remove_listener = backend.add_listener(self._on_change)

    def _on_change(self, job: Json) -> None:
        status = job.get("status")
        if status in FINAL_STATUSES:
            self._loop.call_soon_threadsafe(self._settle, job)
        elif status == "processing" and self.on_processing is not None:
            self._loop.call_soon_threadsafe(self.on_processing, job["id"])

    def _settle(self, job: Json) -> None:
        job_id = job["id"]
        future = self._waiters.pop(job_id, None)
        if future is None:
            self._ended[job_id] = job
        elif not future.done():
            future.set_result(job)

    async def wait(self, job_id: str) -> Json:
        if job_id in self._ended:
            return self._ended.pop(job_id)
        future = self._waiters.setdefault(job_id, self._loop.create_future())
        return await asyncio.shield(future)

    def forget(self, job_id: str) -> None:
        self._ended.pop(job_id, None)
        future = self._waiters.pop(job_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def aclose(self) -> None:
        self._remove_listener()
        for job_id in list(self._waiters):
            self.forget(job_id)
