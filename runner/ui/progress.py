"""Progress while a run goes on: a live view (`live`, terminals), one line per event (`plain`),
or JSON Lines (`json`); and the same view of a recorded run (`sievefile status RUN`).

Each reporter takes `RunEvent`s from the run pipeline, whose messages are already masked, and
keeps a `RunState` (runner/ui/state.py). How much a reporter says is its `Verbosity`: `quiet`
shows errors only, `verbose` adds each HTTP request.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from runner.durations import format_duration
from runner.execute.outcome import Report, RunEvent
from runner.ui.events import JsonLinesProgress
from runner.ui.state import RunState

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

_LABELS = {
    "pushed": "pushed",
    "running": "running",
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
    "request": "http",
    "run-started": "started",
    "run-finished": "ended",
}
#: What `--quiet` still shows while a run goes on.
ERROR_KINDS = frozenset({"failed", "undelivered", "plugin-error"})
_STYLES = {
    "waiting": "dim",
    "queued": "cyan",
    "running": "blue",
    "finished": "green",
    "cached": "green",
    "failed": "red",
    "cancelled": "yellow",
    "skipped": "yellow",
    "detached": "magenta",
}


class Verbosity(enum.IntEnum):
    """How much progress says: `QUIET` errors only, `VERBOSE` also every HTTP request."""

    QUIET = 0
    NORMAL = 1
    VERBOSE = 2

    def shows(self, kind: str) -> bool:
        if kind == "request":
            return self is Verbosity.VERBOSE
        return self is not Verbosity.QUIET or kind in ERROR_KINDS


def _of_total(state: RunState) -> str:
    return f"{state.done}/{state.total}{'' if state.total_known else '+'}"


# -- plain lines ---------------------------------------------------------------------------


class BatchedLines:
    """Writes lines to `stream` a batch at a time: at most `interval` seconds after the first
    line of a batch while an event loop runs, at once outside one, and the rest on `flush()`
    or close. Use it from the event loop's thread only.

    A run reports two or three events per job from its event loop, in bursts when jobs end
    together, and a write with a flush is a system call: one per line took that loop's time
    from the jobs. A tenth of a second late is still live for a log, or for a reader at the
    other end of a pipe. A reader that went away (a closed pipe) stops the lines, not the run:
    its jobs and their record go on.
    """

    def __init__(self, stream: TextIO, interval: float = 0.1):
        self._stream = stream
        self._interval = interval
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._closed_by_reader = False

    def write(self, line: str) -> None:
        if self._closed_by_reader:
            return
        self._lines.append(line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # before or after the run's loop: nothing would flush it later
            self.flush()
            return
        if self._timer is None or self._timer_loop is not loop:
            self._timer = loop.call_later(self._interval, self.flush)
            self._timer_loop = loop

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        text = "".join(f"{line}\n" for line in self._lines)
        self._lines.clear()
        try:
            self._stream.write(text)
            self._stream.flush()
        except OSError:  # BrokenPipeError, or the disk behind a redirect is full
            self._closed_by_reader = True

    def __enter__(self) -> BatchedLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()


class PlainProgress:
    """`[3/10] HH:MM:SS  finished   probe  (job 1f2e...)` lines, for CI logs and pipes: one line
    per event, with a running count of the job instances done out of the total."""

    def __init__(
        self,
        write: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        verbosity: Verbosity = Verbosity.NORMAL,
        flush: Callable[[], None] = lambda: None,
    ):
        self._write = write
        self._clock = clock
        self._verbosity = verbosity
        #: writes what `write` holds back (a second Ctrl-C exits the process at once)
        self.flush = flush
        self.state = RunState()

    def __call__(self, event: RunEvent) -> None:
        self.state.apply(event)
        if not self._verbosity.shows(event.kind):
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(self._clock()))
        parts = [f"[{_of_total(self.state)}]", stamp, f"{_LABELS.get(event.kind, event.kind):9}"]
        parts.append(event.key)
        if event.job_id:
            attempt = f", attempt {event.attempt}" if event.attempt > 1 else ""
            parts.append(f"(job {event.job_id}{attempt})")
        if event.kind == "run-started":
            parts.append(
                f"- {self.state.total} job instances, max_parallel {self.state.max_parallel}"
            )
        elif event.message:
            parts.append(f"- {event.message}")
        self._write("  ".join(parts))


# -- the live view --------------------------------------------------------------------------


def render_view(state: RunState, *, height: int = 40, live: bool = True) -> RenderableType:
    """The view of a run (rich): bar, counts, functions, jobs in flight (longest first, as
    many as fit in `height` lines), the latest failures and notices."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    rows: list[Any] = []
    title = Text("run ", style="bold")
    title.append(state.run_id or state.name or "", style="bold")
    if state.name and state.run_id:
        title.append(f"  {state.name}", style="dim")
    if not live:
        title.append(f"  {state.status}", style=_verdict_style(state.status))
    rows.append(title)

    bar = Table.grid(padding=(0, 1))
    bar.add_column(width=40)
    bar.add_column()
    percent = f"{100 * state.done // state.total}%" if state.total else ""
    timing = f"elapsed {format_duration(state.elapsed())}"
    eta = state.eta()
    if eta is not None:
        timing += f"  ETA {format_duration(eta)}"
    bar.add_row(
        ProgressBar(total=max(state.total, 1), completed=state.done, width=40),
        Text(f"{_of_total(state)} done  {percent}  {timing}"),
    )
    rows.append(bar)
    counts = Text()
    for name, count in state.counts().items():
        counts.append(f"{name} ", style=_STYLES.get(name, "") if count else "dim")
        counts.append(f"{count}   ", style="bold" if count else "dim")
    rows.append(counts)
    used = 4

    if len(state.by_function) > 1:
        functions = Table.grid(padding=(0, 2))
        for function, (done, total) in state.by_function.items():
            functions.add_row(
                Text(function),
                ProgressBar(total=max(total, 1), completed=done, width=20),
                Text(f"{done}/{total}"),
            )
        rows.append(functions)
        used += len(state.by_function)

    failures = list(state.failures)
    notices = list(state.notices)
    used += (len(failures) + 1 if failures else 0) + (len(notices) + 1 if notices else 0)
    room = max(1, height - used - 3)
    if state.flights:
        now = state.clock()
        shown = state.longest_in_flight(min(room, len(state.flights)))
        table = Table.grid(padding=(0, 2))
        for key, flight in shown:
            # Text, not markup: instance keys such as `dub[lang=fr]` look like rich markup.
            table.add_row(
                Text(flight.state, style=_STYLES.get(flight.state, "cyan")),
                Text(key),
                Text(format_duration(now - flight.since)),
                Text(flight.job_id or "", style="dim"),
            )
        rows.append(Text(f"in flight ({len(state.flights)}, longest first)", style="bold"))
        rows.append(table)
        if len(state.flights) > len(shown):
            rows.append(Text(f"  ... and {len(state.flights) - len(shown)} more", style="dim"))
    if failures:
        rows.append(Text(f"failures ({state.failed_total}, latest last)", style="bold red"))
        for key, message in failures:
            line = Text("  FAILED ", style="red bold")
            line.append(key)
            line.append(f"  {message}")
            rows.append(line)
    if notices:
        rows.append(Text("notices", style="bold"))
        rows.extend(Text(f"  {notice}", style="dim", overflow="ellipsis") for notice in notices)
    return Group(*rows)


