"""Progress while a run goes on: a live view (`live`, terminals), one line per event (`plain`),
or JSON Lines (`json`).

Each takes `RunEvent`s from the scheduler, whose messages are already masked.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from runner.execute.outcome import Report, RunEvent

_LABELS = {
    "pushed": "pushed",
    "retrying": "retrying",
    "finished": "finished",
    "failed": "FAILED",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "expanded": "expanded",
    "cached": "cached",
    "kept": "kept",
    "reattached": "reattach",
    "reconciled": "reconcile",
    "detached": "detached",
    "notice": "NOTE",
    "delivered": "delivered",
    "undelivered": "UNDELIVERED",
    "plugin-error": "PLUGIN",
}


class PlainProgress:
    """`HH:MM:SS  finished  probe  (job 1f2e...)` lines, for terminals and CI logs alike."""

    def __init__(self, write: Callable[[str], None], clock: Callable[[], float] = time.time):
        self._write = write
        self._clock = clock

    def __call__(self, event: RunEvent) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(self._clock()))
        parts = [stamp, f"{_LABELS.get(event.kind, event.kind):9}", event.key]
        if event.job_id:
            attempt = f", attempt {event.attempt}" if event.attempt > 1 else ""
            parts.append(f"(job {event.job_id}{attempt})")
        if event.message:
            parts.append(f"- {event.message}")
        self._write("  ".join(parts))


class JsonLinesProgress:
    """One JSON object per event on `stream`: `{"event": ..., "key": ..., ...}`."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.time):
        self._stream = stream
        self._clock = clock

    def __call__(self, event: RunEvent) -> None:
        record = {
            "time": round(self._clock(), 3),
            "event": event.kind,
            "key": event.key,
            "job_id": event.job_id,
            "attempt": event.attempt or None,
            "message": event.message or None,
        }
        self._stream.write(json.dumps({k: v for k, v in record.items() if v is not None}) + "\n")
        self._stream.flush()


class LiveProgress:
    """A live view for terminals (rich): totals, the jobs in flight with their age, failures.

    Use as a context manager around the run; it leaves nothing behind on the screen (the summary
    follows it).
    """

    def __init__(self, total: int | None = None, clock: Callable[[], float] = time.monotonic):
        from rich.console import Console
        from rich.live import Live

        self._clock = clock
        self._total = total
        self._started: dict[str, tuple[float, str | None]] = {}
        self._ended: dict[str, str] = {}
        self._failures: list[tuple[str, str]] = []
        self._live = Live(
            get_renderable=self.render,
            console=Console(stderr=True),
            refresh_per_second=4,
            transient=True,
        )

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.stop()

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "pushed":
            self._started[event.key] = (self._clock(), event.job_id)
        elif event.kind in ("finished", "failed", "cancelled", "skipped"):
            self._started.pop(event.key, None)
            self._ended[event.key] = event.kind
            if event.kind == "failed":
                self._failures.append((event.key, event.message))

    def render(self) -> Any:
        """What the live view shows now."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        counts: dict[str, int] = {}
        for kind in self._ended.values():
            counts[kind] = counts.get(kind, 0) + 1
        done = sum(counts.values())
        total = f"/{self._total}" if self._total else ""
        parts = [f"{done}{total} done", f"{len(self._started)} in flight"]
        parts += [f"{count} {kind}" for kind, count in sorted(counts.items())]
        header = Text("  ".join(parts), style="bold")
        table = Table(box=None, show_header=False, pad_edge=False)
        now = self._clock()
        running = sorted(self._started.items(), key=lambda item: item[1][0])
        for key, (since, job_id) in running[:12]:
            # Text, not markup: instance keys such as `dub[lang=fr]` look like rich markup.
            table.add_row(
                Text("in flight", style="cyan"), Text(key), f"{now - since:5.1f}s", job_id or ""
            )
        if len(running) > 12:
            table.add_row("", f"... and {len(running) - 12} more", "", "")
        for key, message in self._failures[-5:]:
            table.add_row(Text("FAILED", style="red bold"), Text(key), "", Text(message))
        return Group(header, table)


PROGRESS_KINDS = ("auto", "live", "plain", "json", "none")


@contextlib.contextmanager
def progress_reporter(kind: str, *, lines_to_stderr: bool) -> Iterator[Report | None]:
    """The reporter for `--progress KIND`, open for the length of a run.

    `auto` is the live view when stderr is a terminal, else plain lines; plain lines go to
    stderr when `lines_to_stderr` (stdout is then machine-readable).
    """
    if kind == "auto":
        kind = "live" if sys.stderr.isatty() and not lines_to_stderr else "plain"
    if kind == "live":
        with LiveProgress() as live:
            yield live
    elif kind == "plain":
        stream = sys.stderr if lines_to_stderr else sys.stdout
        yield PlainProgress(lambda line: print(line, file=stream, flush=True))
    elif kind == "json":
        yield JsonLinesProgress(sys.stdout)
    else:
        yield None
