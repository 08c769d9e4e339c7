"""The readable account of an event that people get: Slack's message and the email's text.

One builder for both, so a Slack message and an email say the same thing:

```
headline(notification)   one line: "podcast: run failed (2 of 10 jobs failed, 4m12s)"
sections(notification)   the details of run.finished: status, counts, failures, outputs
render_text(notification) headline + sections as plain text (the email body, Slack's fallback)
```

Pure functions of the `Notification`: no I/O, no clock. Words, not emoji, so the text reads the
same in a terminal, a mail client and Slack. Long lists are capped (`MAX_LINES`, then "and N
more") and long errors shortened, so a run of 10,000 failing jobs still makes a short message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner import JobRecord, Notification, RunResult, format_duration

#: At most this many failed jobs, destinations or delivery errors are listed.
MAX_LINES = 10
#: A job's error is cut to this many characters (Slack's section text is limited too).
MAX_ERROR = 300


@dataclass(frozen=True)
class Section:
    """A titled group of lines ("Failed jobs (2)", ...); the first section has no title."""

    title: str
    lines: tuple[str, ...]


def headline(notification: Notification) -> str:
    """One line saying what happened; the whole message for every event but run.finished."""
    run = notification.run
    if notification.summary is not None:
        return f"{run.name}: run {notification.summary.status} ({_outcome(notification.summary)})"
    if notification.job is not None:
        return f"{run.name}: {_job_line(notification.job)}"
    planned = f"{run.planned_jobs} job{'s' if run.planned_jobs != 1 else ''}"
    return f"{run.name}: run {'resumed' if run.resumed else 'started'} ({planned})"


def status_word(notification: Notification) -> str:
    """The event's outcome in one word: the run's or job's status, or `started`/`resumed`."""
    if notification.summary is not None:
        return notification.summary.status
    if notification.job is not None:
        return notification.job.status.value
    return "resumed" if notification.run.resumed else "started"


def sections(notification: Notification) -> tuple[Section, ...]:
    """The details under the headline: only run.finished has any."""
    summary = notification.summary
    if summary is None:
        return ()
    found = [Section("", _facts(notification, summary))]
    if summary.failed:
        found.append(
            Section(
                f"Failed jobs ({len(summary.failed)})",
                _capped([_job_line(job) for job in summary.failed]),
            )
        )
    if summary.deliveries.destinations:
        found.append(Section("Outputs", _capped(summary.deliveries.destinations)))
    if summary.deliveries.errors:
        found.append(
            Section(
                f"Delivery errors ({len(summary.deliveries.errors)})",
                _capped(summary.deliveries.errors),
            )
        )
    return tuple(found)


def render_text(notification: Notification) -> str:
    """Headline and sections as plain text, ending with a newline."""
    blocks = [headline(notification)]
    for section in sections(notification):
        indent = "  " if section.title else ""
        lines = [f"{indent}{line}" for line in section.lines]
        blocks.append("\n".join([f"{section.title}:", *lines] if section.title else lines))
    return "\n\n".join(blocks) + "\n"


def _outcome(summary: RunResult) -> str:
    failed = len(summary.failed)
    total = len(summary.jobs)
    jobs = f"{total} job{'s' if total != 1 else ''}"
    counted = f"{failed} of {jobs} failed" if failed else jobs
    return f"{counted}, {format_duration(summary.duration)}"


def _facts(notification: Notification, summary: RunResult) -> tuple[str, ...]:
    counts = ", ".join(f"{count} {status}" for status, count in summary.counts.items())
    facts = [
        f"Status: {summary.status}",
        f"Jobs: {counts}",
        f"Duration: {format_duration(summary.duration)}",
    ]
    deliveries = summary.deliveries
    if deliveries.delivered or deliveries.failed:
        facts.append(f"Outputs delivered: {deliveries.delivered}, failed: {deliveries.failed}")
    if deliveries.errors:
        facts.append(f"Delivery errors: {len(deliveries.errors)}")
    if notification.run.run_id:
        facts.append(f"Run: {notification.run.run_id}")
    return tuple(facts)


def _job_line(job: JobRecord) -> str:
    allowed = " (allowed)" if job.allowed_failure else ""
    line = f"job {job.key} ({job.function}) {job.status.value}{allowed}"
    if not job.error:
        return line
    error = " ".join(job.error.split())  # one line, whatever the service sent
    if len(error) > MAX_ERROR:
        error = error[: MAX_ERROR - 1] + "…"
    return f"{line}: {error}"


def _capped(lines: Sequence[str]) -> tuple[str, ...]:
    if len(lines) <= MAX_LINES:
        return tuple(lines)
    return (*lines[:MAX_LINES], f"and {len(lines) - MAX_LINES} more")
