"""Acting on recorded runs from outside them: `sievefile cancel RUN` and the lookups behind
`runs`, `status` and `retry`.

Runs are found by their record (`.sievefile/runs/<run-id>.toml`) in a folder's state dir; a
unique prefix of a run id is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.backend import Backend, open_client
from runner.errors import ApiError, SievefileError
from runner.execute import ledger as states
from runner.execute.ledger import STATE_DIR, Ledger
from runner.execute.records import find_record, write_record


def state_dir_in(folder: str | Path) -> Path:
    """`FOLDER/.sievefile`: where the runs of the manifests in `folder` are recorded."""
    return Path(folder) / STATE_DIR


@dataclass(frozen=True)
class Cancelled:
    """One job `cancel_run` tried to cancel: `result` is `cancelled`, `already ended` or the
    error."""

    key: str
    job_id: str
    result: str


async def cancel_run(state_dir: Path, run_id: str, backend: Backend) -> list[Cancelled]:
    """DELETE every job of run `run_id` still in flight (or pushed with its answer lost and
    since found); mark them cancelled in the ledger and rewrite the run's record."""
    record = find_record(state_dir, run_id)
    run_id = record["run_id"]
    ledger = Ledger(state_dir / "state.db")
    results: list[Cancelled] = []
    try:
        rows = [row for row in ledger.jobs(run_id).values() if row.status in states.RUNNING_JOB]
        async with open_client(backend) as client:
            for row in rows:
                assert row.job_id is not None
                try:
                    await client.cancel_job(row.job_id)
                    result = "cancelled"
                except ApiError as error:
                    result = "already ended" if error.status_code == 400 else str(error)
                except SievefileError as error:
                    result = str(error)
                if result in ("cancelled", "already ended"):
                    ledger.ended(run_id, row.key, states.CANCELLED, error="cancelled by `cancel`")
                results.append(Cancelled(row.key, row.job_id, result))
        if ledger.run(run_id) is not None and rows:
            ledger.end_run(run_id, states.RUN_INTERRUPTED)
            write_record(
                ledger,
                run_id,
                versions=record.get("function_versions"),
                data_files=record.get("data_files"),
            )
    finally:
        ledger.close()
    return results
