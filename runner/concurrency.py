"""The organisation's concurrency on the service, and the parallelism a run uses by default.

The live service answers `GET /v2/user/concurrency` with `{max_concurrency, num_current,
num_processing, num_queued, num_limited}`: how many jobs the organisation may run at once and
what is running now. The seed API lacks it, so every use is optional: when the backend does
not answer it (404/405, or any error), nothing changes.

The rule (docs/running.md, "Parallelism and waiting"): a run that sets no `max_parallel`
(neither `--max-parallel` nor `[run] max_parallel`) keeps at most `max_concurrency` jobs in
flight when that is below the built-in default (`DEFAULT_MAX_PARALLEL`, 1000); jobs beyond the
limit would only wait in the service's queue while holding a slot of the run. What is already
running is shown, not subtracted: it ends while the run goes on, and a snapshot would throttle
the whole run. During the run, 429s lower the limit further (`runner.execute.window`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from runner.errors import BackendError
from runner.manifest.model import DEFAULT_MAX_PARALLEL

if TYPE_CHECKING:
    from runner.backend import Backend
    from runner.client import SieveClient
    from runner.manifest.model import Manifest

logger = logging.getLogger("sievefile.concurrency")


@dataclass(frozen=True)
class Concurrency:
    """The organisation's concurrency limit and its jobs now, as the service reports them."""

    max_concurrency: int
    num_current: int = 0
    num_processing: int = 0
    num_queued: int = 0
    num_limited: int = 0

    @classmethod
    def from_json(cls, body: Any) -> Concurrency | None:
        """The report in a `GET /v2/user/concurrency` body; None when it has no usable limit."""
        if not isinstance(body, Mapping):
            return None
        limit = body.get("max_concurrency")
        if not isinstance(limit, int) or not _count(limit) or limit < 1:
            return None
        counts = {
            key: body[key]
            for key in ("num_current", "num_processing", "num_queued", "num_limited")
            if _count(body.get(key))
        }
        return cls(max_concurrency=limit, **counts)

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    def describe(self) -> str:
        """`max_concurrency 10 (3 processing, 1 queued)`: one line for people."""
        return (
            f"max_concurrency {self.max_concurrency} "
            f"({self.num_processing} processing, {self.num_queued} queued)"
        )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


async def service_concurrency(client: SieveClient) -> Concurrency | None:
    """The organisation's concurrency from `client`'s backend; None when it does not say."""
    try:
        body = await client.get_concurrency()
    except BackendError as error:  # advisory: a run must not fail for want of it
        logger.info("no concurrency report: %s", error)
        return None
    return None if body is None else Concurrency.from_json(body)


def backend_concurrency(backend: Backend) -> Concurrency | None:
    """`service_concurrency` for a command: opens a client on `backend`, asks, closes."""
    from runner.backend import open_client
    from runner.client import RetryPolicy

    async def ask() -> Concurrency | None:
        # One quick try: a report nobody waits for must not hold a command up.
        async with open_client(backend, retry=RetryPolicy(max_attempts=1), timeout=5.0) as client:
            return await service_concurrency(client)

    try:
        return asyncio.run(ask())
    except BackendError as error:
        logger.info("no concurrency report: %s", error)
        return None


def default_parallelism(configured: int | None, concurrency: Concurrency | None) -> int:
    """The `max_parallel` of a run: `configured` when the user set one, else the built-in
    default, capped at the organisation's `max_concurrency` when the service reports it."""
    if configured is not None:
        return configured
    if concurrency is None:
        return DEFAULT_MAX_PARALLEL
    return max(1, min(DEFAULT_MAX_PARALLEL, concurrency.max_concurrency))


def configured_parallelism(manifest: Manifest, requested: int | None = None) -> int | None:
    """The `max_parallel` the user set: `requested` (`--max-parallel`), else the manifest's
    `[run] max_parallel` when it writes one; None when neither does."""
    if requested is not None:
        return requested
    if "max_parallel" in manifest.run.written:
        return manifest.run.max_parallel
    return None
