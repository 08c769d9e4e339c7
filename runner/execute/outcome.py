"""What a run produces: one `JobOutcome` per job instance, events while it runs, a summary."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.hooktypes import DeliveryStats


class Status(str, enum.Enum):
    """How a job instance ended (or that it never started)."""

    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


@dataclass
class JobOutcome:
    """One job instance of a run.

    `outputs` holds the `data` of each output item (what `${{ jobs.X.outputs[i] }}` sees);
    `job_id` is the last job pushed for it (None when nothing was pushed); `attempts` counts
    pushes; `allowed` marks a failure the manifest tolerates (`continue_on_error`);
    `cached_from` names the earlier job whose outputs a cache hit reused (`run-id/key`; its id is
    `job_id`);
    `detached` marks a job left running on the service by an interrupt with `--detach`.
    """

    key: str
    job: str
    function: str
    status: Status
    job_id: str | None = None
    attempts: int = 0
    outputs: list[Any] = field(default_factory=list)
    error: str = ""
    allowed: bool = False
    duration: float | None = None
    cached_from: str | None = None
    detached: bool = False

    @property
    def ok(self) -> bool:
        return self.status is Status.FINISHED or self.allowed

    @property
    def state(self) -> str:
        """How the instance is counted in views: its status, or `cached` / `detached`."""
        if self.cached_from is not None and self.status is Status.FINISHED:
            return "cached"
        return "detached" if self.detached else self.status.value

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "job": self.job,
            "function": self.function,
            "status": self.status.value,
            "job_id": self.job_id,
            "attempts": self.attempts,
            "outputs": self.outputs,
            "error": self.error,
            "allowed_failure": self.allowed,
            "duration": self.duration,
            "cached_from": self.cached_from,
            "detached": self.detached,
        }


_FAILING = frozenset({Status.FAILED, Status.CANCELLED})


@dataclass
class RunSummary:
    """Every outcome of a run, in plan order, and whether the run was interrupted."""

    outcomes: list[JobOutcome]
    interrupted: bool = False
    requests: int = 0
    #: The ledger's id of this run (None without a ledger).
    run_id: str | None = None
    #: What the sinks and notifiers did.
    deliveries: DeliveryStats = field(default_factory=DeliveryStats)
    #: Seconds from the start of the run to its end (None when not measured).
    wall_time: float | None = None

    @property
    def failed(self) -> list[JobOutcome]:
        """Failures that make the run fail (a tolerated failure does not)."""
        return [o for o in self.outcomes if o.status in _FAILING and not o.allowed]

    @property
    def ok(self) -> bool:
        # A skipped job is skipped because of a failure, which is listed itself (or tolerated).
        return not self.interrupted and not self.failed

    @property
    def delivered(self) -> bool:
        """Every output reached its sinks and every notification was sent."""
        return self.deliveries.ok

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status is status)

    @property
    def status(self) -> str:
        """The run's verdict: `finished`, `undelivered`, `failed` or `interrupted`."""
        if self.interrupted:
            return "interrupted"
        if not self.ok:
            return "failed"
        return "finished" if self.delivered else "undelivered"

    def to_json(self) -> dict[str, Any]:
        """What `run --json` prints (outputs and errors as the outcomes hold them: mask them)."""
        return {
            "ok": self.ok,
            "status": self.status,
            "interrupted": self.interrupted,
            "requests": self.requests,
            "wall_time": self.wall_time,
            "run_id": self.run_id,
            "counts": self.counts(),
            "deliveries": self.deliveries.to_json(),
            "jobs": [outcome.to_json() for outcome in self.outcomes],
        }

    def counts(self) -> dict[str, int]:
        """Job instances by `JobOutcome.state`, in a fixed order, zeros left out."""
        found: dict[str, int] = {}
        for outcome in self.outcomes:
            found[outcome.state] = found.get(outcome.state, 0) + 1
        return {state: found[state] for state in END_STATES if state in found}


#: The states a job instance ends in, in the order views list them.
END_STATES = ("finished", "cached", "failed", "cancelled", "skipped", "detached")


@dataclass(frozen=True)
class RunEvent:
    """Something that happened during a run, for progress displays.

    `kind` is one of: `pushed`, `retrying`, `finished`, `failed`, `cancelled`, `skipped`,
    `expanded` (a run-time matrix got its instances), `delivered` (an output reached a sink),
    `undelivered` (a delivery or notification failed for good), `plugin-error` (a hook raised;
    `key` is the hook's name), and with a ledger: `cached` (outputs
    reused from an earlier job), `kept` (finished before a resume), `reattached` (waiting again
    for a job pushed before a resume), `reconciled` (a push whose answer was lost found its
    job), `detached` (left running on Ctrl-C with --detach). Messages are already masked.

    The run itself: `run-started` (`key` is the run id, else the manifest's name; `detail` has
    `run_id`, `manifest`, `name`, `backend`, `resumed`, `total` job instances known so far,
    `max_parallel` and `jobs`: each job's `function` and `instances`, None for a run-time
    matrix), `running` (the service was seen processing the job), `notice` (something to tell
    the user), `request` (one HTTP request, only when the run traces them: `detail` has
    `method`, `path`, `status`, `seconds`) and `run-finished` (`detail`: `status`, `counts`,
    `requests`, `wall_time`). `expanded` has `detail["instances"]`. `detail` holds no secret.
    """

    kind: str
    key: str
    message: str = ""
    job_id: str | None = None
    attempt: int = 0
    detail: Mapping[str, Any] = field(default_factory=dict)


Report = Callable[[RunEvent], None]
