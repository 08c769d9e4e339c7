"""The local backend's job records, in SQLite (stdlib `sqlite3`).

In memory for the embedded backend, in a WAL-mode file for `sievefile serve`, so a restarted
server answers for every job it accepted. Every status change is a conditional UPDATE
(`... WHERE status = 'queued'`), so a cancel and a worker racing for the same job cannot both win.
The store renders jobs in the live service's JSON shape; it knows nothing of functions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runner.errors import BackendError
from runner.local.registry import LOCAL_ORGANIZATION_ID

QUEUED = "queued"
PROCESSING = "processing"
FINISHED = "finished"
ERROR = "error"
CANCELLED = "cancelled"
STATUSES = (QUEUED, PROCESSING, FINISHED, ERROR, CANCELLED)
TERMINAL = (FINISHED, ERROR, CANCELLED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner_name TEXT NOT NULL,
    function_name TEXT NOT NULL,
    function_id TEXT NOT NULL,
    version_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    error TEXT NOT NULL DEFAULT '',
    run_id TEXT NOT NULL,
    inputs TEXT NOT NULL,
    webhooks TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS outputs (
    job_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
);
"""


def now_iso() -> str:
    """The current UTC time, ISO-8601 with an explicit offset (what every timestamp uses)."""
    return datetime.now(timezone.utc).isoformat()


