"""Webhook delivery for the local backend: POSTs retried with exponential backoff.

A push's `webhooks` (`[{type, url}]`) subscribe to `job.start`, `job.new_output`,
`job.complete` and `job.complete.no_output`. Deliveries run on the sender's own threads, so a
slow or failing receiver never holds up a worker; each is retried until a 2xx answer, at most
`max_attempts` times, waiting `backoff * 2**(attempt - 1)` seconds (capped at `max_backoff`)
between tries. Deliveries with the same `order_key` (a job id) to the same URL go one at a
time, in the order they were sent: a receiver never sees `job.complete` before the
`job.start` that is still being retried. Deliveries to other URLs or of other jobs do not wait.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger("sievefile.local.webhooks")

EVENT_TYPES = ("job.start", "job.complete", "job.complete.no_output", "job.new_output")


@dataclass(order=True)
class _Delivery:
    due: float
    sequence: int
    url: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    chain: tuple[str, str] | None = field(default=None, compare=False)
    attempt: int = field(default=0, compare=False)


@dataclass
class DeliveryStats:
    """Counts since the sender started."""

    delivered: int = 0
    failed: int = 0  # gave up after max_attempts
    attempts: int = 0
    #: The wait before each retry, in order (what tests check instead of timing the sender).
    backoffs: list[float] = field(default_factory=list)


class WebhookSender:
    """Delivers webhook POSTs from background threads, retrying each until a 2xx."""

    def __init__(
        self,
        *,
        max_attempts: int = 10,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        timeout: float = 10.0,
        threads: int = 2,
    ) -> None:
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stats = DeliveryStats()
        self._threads_wanted = threads
        self._http = httpx.Client(timeout=timeout, headers={"User-Agent": "sievefile-local"})
        self._queue: list[_Delivery] = []
        # (order key, url) -> deliveries waiting for the one of that chain now queued or sent
        self._chains: dict[tuple[str, str], collections.deque[_Delivery]] = {}
        self._in_flight = 0
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._closed = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self._threads_wanted):
            thread = threading.Thread(
                target=self._run, name=f"sievefile-webhooks-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def send(self, url: str, payload: dict[str, Any], order_key: str | None = None) -> None:
        """Queue one POST of `payload` (JSON) to `url`; returns at once.

        With an `order_key`, it is sent only after every earlier delivery with the same key
        and URL has succeeded or been given up.
        """
        with self._condition:
            if self._closed:
                return
            chain = None if order_key is None else (order_key, url)
            delivery = _Delivery(time.monotonic(), next(self._sequence), url, payload, chain)
            if chain is not None and chain in self._chains:
                self._chains[chain].append(delivery)
                return
            if chain is not None:
                self._chains[chain] = collections.deque()
            heapq.heappush(self._queue, delivery)
            self._condition.notify()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or in flight; False if `timeout` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._queue or self._in_flight or self._chains:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def close(self, grace: float = 0.0) -> None:
        """Stop after up to `grace` seconds of draining; undelivered webhooks are dropped."""
        if grace:
            self.drain(grace)
        with self._condition:
            self._closed = True
            dropped = len(self._queue) + sum(len(chain) for chain in self._chains.values())
            self._queue.clear()
            self._chains.clear()
            self._condition.notify_all()
        for thread in self._threads:
            thread.join()
        self._http.close()
        if dropped:
            logger.warning("dropped %d undelivered webhook(s) at shutdown", dropped)

    def _next(self) -> _Delivery | None:
        with self._condition:
            while True:
                if self._closed:
                    return None
                if self._queue:
                    wait = self._queue[0].due - time.monotonic()
                    if wait <= 0:
                        self._in_flight += 1
                        return heapq.heappop(self._queue)
                    self._condition.wait(wait)
                else:
                    self._condition.wait()

    def _run(self) -> None:
        while (delivery := self._next()) is not None:
            delivered = self._post(delivery)
            with self._condition:
                self._in_flight -= 1
                self.stats.attempts += 1
                if delivered:
                    self.stats.delivered += 1
                    self._release_next(delivery)
                elif delivery.attempt + 1 >= self.max_attempts:
                    self.stats.failed += 1
                    logger.warning(
                        "giving up on webhook %s to %s after %d attempts",
                        delivery.payload.get("type"),
                        _shown(delivery.url),
                        delivery.attempt + 1,
                    )
                    self._release_next(delivery)
                elif not self._closed:
                    delivery.attempt += 1
                    delay = min(self.backoff * 2 ** (delivery.attempt - 1), self.max_backoff)
                    self.stats.backoffs.append(delay)
                    delivery.due = time.monotonic() + delay
                    heapq.heappush(self._queue, delivery)
                self._condition.notify_all()

    def _release_next(self, done: _Delivery) -> None:
        """Queue the next delivery of `done`'s chain (called with the condition held)."""
        if done.chain is None or done.chain not in self._chains:
            return
        waiting = self._chains[done.chain]
        if not waiting:
            del self._chains[done.chain]
            return
        following = waiting.popleft()
        following.due = time.monotonic()
        heapq.heappush(self._queue, following)

    def _post(self, delivery: _Delivery) -> bool:
        try:
            response = self._http.post(delivery.url, json=delivery.payload)
        except httpx.HTTPError as exc:
            logger.info("webhook to %s failed: %s", _shown(delivery.url), type(exc).__name__)
            return False
        return 200 <= response.status_code < 300


def _shown(url: str) -> str:
    """A URL without its query and credentials (they may hold tokens) for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def payload(event: str, job: dict[str, Any], output: dict[str, Any] | None = None) -> dict:
    """The live service's body for `event` about `job` (and the new `output`)."""
    if event == "job.new_output":
        return {"type": event, "body": {"job_id": job["id"], "output": output}}
    body = {"job_id": job["id"], "status": job["status"], "error": job["error"]}
    if event != "job.complete.no_output":
        body["outputs"] = job["outputs"]
    return {"type": event, "body": body}
