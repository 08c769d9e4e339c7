"""Waiting on conditions, the one way tests wait: never a bare sleep before an assertion, never
an assertion on elapsed time.

`wait_until(condition)` polls until `condition()` returns something truthy and returns it;
`timeout` only bounds a test that would otherwise hang (it fails naming what never happened).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: How long a wait may take before the test fails: generous, since a loaded machine is slow.
DEFAULT_TIMEOUT = 30.0


def wait_until(
    condition: Callable[[], T],
    *,
    what: str = "the condition",
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.01,
) -> T:
    """The first truthy value of `condition()`, polled every `interval` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}; it never happened")
        time.sleep(interval)


def wait_for_status(api: Any, job_id: str, status: str, **options: Any) -> dict[str, Any]:
    """Wait until job `job_id` is in `status` (polling `GET /jobs/{id}` on an httpx client of
    `<server>/v2`); its JSON."""

    def reached() -> dict[str, Any] | None:
        job = api.get(f"/jobs/{job_id}").json()
        return dict(job) if job["status"] == status else None

    return wait_until(reached, what=f"job {job_id} to be {status}", **options)


def wait_for_end(api: Any, job_id: str, **options: Any) -> dict[str, Any]:
    """Wait until job `job_id` has ended (finished, error or cancelled); its JSON."""

    def ended() -> dict[str, Any] | None:
        job = api.get(f"/jobs/{job_id}").json()
        return dict(job) if job["status"] in ("finished", "error", "cancelled") else None

    return wait_until(ended, what=f"job {job_id} to end", **options)