@dataclass(frozen=True)
class JobRecord:
    """One row of the jobs table: what a worker needs to run the job and to render it."""

    id: str
    owner_name: str
    function_name: str
    function_id: str
    version_id: str
    status: str
    created_at: str
    started_at: str | None
    completed_at: str | None
    error: str
    run_id: str
    inputs: dict[str, Any]  # name -> {type, name, data, description, schema, run_id}
    webhooks: list[dict[str, str]]

    @property
    def function_reference(self) -> str:
        return f"{self.owner_name}/{self.function_name}"

    def input_values(self) -> dict[str, Any]:
        return {name: item["data"] for name, item in self.inputs.items()}

    def to_json(self, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        """The job as `GET /v2/jobs/{id}` returns it."""
        fields = _api_fields(lambda name: getattr(self, name))
        return {**fields, "inputs": self.inputs, "outputs": outputs}


def _api_fields(column: Callable[[str], Any]) -> dict[str, Any]:
    """A job's API fields but its inputs and outputs (which follow them), in the live
    service's order; `column(name)` reads a column of the jobs table."""
    return {
        "id": column("id"),
        "function_id": column("function_id"),
        "organization_id": LOCAL_ORGANIZATION_ID,
        "function": {"name": column("function_name"), "owner_name": column("owner_name")},
        "status": column("status"),
        "created_at": column("created_at"),
        "started_at": column("started_at"),
        "completed_at": column("completed_at"),
        "error": column("error"),
        "visibility": "private",
        "run_id": column("run_id"),
    }


def _job_text(row: sqlite3.Row, outputs: Iterable[str]) -> str:
    """`JobRecord.to_json` of a jobs table `row` as JSON text, its inputs and output items
    spliced in as the JSON text they are stored as: a list page is mostly inputs and
    outputs, and decoding them only to encode them again was most of its cost."""
    head = json.dumps(_api_fields(row.__getitem__))
    return f'{head[:-1]},"inputs":{row["inputs"]},"outputs":[{",".join(outputs)}]}}'


class JobStore:
    """Job records and their outputs; safe to use from any thread."""

    def __init__(self, path: str | Path | None = None) -> None:
        """`path` None (or ":memory:") keeps the records in memory."""
        self.path = None if path is None or str(path) == ":memory:" else Path(path)
        self._lock = threading.RLock()
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                ":memory:" if self.path is None else str(self.path),
                check_same_thread=False,
                isolation_level=None,
                timeout=1.0,
            )
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise BackendError(f"cannot open the job database {self.path}: {reason}") from None
        self._db.row_factory = sqlite3.Row
        try:
            if self.path is not None:
                # One server per database: a second one would fail the first one's running
                # jobs as "interrupted". The exclusive lock is taken by the first write below
                # and held until close (the OS drops it if the process dies).
                self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:  # also "file is not a database"
            self._db.close()
            if "locked" in str(exc):
                raise BackendError(
                    f"the job database {self.path} is in use by another local server; "
                    "stop it or pass another --db"
                ) from None
            raise BackendError(f"cannot open the job database {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: Iterable[Any]) -> int:
        with self._lock:
            return self._db.execute(sql, tuple(params)).rowcount

    def insert(self, record: JobRecord) -> None:
        self._write(
            "INSERT INTO jobs (id, owner_name, function_name, function_id, version_id, status,"
            " created_at, started_at, completed_at, error, run_id, inputs, webhooks)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.owner_name,
                record.function_name,
                record.function_id,
                record.version_id,
                record.status,
                record.created_at,
                record.started_at,
                record.completed_at,
                record.error,
                record.run_id,
                # stored as JSON text that list pages splice in as it is: strict JSON only
                json.dumps(record.inputs, allow_nan=False),
                json.dumps(record.webhooks),
            ),
        )

    def record(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _record(row)

    def outputs(self, job_id: str, offset: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT item FROM outputs WHERE job_id = ? AND position >= ? ORDER BY position",
                (job_id, offset),
            ).fetchall()
        return [json.loads(row["item"]) for row in rows]

    def job_json(self, job_id: str, output_offset: int = 0) -> dict[str, Any] | None:
        """The job's API JSON with its outputs from `output_offset` on, or None if unknown."""
        with self._lock:
            record = self.record(job_id)
            if record is None:
                return None
            return record.to_json(self.outputs(job_id, output_offset))

    def page(self, *, limit: int, offset: int, status: str = "") -> tuple[list[str], int]:
        """Jobs newest first, each as its JSON text (`JobRecord.to_json`'s), and the offset of
        the next page (-1 when this is the last)."""
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        page = f"SELECT * FROM jobs {where} ORDER BY seq DESC LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._db.execute(page, (*params, limit + 1, offset)).fetchall()
            # All the page's outputs in one query rather than one query per job.
            output_rows = self._db.execute(
                f"SELECT o.job_id, o.item FROM outputs o JOIN ({page}) j ON o.job_id = j.id"
                " ORDER BY o.job_id, o.position",
                (*params, limit, offset),
            ).fetchall()
        outputs: dict[str, list[str]] = {}
        for job_id, item in output_rows:
            outputs.setdefault(job_id, []).append(item)
        data = [_job_text(row, outputs.get(row["id"], ())) for row in rows[:limit]]
        next_offset = offset + limit if len(rows) > limit else -1
        return data, next_offset

    def status_counts(self) -> dict[str, int]:
        """How many jobs are in each status (statuses without jobs are absent)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
            return {row["status"]: row["n"] for row in rows.fetchall()}

    def queued_ids(self) -> list[str]:
        """Queued jobs, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE status = ? ORDER BY seq", (QUEUED,)
            ).fetchall()
        return [row["id"] for row in rows]

    def claim(self, job_id: str) -> bool:
        """queued -> processing; False if the job is no longer queued (cancelled meanwhile)."""
        return (
            self._write(
                "UPDATE jobs SET status = ?, started_at = ? WHERE id = ? AND status = ?",
                (PROCESSING, now_iso(), job_id, QUEUED),
            )
            == 1
        )

    def finish(self, job_id: str, status: str, error: str = "") -> bool:
        """processing -> finished/error; False if the job was cancelled meanwhile."""
        return (
            self._write(
                "UPDATE jobs SET status = ?, error = ?, completed_at = ?"
                " WHERE id = ? AND status = ?",
                (status, error, now_iso(), job_id, PROCESSING),
            )
            == 1
        )

    def cancel(self, job_id: str) -> str | None:
        """queued/processing -> cancelled. Returns the status it had, or None if it was done."""
        with self._lock:
            record = self.record(job_id)
            if record is None or record.status in TERMINAL:
                return None
            self._write(
                "UPDATE jobs SET status = ?, completed_at = ? WHERE id = ?",
                (CANCELLED, now_iso(), job_id),
            )
            return record.status

    def add_output(self, job_id: str, item: dict[str, Any]) -> int | None:
        """Append an output to a processing job; its position, or None if the job is done."""
        with self._lock:
            row = self._db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["status"] != PROCESSING:
                return None
            position = self._db.execute(
                "SELECT COUNT(*) FROM outputs WHERE job_id = ?", (job_id,)
            ).fetchone()[0]
            self._db.execute(
                "INSERT INTO outputs (job_id, position, item) VALUES (?, ?, ?)",
                (job_id, position, json.dumps(item, allow_nan=False)),
            )
            return int(position)

    def fail_interrupted(self, message: str) -> list[str]:
        """End every processing job as `error` with `message` (after a crash); their ids."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM jobs WHERE status = ?", (PROCESSING,))
            ids = [row["id"] for row in rows.fetchall()]
            self._write(
                "UPDATE jobs SET status = ?, error = ?, completed_at = ? WHERE status = ?",
                (ERROR, message, now_iso(), PROCESSING),
            )
        return ids


def _record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        owner_name=row["owner_name"],
        function_name=row["function_name"],
        function_id=row["function_id"],
        version_id=row["version_id"],
        status=row["status"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        error=row["error"],
        run_id=row["run_id"],
        inputs=json.loads(row["inputs"]),
        webhooks=json.loads(row["webhooks"]),
    )
