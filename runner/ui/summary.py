"""The end of a run: a table of every job instance, and where the output files are."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

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


def summary_lines(summary: RunSummary) -> list[str]:
    """The closing lines of `sievefile run`: one per job instance, then the totals."""
    lines = []
    width = max((len(o.key) for o in summary.outcomes), default=0)
    for outcome in summary.outcomes:
        label = "cached" if outcome.cached_from else "detached" if outcome.detached else None
        status = (label or str(outcome.status)) + (" (allowed)" if outcome.allowed else "")
        detail = (
            describe_outputs(outcome.outputs)
            if outcome.status is Status.FINISHED
            else outcome.error
        )
        lines.append(f"  {outcome.key:{width}}  {status:10}  {detail}")
    counts = ", ".join(
        f"{summary.count(status)} {status}" for status in Status if summary.count(status)
    )
    cached = sum(1 for outcome in summary.outcomes if outcome.cached_from)
    if cached:
        counts += f" ({cached} cached)"
    verdict = "interrupted" if summary.interrupted else ("ok" if summary.ok else "failed")
    if verdict == "ok" and not summary.delivered:
        verdict = "finished, delivered with errors"
    run_id = f" (run {summary.run_id})" if summary.run_id else ""
    lines.extend(delivery_lines(summary))
    lines.append(f"run {verdict}: {counts or 'no jobs'}; {summary.requests} API requests{run_id}")
    return lines


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
    if stats.errors:
        lines.append("  `sievefile run --resume` delivers what is missing")
    return lines