def view_lines(state: RunState, *, limit: int = 20) -> list[str]:
    """The view of a run as plain text (for `status` in a pipe): the same sections."""
    eta = state.eta()
    timing = f"elapsed {format_duration(state.elapsed())}"
    if eta is not None:
        timing += f", ETA {format_duration(eta)}"
    percent = f" ({100 * state.done // state.total}%)" if state.total else ""
    lines = [
        f"run {state.run_id or state.name}: {state.status}",
        f"{_of_total(state)} done{percent}, {timing}",
        "  ".join(f"{name} {count}" for name, count in state.counts().items()),
    ]
    if len(state.by_function) > 1:
        lines += [f"  {name}  {done}/{total}" for name, (done, total) in state.by_function.items()]
    if state.flights:
        now = state.clock()
        lines.append(f"in flight ({len(state.flights)}, longest first)")
        for key, flight in state.longest_in_flight(limit):
            age = format_duration(now - flight.since)
            lines.append(f"  {flight.state:8} {key}  {age}  {flight.job_id or ''}".rstrip())
        if len(state.flights) > limit:
            lines.append(f"  ... and {len(state.flights) - limit} more")
    if state.failures:
        lines.append(f"failures ({state.failed_total}, latest last)")
        lines += [f"  FAILED {key}  {message}" for key, message in state.failures]
    return lines


