"""Waiting for many jobs at once: few requests, and a job's end noticed soon after it happens.

A watcher turns "tell me when job X has ended" into as few requests as possible:

- `ListWatcher` pages the list endpoint (`GET /v2/jobs`, newest first). List items are whole
  Job objects with their `outputs`, so one request reports on many jobs and a job that ended is
  harvested from the page that saw it end. `GET /v2/jobs/{id}` is only for an ended item
  without `outputs`, and for a watched job the scan did not reach (its history is deep: many
  newer jobs); those run concurrently, at most `fetch_concurrency` at a time. The scan goes
  no deeper than the jobs this watcher saw pushed since its oldest job, plus a margin for
  other clients' jobs (`_scan_depth`), so a long account history is never scanned in full.
- When polls happen (`next_poll_at`): each function's run times so far (the service's own
  `started_at`, else `created_at`, to `completed_at`) give every job in flight an expected end,
  and the poll for it leaves so as to reach the service just after that end: the job's push
  time plus the expected run time, or, once a list has shown when the job started (or was
  created), that time plus the run time less the lowest delays seen from a push leaving to its
  job's `created_at`. A job a poll saw still queued is looked for again one run time after
  that poll (it cannot end sooner). A job past its expected end, or of a function with no
  history yet, is looked for again after a fraction (`age_fraction`, at least
  `min_age_interval`) of its age. Polls overlap (at most `polls_in_flight` at once), so a poll
  aimed at one job's end never waits for the answer to another; they leave at least
  `min_interval` and at most `max_interval` apart. A poll that needs several pages (thousands
  of jobs in flight) costs as many requests: it never overlaps another, and the spacing and
  the fraction of age grow with its pages. docs/running.md ("Waiting") explains the
  model.
- With few jobs in flight (`await_max`) and a backend that serves it, each job is waited for
  with `GET /v2/jobs/{id}/await` (the live service's long poll): one request per job, plus
  the list polls that see it start running (for the progress view and the ledger). A backend
  without it (404/405) is remembered, and polling takes over quietly.
- `hint(job_id)` (the webhook receiver, `runner.execute.receiver`) polls at once: a hint is
  never trusted, the poll confirms it against the job. With `hinted=True` the schedule is a
  slow safety net: a job is polled for only once it is well past its expected end, so a lost
  webhook delays a job, never loses it; and polls do not overlap, so the hints that arrive
  while one is out are confirmed together by the next.
- `EventWatcher` listens to the embedded local backend, which announces every job change: no
  polling and no requests at all.

Both return the job's final JSON (status `finished`, `error` or `cancelled`, with its outputs),
and call `on_processing(job_id, started_at)` (when set) the first time they see a watched job
processing, with None; a job seen only once it had ended is reported just before its end, with
the service's `started_at`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from runner.client import (
    API_PREFIX,
    FINAL_STATUSES,
    SieveClient,
    check_job,
    check_running,
    job_time,
)
from runner.errors import ApiError, BackendError, ResponseError, SievefileError

if TYPE_CHECKING:
    from runner.local.backend import LocalBackend

logger = logging.getLogger("sievefile.watch")

Json = dict[str, Any]
Clock = Callable[[], float]
#: Told a watched job's id and, when known, the service's time (epoch seconds) it started.
OnProcessing = Callable[[str, float | None], None]
Sleep = Callable[[float], Awaitable[None]]

#: Statuses of a job that runs ("started" is what some older docs call processing).
_RUNNING = frozenset({"processing", "started"})
#: Durations kept per function for its expected duration.
_HISTORY = 32
#: The scan never goes deeper than this many list items in one poll.
_MAX_SCAN = 50_000
#: Push-to-`created_at` delays kept for aiming polls.
_INBOUND_HISTORY = 64
#: How late after a job's expected end its poll aims to reach the service: a poll that arrives
#: early costs another poll, one that arrives late costs only this.
_AIM_LATE = 0.005


class JobWatcher(Protocol):
    """Reports when watched jobs end."""

    async def wait(
        self, job_id: str, function: str | None = None, sent_at: float | None = None
    ) -> Json:
        """Return the job's JSON once it has ended (finished, error or cancelled).
        `function` ("owner/name[:version]") and `sent_at` (`time.monotonic()` when its push
        left) let the watcher expect when it ends."""
        ...

    def forget(self, job_id: str) -> None:
        """Stop watching `job_id` (its waiter was cancelled, e.g. by a timeout)."""
        ...

    #: Called with a watched job's id the first time it is seen processing (None: nobody).
    on_processing: OnProcessing | None

    @property
    def webhooks(self) -> list[dict[str, str]]:
        """Webhooks to register with each push so that this watcher hears of its end."""
        ...

    async def aclose(self) -> None:
        """Stop watching everything."""
        ...


@dataclass
class _Watched:
    """One watched job."""

    future: asyncio.Future[Json]
    function: str
    seq: int  # order of wait() calls: how many jobs this watcher saw pushed before it
    sent: float  # clock() when its push left (when the wait began, if nobody said)
    due: float | None  # clock() at which to poll for its end; None: no idea yet
    # the service's created_at and started_at (epoch seconds), once a list showed them
    created: float | None = None
    started: float | None = None
    seen_processing: bool = False
    next_fetch: float = 0.0  # earliest clock() for a GET of its own when the scan misses it
    fetch_backoff: float = 1.0
    awaiting: asyncio.Task[None] | None = field(default=None, repr=False)


class ListWatcher:
    """Watches jobs through the list endpoint; see the module docstring."""

    def __init__(
        self,
        client: SieveClient,
        *,
        min_interval: float = 0.02,
        max_interval: float = 10.0,
        age_fraction: float = 0.05,
        min_age_interval: float = 0.05,
        polls_in_flight: int = 4,
        fetch_concurrency: int = 8,
        page_size: int = 500,
        await_max: int = 4,
        hinted: bool = False,
        safety_grace: float = 2.0,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.age_fraction = age_fraction
        self.min_age_interval = min_age_interval
        # With webhooks a poll confirms hints: one at a time, so that the hints that arrive
        # while it is out are confirmed together by the next one.
        self.polls_in_flight = 1 if hinted else max(1, polls_in_flight)
        self.fetch_concurrency = fetch_concurrency
        self.page_size = page_size
        self.await_max = await_max
        self.hinted = hinted
        self.safety_grace = safety_grace
        self.polls = 0
        self.on_processing: OnProcessing | None = None
        self.webhook_url: str | None = None
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._watched: dict[str, _Watched] = {}
        self._seq = itertools.count()
        self._last_seq = -1
        self._durations: dict[str, deque[float]] = {}
        # seconds from a push leaving (our wall clock) to its job's created_at (the service's):
        # the way in, plus however far apart the two clocks are
        self._inbound: deque[float] = deque(maxlen=_INBOUND_HISTORY)
        self._last_poll = clock()  # when the newest poll left
        self._last_answered = self._last_poll  # when the newest poll that answered had left
        self._next_poll = self._last_poll
        self._hints: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._polls: set[asyncio.Task[None]] = set()
        self._pages = 1  # how many list requests the last poll for every job took
        self._await_supported: bool | None = None  # None: not tried yet
        self._fetches = asyncio.Semaphore(max(1, fetch_concurrency))
        self._fetching: set[str] = set()

    # -- the JobWatcher protocol ----------------------------------------------------------

    @property
    def webhooks(self) -> list[dict[str, str]]:
        if self.webhook_url is None:
            return []
        return [{"type": "job.complete", "url": self.webhook_url}]

    async def wait(
        self, job_id: str, function: str | None = None, sent_at: float | None = None
    ) -> Json:
        watched = self._watched.get(job_id)
        if watched is None:
            seq = next(self._seq)
            self._last_seq = seq
            watched = _Watched(
                asyncio.get_running_loop().create_future(),
                _function_name(function),
                seq,
                self._clock() if sent_at is None else sent_at,
                None,
            )
            watched.due = self._aim(watched)
            self._watched[job_id] = watched
            # A job expected to end before the planned poll brings the poll forward (one of
            # a function without history: a fraction of its age). Only then: a re-plan reads
            # every job in flight, and 10,000 pushes must not cost 10,000 of them.
            wanted = watched.due
            if wanted is None and not self.hinted:
                wanted = self._last_poll + self.min_interval
            if wanted is not None and wanted < self._next_poll:
                self._wake.set()
            self._maybe_await(job_id, watched)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll_loop(), name="sievefile-list-watcher")
        return await asyncio.shield(watched.future)

    def forget(self, job_id: str) -> None:
        watched = self._watched.pop(job_id, None)
        self._hints.discard(job_id)
        if watched is None:
            return
        if watched.awaiting is not None:
            watched.awaiting.cancel()
        if not watched.future.done():
            watched.future.cancel()

    def hint(self, job_id: str) -> None:
        """Somebody says `job_id` ended (a webhook): poll at once to confirm it."""
        if job_id in self._watched:
            self._hints.add(job_id)
            self._wake.set()

    async def aclose(self) -> None:
        for job_id in list(self._watched):
            self.forget(job_id)
        for task in [self._task, *self._polls]:
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- the schedule ---------------------------------------------------------------------

    def expected_duration(self, function: str) -> float | None:
        """How long a job of `function` is expected to run (from `started_at`, else from
        `created_at`, to `completed_at`): the 25th percentile of its recent durations (None
        before one ended). A low quantile rather than the mean: polling a little early costs
        one request, late costs the run time."""
        history = self._durations.get(function)
        if not history:
            return None
        ordered = sorted(history)
        return ordered[(len(ordered) - 1) // 4]

    def _aim(self, watched: _Watched) -> float | None:
        """When the poll that should find `watched` ended leaves (clock()); None when its
        function has no history yet. See the module docstring."""
        duration = self.expected_duration(watched.function)
        if duration is None:
            return None
        began = watched.started if watched.started is not None else watched.created
        if began is not None and self._inbound:
            # Its end by the service's clock, less the quickest way in seen lately (a low
            # quantile: the poll must not arrive before the end).
            ordered = sorted(self._inbound)
            inbound = ordered[len(ordered) // 10]
            due = began + duration - inbound - (self._wall() - self._clock())
        else:
            due = watched.sent + duration  # the poll takes the way its push took
        due += _AIM_LATE
        if self.hinted:
            due += self.safety_grace + duration / 2  # only when its webhook is clearly late
        return due

    def next_poll_at(self) -> float:
        """When the next poll should leave (see the module docstring)."""
        now = self._clock()
        if self._hints:
            return now
        last, answered = self._last_poll, self._last_answered
        # A poll that reads several pages costs as many requests: it leaves as much less often.
        pages = self._pages
        wanted = last + self.max_interval
        for watched in self._watched.values():
            if watched.awaiting is not None and watched.seen_processing:
                continue  # its long poll will tell (until it runs, the list says when it does)
            due = watched.due
            if due is not None and due > last:
                wanted = min(wanted, due)
            elif due is not None and due > answered:
                continue  # a poll that left after its expected end has not answered yet
            elif due is not None or not self.hinted:
                # Late, or nothing known: look again after a fraction of its age, so a job
                # nobody can predict is noticed within that fraction of its duration.
                age = now - watched.sent
                again = last + max(self.min_age_interval, self.age_fraction * pages * age)
                wanted = min(wanted, again)
        return min(last + self.max_interval, max(last + self.min_interval * pages, wanted))

    # -- polling --------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while self._watched:
            self._next_poll = self.next_poll_at()
            delay = self._next_poll - self._clock()
            if delay > 0:
                await self._nap(delay)
                if self._clock() < self.next_poll_at() and not self._hints:
                    continue  # woken to re-plan (a new job, a hint for another time)
            if not self._watched:
                return
            if self._all_awaited():
                # Every job has its long poll: the list is only a safety net.
                self._last_poll = self._last_answered = self._clock()
                continue
            if len(self._polls) >= (self.polls_in_flight if self._pages == 1 else 1):
                await asyncio.wait(self._polls, return_when=asyncio.FIRST_COMPLETED)
                continue
            self._last_poll = self._clock()
            poll = asyncio.create_task(self._poll(self._last_poll), name="sievefile-list-poll")
            self._polls.add(poll)
            poll.add_done_callback(self._polls.discard)

    async def _poll(self, started: float) -> None:
        """One poll, beside the others in flight; a poll that fails fails every waiter."""
        try:
            await self._poll_once(started)
        except Exception as error:  # reported to every waiter: they fail their jobs
            self._fail_all(error)
            return
        self._last_answered = max(self._last_answered, started)
        self._wake.set()  # the jobs it did not find may want another poll now

    async def _nap(self, delay: float) -> None:
        """Sleep `delay` seconds, or less when woken (a hint, an earlier job)."""
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()

    def _all_awaited(self) -> bool:
        if self._hints:
            return False
        return all(w.awaiting is not None and w.seen_processing for w in self._watched.values())

    def _fail_all(self, error: BaseException) -> None:
        self._hints.clear()  # about jobs no longer watched
        for watched in self._watched.values():
            if watched.awaiting is not None:
                watched.awaiting.cancel()
            if not watched.future.done():
                watched.future.set_exception(error)
        self._watched.clear()

    def _scan_depth(self) -> int:
        """How many list items (newest first) a poll may read: the jobs this watcher saw
        pushed since its oldest watched job, plus half again and 100 for other clients."""
        if not self._watched:
            return 0
        oldest = min(w.seq for w in self._watched.values())
        ours = self._last_seq - oldest + 1
        return min(_MAX_SCAN, ours + ours // 2 + 100)

    async def _poll_once(self, started: float) -> int:
        """One round, sent at `started`: read the newest jobs, settle the watched ones that
        ended; GET what the list cannot tell. Returns how many watched jobs ended."""
        self.polls += 1
        hints, self._hints = self._hints, set()
        # A poll woken by hints only needs to find them; any other looks for every job.
        full = not (hints and started < self._next_poll)
        targets = set(self._watched) if full else hints & self._watched.keys()
        missing = set(self._watched)
        seen: set[str] = set()
        offset = 0
        ended: list[Json] = []
        fetch: set[str] = set()
        first = True
        # The first page reaches the deepest job sought, plus a margin for other clients'
        # jobs, and no deeper: every item costs the service and us a job's JSON with its
        # outputs. (The jobs pushed after a hinted one are above it in the list.)
        deepest = max((self._last_seq - self._watched[t].seq + 1 for t in targets), default=0)
        wanted = deepest + deepest // 4 + 50
        pages = 0
        # the depth grows with every push made while this poll pages: those push ours deeper
        while targets and len(seen) < (depth := self._scan_depth()):
            limit = max(1, min(self.page_size, depth - len(seen), wanted if first else depth))
            page = await self.client.list_jobs(limit=limit, offset=offset)
            pages += 1
            first = False
            for job in page.jobs:
                job_id = job.get("id")
                if not isinstance(job_id, str) or job_id in seen:
                    continue  # shifted onto this page by newer jobs: seen already
                seen.add(job_id)
                if job_id not in missing:
                    continue
                missing.discard(job_id)
                targets.discard(job_id)
                if job_id not in self._watched:
                    continue  # settled while this poll was out, by another one
                if not self._usable(job, job_id, "/jobs"):
                    continue
                status = job.get("status")
                if status in FINAL_STATUSES:
                    self._learn_times(job_id, job)
                    if isinstance(job.get("outputs"), list):
                        ended.append(job)
                    else:
                        fetch.add(job_id)  # an item without outputs: fetch the job itself
                else:
                    self._learn_times(job_id, job)
                    if status in _RUNNING:
                        self._saw_processing(job_id)
                    elif self._check(job, job_id):
                        self._saw_queued(job_id, started)
            if page.next_offset is None or page.next_offset <= offset or not page.jobs:
                break
            offset = page.next_offset
        if full:
            self._pages = max(1, pages)
        now = self._clock()
        for job_id in missing:
            watched = self._watched.get(job_id)
            if watched is None:
                continue
            # Not within the scan (a deep history, a list that lags or orders otherwise):
            # its own GET, now when hinted, else with a backoff of its own.
            if job_id in hints or (watched.next_fetch <= now and job_id in targets):
                fetch.add(job_id)
        # Oldest first (the order of wait() calls, the order of pushes): its waiter's next job
        # is pushed first. In page order (newest first) the same jobs were always last out of
        # a burst of ends, and their chains fell further behind at every link.
        ended.sort(key=self._push_order)
        count = sum(self._settle(job) for job in ended)
        if fetch:
            count += sum(await asyncio.gather(*(self._fetch(job_id) for job_id in fetch)))
        return count

    def _push_order(self, job: Json) -> int:
        watched = self._watched.get(job["id"])
        return -1 if watched is None else watched.seq  # settled meanwhile, by another poll

    async def _fetch(self, job_id: str) -> int:
        """`GET /v2/jobs/{id}` for one job, at most `fetch_concurrency` at a time, and never
        twice at once (two polls in flight may both want it); settles it when it ended.
        Returns 1 if it did."""
        if job_id in self._fetching or job_id not in self._watched:
            return 0  # being fetched, or settled meanwhile by another poll
        self._fetching.add(job_id)
        try:
            async with self._fetches:
                job = await self.client.get_job(job_id)
        except ResponseError as error:
            # this job's answer is unusable: it fails alone, the others are still watched
            self._fail(job_id, error)
            return 0
        finally:
            self._fetching.discard(job_id)
        watched = self._watched.get(job_id)
        if watched is None:
            return 0
        status = job.get("status")
        if status in FINAL_STATUSES:
            return self._settle(job)
        if status in _RUNNING:
            self._saw_processing(job_id)
        elif not self._check(job, job_id):
            return 0
        watched.next_fetch = self._clock() + watched.fetch_backoff
        watched.fetch_backoff = min(self.max_interval, watched.fetch_backoff * 2)
        return 0

    def _usable(self, job: Json, job_id: str, path: str) -> bool:
        """False (and the job failed alone) when its JSON is not a job's (`check_job`)."""
        try:
            check_job(job, f"GET {self.client.base_url}{API_PREFIX}{path}")
        except ResponseError as error:
            self._fail(job_id, error)
            return False
        return True

    def _check(self, job: Json, job_id: str) -> bool:
        """False (and the job failed alone) when it is in a status nobody knows: waiting on
        it could last for ever."""
        try:
            check_running(job, job_id)
        except ResponseError as error:
            self._fail(job_id, error)
            return False
        return True

    def _fail(self, job_id: str, error: Exception) -> None:
        watched = self._watched.pop(job_id, None)
        self._hints.discard(job_id)
        if watched is None:
            return
        if watched.awaiting is not None and watched.awaiting is not asyncio.current_task():
            watched.awaiting.cancel()
        if not watched.future.done():
            watched.future.set_exception(error)

    def _learn_times(self, job_id: str, job: Json) -> None:
        """A watched job showed its `created_at` or `started_at`: how long pushes take to
        arrive, and a sharper aim for its own poll."""
        watched = self._watched.get(job_id)
        if watched is None:
            return
        learned = False
        if watched.created is None:
            watched.created = job_time(job.get("created_at"))
            if watched.created is not None:
                learned = True
                self._inbound.append(
                    watched.created - (watched.sent + self._wall() - self._clock())
                )
        if watched.started is None:
            watched.started = job_time(job.get("started_at"))
            learned = learned or watched.started is not None
        if learned:
            watched.due = self._aim(watched)

    def _saw_queued(self, job_id: str, poll_sent: float) -> None:
        """A poll sent at `poll_sent` saw the job still queued: it cannot end before it has
        run a whole expected duration, so its next look is that long after this one."""
        watched = self._watched.get(job_id)
        if watched is None or watched.started is not None:
            return
        duration = self.expected_duration(watched.function)
        if duration is not None:
            watched.due = max(watched.due or poll_sent, poll_sent + duration)

    def _saw_processing(self, job_id: str, started_at: float | None = None) -> None:
        watched = self._watched.get(job_id)
        if watched is None or watched.seen_processing:
            return
        watched.seen_processing = True
        if self.on_processing is not None:
            self.on_processing(job_id, started_at)

    def _settle(self, job: Json) -> int:
        """Hand an ended job to its waiter and learn its duration; 1 if it was watched."""
        job_id = job.get("id")
        watched = self._watched.get(job_id) if isinstance(job_id, str) else None
        if watched is None or not isinstance(job_id, str):
            return 0
        started = job_time(job.get("started_at"))
        if started is not None:
            self._saw_processing(job_id, started)  # it ran between two looks
        del self._watched[job_id]
        self._hints.discard(str(job_id))
        if watched.awaiting is not None and watched.awaiting is not asyncio.current_task():
            watched.awaiting.cancel()
        duration = _service_duration(job)
        if duration is None:
            duration = self._clock() - watched.sent
        history = self._durations.setdefault(watched.function, deque(maxlen=_HISTORY))
        history.append(duration)
        if len(history) == 1:  # the function's first: its other jobs can be aimed at now
            for other in self._watched.values():
                if other.function == watched.function:
                    other.due = self._aim(other)
        if not watched.future.done():
            watched.future.set_result(job)
        return 1

    # -- the long poll --------------------------------------------------------------------

    def _maybe_await(self, job_id: str, watched: _Watched) -> None:
        """Start `GET /v2/jobs/{id}/await` for a new job when few are in flight."""
        if self._await_supported is False or self.await_max <= 0 or self.hinted:
            return  # (with webhooks, a job's end is heard without holding a request open)
        if sum(1 for w in self._watched.values() if w.awaiting is not None) >= self.await_max:
            return
        if len(self._watched) > self.await_max:
            return
        watched.awaiting = asyncio.create_task(
            self._await(job_id), name=f"sievefile-await-{job_id}"
        )

    async def _await(self, job_id: str) -> None:
        while job_id in self._watched:
            try:
                job = await self.client.await_job(job_id)
            except ApiError as error:
                if error.status_code == 408:
                    continue  # the long poll timed out: ask again
                if error.status_code in (404, 405) and not self._await_supported:
                    # Never answered yet, for a job this watcher saw pushed: the backend has no
                    # /await, whatever its 404 says (a plain web server's "404 page not found").
                    self._await_supported = False
                self._stop_awaiting(job_id, error)
                return
            except (BackendError, SievefileError) as error:
                self._stop_awaiting(job_id, error)
                return
            if job is None:  # the backend has no /await: poll, and never ask again
                self._await_supported = False
                self._stop_awaiting(job_id, None)
                return
            self._await_supported = True
            if not self._usable(job, job_id, f"/jobs/{job_id}/await"):
                return  # the job failed alone
            if job.get("status") in FINAL_STATUSES and isinstance(job.get("outputs"), list):
                self._settle(job)
                return
            if job.get("status") not in FINAL_STATUSES and not self._check(job, job_id):
                return  # a status nobody knows: the job failed alone
            # ended without outputs, or answered before the end: polling takes over
            self._stop_awaiting(job_id, None)
            self._hints.add(job_id)
            self._wake.set()
            return

    def _stop_awaiting(self, job_id: str, error: BaseException | None) -> None:
        """The long poll of `job_id` is over without an answer: polling takes over."""
        if error is not None:
            logger.info("GET /v2/jobs/%s/await: %s; polling instead", job_id, error)
        watched = self._watched.get(job_id)
        if watched is not None:
            watched.awaiting = None
        self._wake.set()


