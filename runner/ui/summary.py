"""The end of a run: the totals, the failures, where the outputs went, what to do next."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from runner.durations import format_duration
from runner.execute.outcome import RunSummary, Status


def file_locations(value: Any) -> list[str]:
    """Every file output inside `value` (`{"url": ...}` objects), as a local path when the
    URL is a `file://` URL, else the URL."""
    found: list[str] = []
    if isinstance(value, dict):
        url = value.get("url")
        if isinstance(url, str) and set(value) <= {"url", "path", "type", "name"}:
            found.append(_local(url))
        else:
            for item in value.values():
                found.extend(file_locations(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(file_locations(item))
    return found


def _local(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return url
    path = Path(unquote(parsed.path))
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def describe_outputs(outputs: list[Any], width: int = 60) -> str:
    """A short, one-line view of a job's outputs: its files, else its compact JSON."""
    files = file_locations(outputs)
    if files:
        return ", ".join(files)
    text = json.dumps(outputs[0] if len(outputs) == 1 else outputs, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


#: Up to this many job instances, the summary lists every one (more: with --verbose).
TABLE_LIMIT = 20
#: Failures listed by name in the summary; the rest are counted.
FAILURE_LIMIT = 20


def summary_lines(
    summary: RunSummary,
    *,
    verbose: bool = False,
    manifest: str | None = None,
    table_limit: int = TABLE_LIMIT,
) -> list[str]:
    """The closing lines of `sievefile run`, whatever the number of jobs: the per-job table
    (when short, or `verbose`), the failed jobs with their messages, where outputs went, the
    command that resumes or retries the run (`manifest` is its path), then the verdict: totals
    by state, wall time, requests."""
    lines: list[str] = []
    if verbose or len(summary.outcomes) <= table_limit:
        lines.extend(job_table(summary))
    failures = [o for o in summary.outcomes if o.status in (Status.FAILED, Status.CANCELLED)]
    if failures and not (verbose or len(summary.outcomes) <= table_limit):
        lines.append(f"failed ({len(failures)}):")
        width = max(len(o.key) for o in failures[:FAILURE_LIMIT])
        for outcome in failures[:FAILURE_LIMIT]:
            allowed = " (allowed)" if outcome.allowed else ""
            lines.append(f"  {outcome.key:{width}}  {outcome.state}{allowed}: {outcome.error}")
        if len(failures) > FAILURE_LIMIT:
            more = len(failures) - FAILURE_LIMIT
            where = f"`sievefile status {summary.run_id}`" if summary.run_id else "--verbose"
            lines.append(f"  ... and {more} more ({where} lists them all)")
    lines.extend(delivery_lines(summary))
    advice = next_step(summary, manifest)
    if advice:
        lines.append(advice)
    lines.append(verdict_line(summary))
    return lines


def job_table(summary: RunSummary) -> list[str]:
    """One line per job instance: key, state, outputs or error."""
    lines = []
    width = max((len(o.key) for o in summary.outcomes), default=0)
    for outcome in summary.outcomes:
        status = outcome.state + (" (allowed)" if outcome.allowed else "")
        detail = (
            describe_outputs(outcome.outputs)
            if outcome.status is Status.FINISHED
            else outcome.error
        )
        lines.append(f"  {outcome.key:{width}}  {status:10}  {detail}")
    return lines


def next_step(summary: RunSummary, manifest: str | None) -> str:
    """The command that continues this run, when there is something to continue."""
    if summary.run_id is None or manifest is None:
        return ""
    quoted = shlex.quote(manifest)
    if summary.interrupted:
        return f"next: `sievefile run {quoted} --resume {summary.run_id}` continues this run"
    if summary.ok and not summary.delivered:
        return (
            f"next: `sievefile run {quoted} --resume {summary.run_id}` delivers what is missing "
            "(no job is pushed again)"
        )
    if summary.failed or any(o.status is Status.SKIPPED for o in summary.outcomes):
        folder = shlex.quote(os.path.dirname(manifest) or ".")
        return (
            f"next: `sievefile retry {summary.run_id} -C {folder}` runs the failed, cancelled "
            "and skipped jobs again"
        )
    return ""


def verdict_line(summary: RunSummary) -> str:
    """`run ok: 4 finished, 2 cached in 3s; 6 API requests (run ...)`."""
    counts = ", ".join(f"{count} {state}" for state, count in summary.counts().items())
    verdict = "interrupted" if summary.interrupted else ("ok" if summary.ok else "failed")
    if verdict == "ok" and not summary.delivered:
        verdict = "finished, delivered with errors"
    wall = f" in {format_duration(summary.wall_time)}" if summary.wall_time is not None else ""
    run_id = f" (run {summary.run_id})" if summary.run_id else ""
    return f"run {verdict}: {counts or 'no jobs'}{wall}; {summary.requests} API requests{run_id}"


def delivery_lines(summary: RunSummary) -> list[str]:
    """Where outputs went and what was not delivered (nothing without sinks or notifiers)."""
    stats = summary.deliveries
    lines = [f"  outputs -> {destination}" for destination in stats.destinations]
    if stats.delivered or stats.failed:
        failed = f", {stats.failed} failed" if stats.failed else ""
        lines.append(f"  {stats.delivered} outputs delivered{failed}")
    if stats.notified or stats.notify_failed:
        failed = f", {stats.notify_failed} failed" if stats.notify_failed else ""
        lines.append(f"  {stats.notified} notifications sent (at least once){failed}")
    lines.extend(f"  not delivered: {error}" for error in stats.errors)
    return lines
