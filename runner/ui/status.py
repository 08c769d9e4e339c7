"""`sievefile status RUN`: the run view of `sievefile run` for a recorded run (past, detached or
still running in another terminal), from its record and the ledger.

The same `RunState` as the live view (built by `state_from_record`), drawn with bars on a
terminal and as plain lines elsewhere, then the per-job table (the first `TABLE_LIMIT` rows
unless every row is asked for) and where each output went.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from runner.ui.progress import render_view, view_lines
from runner.ui.state import state_from_record
from runner.ui.summary import TABLE_LIMIT, describe_outputs


def header_lines(record: dict[str, Any]) -> list[str]:
    """The run, its counts, its manifest and its times."""
    return [
        f"run {record['run_id']}: {record['status']} ({record_counts(record)})",
        f"manifest: {record['manifest']} (sha256 {record['manifest_sha256'][:12]})",
        f"started {record.get('started_at', '?')}, ended {record.get('ended_at', '-')}",
    ]


def record_counts(record: dict[str, Any]) -> str:
    """`1 failed, 2 finished`: the record's jobs by status."""
    statuses: dict[str, int] = {}
    for job in record.get("jobs", {}).values():
        statuses[job["status"]] = statuses.get(job["status"], 0) + 1
    return ", ".join(f"{count} {name}" for name, count in sorted(statuses.items())) or "no jobs"


def job_lines(record: dict[str, Any], *, all_jobs: bool = False) -> list[str]:
    """One line per job instance: status, job id, outputs (or error, or cache origin) and
    where its outputs were delivered."""
    jobs = record.get("jobs", {})
    shown = list(jobs.items()) if all_jobs else list(jobs.items())[:TABLE_LIMIT]
    width = max((len(key) for key, _ in shown), default=0)
    lines = ["jobs"] if shown else []
    for key, job in shown:
        detail = job.get("error", "")
        if "outputs" in job:
            detail = describe_outputs(json.loads(job["outputs"]))
        if job.get("cached_from"):
            detail += f" (from {job['cached_from']})"
        job_id = job.get("job_id", "-")
        lines.append(f"  {key:{width}}  {job['status']:10}  {job_id:36}  {detail}")
        for delivery in job.get("deliveries", ()):
            where = delivery.get("location") or delivery.get("error", "")
            sink = _sink_name(str(delivery["sink"]))
            lines.append(f"  {'':{width}}  -> {sink}: {delivery['status']} {where}")
    if len(jobs) > len(shown):
        lines.append(f"  ... and {len(jobs) - len(shown)} more (--all lists every job)")
    return lines


def _sink_name(target: str) -> str:
    """`local` from the ledger's `sinks[0]:local:d352e540` (the entry, its kind, a digest of
    its settings)."""
    parts = target.split(":")
    return parts[1] if len(parts) == 3 and parts[0].startswith("sinks[") else target


def status_lines(record: dict[str, Any], *, all_jobs: bool = False) -> list[str]:
    """`status RUN` as plain text: header, the run view, the jobs."""
    view = view_lines(state_from_record(record))[1:]  # the header says the run and status
    return [*header_lines(record), *view, *job_lines(record, all_jobs=all_jobs)]


def print_status(
    record: dict[str, Any], *, all_jobs: bool = False, color: bool = True, view: bool = True
) -> None:
    """`status RUN` on a terminal: the header, the view with its bars (unless `view` is
    False: `watch_status` left it on the screen), the jobs."""
    from rich.console import Console, Group
    from rich.text import Text

    console = Console(no_color=not color, highlight=False)
    for line in header_lines(record):
        console.print(Text(line))
    if view:
        console.print(render_view(state_from_record(record), height=10_000, live=False))
    for line in job_lines(record, all_jobs=all_jobs):
        console.print(Group(Text(line)))


def watch_status(
    load: Callable[[], dict[str, Any]], *, interval: float = 1.0, color: bool = True
) -> dict[str, Any]:
    """Redraw the view of a running run every `interval` seconds until it ends (on a
    terminal); returns its last record."""
    from rich.console import Console
    from rich.live import Live

    console = Console(no_color=not color, highlight=False)
    record = load()
    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            view = render_view(state_from_record(record), height=console.size.height, live=False)
            live.update(view)
            live.refresh()
            if record.get("status") != "running":
                return record
            time.sleep(interval)
            record = load()