class EventWatcher:
    """Watches jobs of the embedded local backend through its change notifications."""

    def __init__(self, backend: LocalBackend) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiters: dict[str, asyncio.Future[Json]] = {}
        # Jobs can end before anyone waits for them (between push and wait): keep their JSON.
        self._ended: dict[str, Json] = {}
        self.on_processing: OnProcessing | None = None
        self._remove_listener = backend.add_listener(self._on_change)

    @property
    def webhooks(self) -> list[dict[str, str]]:
        return []

    def _on_change(self, job: Json) -> None:
        status = job.get("status")
        if status in FINAL_STATUSES:
            self._loop.call_soon_threadsafe(self._settle, job)
        elif status == "processing" and self.on_processing is not None:
            self._loop.call_soon_threadsafe(self.on_processing, job["id"], None)

    def _settle(self, job: Json) -> None:
        job_id = job["id"]
        future = self._waiters.pop(job_id, None)
        if future is None:
            self._ended[job_id] = job
        elif not future.done():
            future.set_result(job)

    async def wait(
        self, job_id: str, function: str | None = None, sent_at: float | None = None
    ) -> Json:
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


def _function_name(function: str | None) -> str:
    """`owner/name` of a reference (versions of one function take about as long)."""
    if not function:
        return ""
    return function.partition(":")[0]


def _service_duration(job: Json) -> float | None:
    """Seconds the job ran by the service's own clock (from `started_at`, else from
    `created_at`, to `completed_at`), if it says."""
    completed = job_time(job.get("completed_at"))
    began = job_time(job.get("started_at")) or job_time(job.get("created_at"))
    if began is None or completed is None or completed < began:
        return None
    return completed - began