def _verdict_style(status: str) -> str:
    return {"finished": "green", "running": "blue"}.get(status, "red")


class LiveProgress:
    """The live view for terminals (rich), redrawn at most `refresh_per_second` times a second
    from a thread of rich's, whatever the rate of events (an event only updates the state).

    Use as a context manager around the run. It clears itself at the end (the summary
    follows it); `interrupted()` stops it at once and shows the cursor again, so a second
    Ctrl-C that exits the process leaves a readable screen.
    """

    def __init__(
        self,
        *,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_per_second: float = 10,
        verbosity: Verbosity = Verbosity.NORMAL,
    ):
        from rich.console import Console
        from rich.live import Live

        self.state = RunState(clock=clock)
        self.console = console or Console(stderr=True)
        self._verbosity = verbosity
        # the event loop writes the state while rich's thread draws it
        self._lock = threading.Lock()
        self.redraws = 0
        self._live = Live(
            get_renderable=self.render,
            console=self.console,
            refresh_per_second=refresh_per_second,
            transient=True,
        )

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop drawing (idempotent): the view is cleared and the cursor shown."""
        with contextlib.suppress(Exception):
            self._live.stop()

    def __call__(self, event: RunEvent) -> None:
        with self._lock:
            self.state.apply(event)
        if event.kind == "request" and self._verbosity is Verbosity.VERBOSE:
            self.note(f"{event.key}  {event.message}")

    def note(self, text: str) -> None:
        """Print `text` above the live view (it stays on the screen)."""
        from rich.text import Text

        self._live.console.print(Text(text, style="dim"))

    def interrupted(self, final: bool) -> None:
        """A Ctrl-C: the first is noted above the view; before the process exits on the
        second, the view is taken down so the terminal is left as it was."""
        if final:
            self.stop()

    def render(self) -> RenderableType:
        """What the live view shows now."""
        with self._lock:
            self.redraws += 1
            return render_view(self.state, height=self.console.size.height)


PROGRESS_KINDS = ("auto", "live", "plain", "json", "none")


def color_wanted(no_color: bool, environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """False with `--no-color` or a non-empty `NO_COLOR` (https://no-color.org)."""
    return not no_color and not environ.get("NO_COLOR")


@contextlib.contextmanager
def progress_reporter(
    kind: str,
    *,
    lines_to_stderr: bool,
    verbosity: Verbosity = Verbosity.NORMAL,
    color: bool = True,
    stream: TextIO | None = None,
) -> Iterator[Report | None]:
    """The reporter for `--progress KIND`, open for the length of a run.

    `auto` is the live view when stderr is a terminal, else plain lines; plain lines go to
    stderr when `lines_to_stderr` (stdout is then machine-readable). `--quiet` on a terminal
    shows no live view (only errors, as lines).
    """
    if kind == "auto":
        terminal = sys.stderr.isatty() and not lines_to_stderr
        kind = "live" if terminal and verbosity is not Verbosity.QUIET else "plain"
    if kind == "live":
        from rich.console import Console

        console = Console(stderr=True, no_color=not color, highlight=False)
        with LiveProgress(console=console, verbosity=verbosity) as live:
            yield live
    elif kind == "plain":
        with BatchedLines(stream or (sys.stderr if lines_to_stderr else sys.stdout)) as lines:
            yield PlainProgress(lines.write, verbosity=verbosity, flush=lines.flush)
    elif kind == "json":
        with BatchedLines(stream or sys.stdout) as lines:
            verbose = verbosity is Verbosity.VERBOSE
            yield JsonLinesProgress(lines.write, verbose=verbose, flush=lines.flush)
    else:
        yield None
