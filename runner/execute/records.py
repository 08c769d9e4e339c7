"""Run records: `.sievefile/runs/<run-id>.toml`, one readable file per run.

Written from the ledger when a run starts and again when it ends (so a crashed run's record
says `running` until a resume rewrites it). Contents: the run id, manifest path and sha256,
status, times, the lock file's text (when there is one), the function versions used, the
sha256 of each data file a matrix read rows from (`data_files`, by path relative to the
manifest), and per job instance its job id, status, attempts, timings, outputs (masked; as JSON
text, since TOML has no null), `cached_from` and its deliveries (sink, output, location, sha256,
status).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomli_w

from runner._toml import TOMLDecodeError, toml_loads
from runner.errors import ConfigError, RunError
from runner.execute.ledger import DeliveryRow, JobRow, Ledger, RunLock, RunRow
from runner.schemas.lock import lock_path_for

RUNS_DIR = "runs"


def record_path(state_dir: Path, run_id: str) -> Path:
    return state_dir / RUNS_DIR / f"{run_id}.toml"


def build_record(
    run: RunRow,
    jobs: dict[str, JobRow],
    *,
    versions: dict[str, str] | None = None,
    deliveries: Sequence[DeliveryRow] = (),
    data_files: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The record of `run` as a TOML-ready document (None values left out)."""
    delivered: dict[str, list[dict[str, Any]]] = {}
    for row in deliveries:
        delivered.setdefault(row.key, []).append(
            {
                "output": row.output,
                "sink": row.target,
                "status": row.status,
                "location": row.location,
                "sha256": row.sha256,
                "attempts": row.attempts,
                "error": row.error or None,
                "at": _iso(row.at),
            }
        )
    lock_path = lock_path_for(run.manifest)
    document: dict[str, Any] = {
        "run_id": run.run_id,
        "manifest": run.manifest,
        "manifest_sha256": run.manifest_sha256,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "options": run.options,
        "function_versions": dict(sorted((versions or {}).items())),
        "data_files": dict(sorted(data_files.items())) if data_files else None,
        "lock": lock_path.read_text(encoding="utf-8") if lock_path.is_file() else None,
        "jobs": {
            key: {
                "job": row.job,
                "function": row.function,
                "status": row.status,
                "job_id": row.job_id,
                "attempts": row.attempts,
                "pushed_at": _iso(row.pushed_at),
                "started_at": _iso(row.started_at),
                "ended_at": _iso(row.ended_at),
                "seconds": round(row.ended_at - row.pushed_at, 3)
                if row.ended_at and row.pushed_at
                else None,
                # JSON text: outputs may hold nulls, which TOML cannot
                "outputs": json.dumps(row.outputs, ensure_ascii=False)
                if row.outputs is not None
                else None,
                "error": row.error or None,
                "cached_from": row.cached_from,
                "cache_key": row.cache_key,
                "deliveries": delivered.get(key),
            }
            for key, row in sorted(jobs.items())
        },
    }
    return _without_none(document)


def write_record(
    ledger: Ledger,
    run_id: str,
    *,
    versions: dict[str, str] | None = None,
    data_files: dict[str, str] | None = None,
) -> Path:
    """Write (or rewrite) the record of `run_id` from the ledger; returns its path."""
    run = ledger.run(run_id)
    if run is None:
        raise ConfigError(f"no run {run_id!r} in {ledger.path}")
    path = record_path(ledger.path.parent, run_id)
    record = build_record(
        run,
        ledger.jobs(run_id),
        versions=versions,
        deliveries=ledger.deliveries(run_id),
        data_files=data_files,
    )
    text = tomli_w.dumps(record)
    temporary = path.with_suffix(".toml.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)  # a crash mid-write leaves the previous record whole
    except OSError as error:  # `runs` is a file, the disk is full, ...: the ledger has it all
        raise RunError(f"cannot write the run record {path}: {error}") from None
    return path


def list_records(state_dir: Path) -> list[dict[str, Any]]:
    """Every run record under `state_dir`, newest first; a damaged one is left out (`status`
    on its run says what is wrong with it)."""
    folder = state_dir / RUNS_DIR
    if not folder.is_dir():
        return []
    records = []
    for path in folder.glob("*.toml"):
        try:
            records.append(read_record(path))
        except RunError:
            continue
    # a run id names its second only: two runs in one second are ordered by their start
    records.sort(key=lambda record: (record.get("started_at", ""), record["run_id"]), reverse=True)
    return [live_status(record, state_dir) for record in records]


def read_record(path: Path) -> dict[str, Any]:
    """The run record at `path`; RunError when it cannot be read or is not one sievefile
    wrote (edited by hand, cut short)."""
    try:
        record = toml_loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLDecodeError) as error:
        raise RunError(f"{path}: not a readable run record ({error})") from None
    for key in ("run_id", "manifest", "status"):
        if not isinstance(record.get(key), str):
            raise RunError(f"{path}: not a run record sievefile wrote (`{key}` is not text)")
    jobs = record.get("jobs", {})
    if not isinstance(jobs, dict) or not all(isinstance(job, dict) for job in jobs.values()):
        raise RunError(f"{path}: not a run record sievefile wrote (`jobs` is not a table)")
    return record


def find_record(state_dir: Path, run_id: str) -> dict[str, Any]:
    """The record of `run_id` (a unique prefix is enough); ConfigError naming close ids."""
    from runner.suggest import did_you_mean

    folder = state_dir / RUNS_DIR
    ids = sorted(path.stem for path in folder.glob("*.toml")) if folder.is_dir() else []
    matches = [known for known in ids if known.startswith(run_id)]
    if len(matches) != 1:
        problem = "is ambiguous" if matches else "is not a run"
        hint = did_you_mean(run_id, ids) if not matches else ""
        where = f"in {folder}" if ids else f"(no runs recorded in {folder})"
        raise ConfigError(f"{run_id!r} {problem} {where}{hint}")
    return live_status(read_record(folder / f"{matches[0]}.toml"), state_dir)


def live_status(record: dict[str, Any], state_dir: Path) -> dict[str, Any]:
    """`record` brought up to date: its run's status and jobs as the ledger has them now (a
    run in progress writes its record only when it starts and ends), and status `crashed` when
    it says running but no process holds its manifest's lock."""
    database = state_dir / "state.db"
    if database.is_file():
        ledger = Ledger(database)
        try:
            run = ledger.run(record["run_id"])
            if run is not None:
                fresh = build_record(
                    run, ledger.jobs(run.run_id), deliveries=ledger.deliveries(run.run_id)
                )
                record = {**record, "status": fresh["status"], "jobs": fresh["jobs"]}
                if "ended_at" in fresh:
                    record["ended_at"] = fresh["ended_at"]
        finally:
            ledger.close()
    if record.get("status") == "running" and not RunLock(record["manifest"]).is_held():
        record = {**record, "status": "crashed"}
    return record


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds")


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
