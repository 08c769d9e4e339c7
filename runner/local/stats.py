"""Request counters of one local backend, for tests and benchmarks.

They answer "did the runner push each job exactly once?" and "how many requests did it make
about this job?". Read them in-process (`backend.stats.snapshot()`) or over HTTP
(`GET /v2/_stats`). They count since the backend started and are not persisted.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class ServerStats:
    """Thread-safe counters: requests per endpoint, accepted pushes, requests per job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._job_requests: dict[str, Counter[str]] = {}
        self._pushes = 0

    def count_request(self, endpoint: str, job_id: str | None = None) -> None:
        """Count one request to `endpoint` (e.g. "GET /jobs/{job_id}"), and about `job_id`."""
        with self._lock:
            self._requests[endpoint] += 1
            if job_id is not None:
                method = endpoint.split(" ", 1)[0]
                self._job_requests.setdefault(job_id, Counter())[method] += 1

    def count_push(self, job_id: str) -> None:
        """Count one accepted push (the job it created)."""
        with self._lock:
            self._pushes += 1
            self._job_requests.setdefault(job_id, Counter())["PUSH"] += 1

    @property
    def pushes(self) -> int:
        with self._lock:
            return self._pushes

    def requests(self, endpoint: str) -> int:
        with self._lock:
            return self._requests[endpoint]

    def job_requests(self, job_id: str) -> dict[str, int]:
        """`{"PUSH": 1, "GET": n, "DELETE": m}` for one job (missing keys are zero)."""
        with self._lock:
            return dict(self._job_requests.get(job_id, {}))

    def snapshot(self) -> dict[str, Any]:
        """Everything, as the JSON `GET /v2/_stats` returns."""
        with self._lock:
            return {
                "pushes": self._pushes,
                "requests": dict(self._requests),
                "jobs": {job: dict(counts) for job, counts in self._job_requests.items()},
            }
