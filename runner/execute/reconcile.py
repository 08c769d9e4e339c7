"""Finding the job an unknown-outcome push may have created, before anything is pushed again.

A push whose answer was lost (a timeout, a dropped connection, a 5xx after sending) or an
intent the ledger holds without a job id (the runner died mid-push) may or may not have created
a job. `find_pushed_job` lists recent jobs (`GET /v2/jobs`, newest first) back to the intent's
time minus `margin` (clocks of this machine and the service differ) and returns the one whose
function and inputs equal what was pushed: the inputs recorded on the job are those pushed, plus
only inputs left to their known default (a service may record those too). Only when none
matches may the caller push again.

The list's order is not trusted alone: listing stops only after `patience` jobs in a row were
older than the cutoff, so a few out-of-order jobs do not hide the match. Among several matches
(the same work pushed by another run within the margin) the one created closest to the intent
wins; jobs another instance already owns are never adopted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from runner.client import SieveClient, job_time
from runner.manifest.model import FunctionRef

#: Seconds of clock difference tolerated between this machine and the service.
DEFAULT_MARGIN = 300.0
#: Consecutive jobs older than the cutoff after which listing stops.
DEFAULT_PATIENCE = 20


async def find_pushed_job(
    client: SieveClient,
    function: str,
    inputs: Mapping[str, Any],
    since: float,
    *,
    defaults: Mapping[str, Any] | None = None,
    exclude: Collection[str] = (),
    margin: float = DEFAULT_MARGIN,
    patience: int = DEFAULT_PATIENCE,
) -> dict[str, Any] | None:
    """The job created by pushing `inputs` to `function` at `since` (epoch seconds), or None.

    `defaults` are the function's inputs with a known default value (see `same_inputs`). Jobs
    whose id is in `exclude` (already owned by another job instance) are passed over, so two
    instances with equal inputs never adopt the same job.
    """
    cutoff = since - margin
    slug = FunctionRef.parse(function).slug
    wanted = dict(inputs)
    best: dict[str, Any] | None = None
    best_distance = float("inf")
    older_in_a_row = 0
    async for job in client.iter_jobs():
        created = job_time(job.get("created_at"))
        if created is not None and created < cutoff:
            older_in_a_row += 1
            if older_in_a_row >= patience:
                break
            continue
        older_in_a_row = 0
        if job.get("id") in exclude:
            continue
        if job_function(job) == slug and same_inputs(job_inputs(job), wanted, defaults or {}):
            # several equal jobs (another folder's run of the same work): the one pushed
            # closest to the intent is this push's
            distance = abs(created - since) if created is not None else margin
            if distance < best_distance:
                best, best_distance = job, distance
    return best


def job_function(job: Mapping[str, Any]) -> str | None:
    """`owner/name` of a listed job (None when the service did not say)."""
    function = job.get("function")
    if not isinstance(function, Mapping):
        return None
    owner, name = function.get("owner_name"), function.get("name")
    return f"{owner}/{name}" if owner and name else None


def job_inputs(job: Mapping[str, Any]) -> dict[str, Any]:
    """A listed job's inputs as pushed: `{name: data}` from its `{name: {data, ...}}` object."""
    inputs = job.get("inputs")
    if not isinstance(inputs, Mapping):
        return {}
    return {
        name: item.get("data") if isinstance(item, Mapping) else item
        for name, item in inputs.items()
    }


def same_inputs(
    recorded: Mapping[str, Any], pushed: Mapping[str, Any], defaults: Mapping[str, Any]
) -> bool:
    """Whether a job recorded with `recorded` inputs is the work of pushing `pushed`: the same
    values, and any other input recorded at its known default (an input whose default is not
    known could hold anything: that job is other work)."""
    if recorded == pushed:
        return True
    for name, value in recorded.items():
        if name in pushed:
            if pushed[name] != value:
                return False
        elif name not in defaults or defaults[name] != value:
            return False
    return pushed.keys() <= recorded.keys()
