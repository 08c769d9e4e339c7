"""Notifications built directly from the public records, for the notifier tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from runner import DeliveryStats, JobRecord, JobStatus, Notification, RunInfo, RunResult

RUN = RunInfo(
    run_id="20261202-143000-ab12",
    manifest=Path("/work/podcast.toml"),
    name="podcast",
    backend="embedded",
    started_at=1_764_685_800.0,
    planned_jobs=4,
)


def job(key: str, status: JobStatus = JobStatus.FINISHED, **fields: Any) -> JobRecord:
    """A job instance `key` (`name[instance]`) of function `sieve/whisper`."""
    name, _, instance = key.partition("[")
    values: dict[str, Any] = {
        "key": key,
        "job": name,
        "instance": instance.rstrip("]"),
        "function": "sieve/whisper",
        "status": status,
        "job_id": f"job-{key}",
        "attempts": 1,
    }
    return JobRecord(**{**values, **fields})


def finished_run(
    jobs: tuple[JobRecord, ...] | None = None, *, status: str = "failed", **deliveries: Any
) -> Notification:
    """A `run.finished` notification: by default 4 jobs, one failed, outputs in two places."""
    if jobs is None:
        jobs = (
            job("transcribe[lang=en]"),
            job("transcribe[lang=fr]", JobStatus.ERROR, error="model crashed: CUDA out of memory"),
            job("thumbnail", JobStatus.CACHED, cached_from="job-old"),
            job("dub", JobStatus.SKIPPED, job_id=None),
        )
    stats = {
        "delivered": 3,
        "destinations": ("local: out/20261202-143000-ab12", "s3: s3://media/podcast/"),
        **deliveries,
    }
    summary = RunResult(
        status=status, jobs=jobs, duration=5412.0, deliveries=DeliveryStats(**stats)
    )
    return Notification(event="run.finished", run=RUN, time=1_764_691_212.5, summary=summary)


def job_event(record: JobRecord, *, time: float = 1_764_686_000.0) -> Notification:
    """The `job.<status>` notification for `record`."""
    return Notification(event=f"job.{record.status.value}", run=RUN, time=time, job=record)


def run_started(*, resumed: bool = False) -> Notification:
    return Notification(event="run.started", run=replace(RUN, resumed=resumed), time=RUN.started_at)
