"""Progress views from events: what a person (or a program) sees while a run goes on."""

from __future__ import annotations

import asyncio
import io
import json

from rich.console import Console

from runner.execute.outcome import RunEvent
from runner.ui.events import JsonLinesProgress
from runner.ui.progress import (
    BatchedLines,
    LiveProgress,
    PlainProgress,
    Verbosity,
    progress_reporter,
    render_view,
)
from runner.ui.state import RunState

STARTED = RunEvent(
    "run-started",
    "run-1",
    detail={
        "run_id": "run-1",
        "name": "podcast",
        "total": 3,
        "max_parallel": 2,
        "jobs": {
            "dub": {"function": "sieve/dubbing", "instances": 2},
            "summary": {"function": "sieve/summary", "instances": 1},
        },
    },
)
EVENTS = [
    STARTED,
    RunEvent("pushed", "dub[lang=fr]", job_id="job-1"),
    RunEvent("pushed", "dub[lang=es]", job_id="job-2"),
    RunEvent("running", "dub[lang=fr]", job_id="job-1"),
    RunEvent("finished", "dub[lang=fr]", job_id="job-1"),
    RunEvent("failed", "dub[lang=es]", "RuntimeError: no voice", job_id="job-2"),
    RunEvent("pushed", "summary", job_id="job-3", attempt=2),
]


def _render(state: RunState, height: int = 40) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(render_view(state, height=height))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_plain_lines_count_done_out_of_total_and_name_the_job() -> None:
    lines: list[str] = []
    report = PlainProgress(lines.append, clock=lambda: 0)
    for event in EVENTS:
        report(event)
    assert lines[0].startswith("[0/3] ")
    assert "started" in lines[0]
    assert "3 job instances, max_parallel 2" in lines[0]
    assert lines[4].startswith("[1/3] ")
    assert lines[5].startswith("[2/3] ")
    assert lines[5].endswith("FAILED     dub[lang=es]  (job job-2)  - RuntimeError: no voice")
    assert lines[6].endswith("summary  (job job-3, attempt 2)")


def test_quiet_lines_show_only_errors_and_verbose_adds_requests() -> None:
    request = RunEvent("request", "GET /v2/jobs", "200 in 3 ms", detail={"status": 200})
    quiet: list[str] = []
    normal: list[str] = []
    verbose: list[str] = []
    reporters = [
        PlainProgress(quiet.append, verbosity=Verbosity.QUIET),
        PlainProgress(normal.append),
        PlainProgress(verbose.append, verbosity=Verbosity.VERBOSE),
    ]
    for event in [*EVENTS, request]:
        for report in reporters:
            report(event)
    assert len(quiet) == 1
    assert "FAILED" in quiet[0]
    assert not any("GET /v2/jobs" in line for line in normal)
    assert any("http" in line and "GET /v2/jobs" in line for line in verbose)


def test_json_lines_name_each_event_and_carry_the_run_id() -> None:
    lines: list[str] = []
    report = JsonLinesProgress(lines.append, clock=lambda: 12.5)
    for event in EVENTS:
        report(event)
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == [
        "run.started",
        "job.pushed",
        "job.pushed",
        "job.status",
        "job.finished",
        "job.finished",
        "job.pushed",
    ]
    assert {r["run_id"] for r in records} == {"run-1"}
    assert records[5] == {
        "event": "job.finished",
        "time": "1970-01-01T00:00:12.500Z",
        "run_id": "run-1",
        "job": "dub[lang=es]",
        "status": "failed",
        "job_id": "job-2",
        "message": "RuntimeError: no voice",
    }


def test_state_counts_every_state_and_each_function() -> None:
    state = RunState(clock=lambda: 0.0)
    for event in EVENTS:
        state.apply(event)
    assert state.counts() == {
        "waiting": 0,
        "queued": 1,
        "running": 0,
        "finished": 1,
        "cached": 0,
        "failed": 1,
        "cancelled": 0,
        "skipped": 0,
    }
    assert state.by_function == {"sieve/dubbing": [2, 2], "sieve/summary": [0, 1]}


def test_a_run_time_matrix_raises_the_total_when_it_expands() -> None:
    state = RunState(clock=lambda: 0.0)
    state.apply(
        RunEvent(
            "run-started",
            "r",
            detail={"total": 1, "jobs": {"a": {"function": "f/a", "instances": 1},
                                         "b": {"function": "f/b", "instances": None}}},
        )
    )  # fmt: skip
    assert not state.total_known
    state.apply(RunEvent("expanded", "b", "4 instances", detail={"instances": 4}))
    assert (state.total, state.total_known) == (5, True)


def test_eta_comes_from_the_durations_seen_and_the_slots() -> None:
    now = [0.0]
    state = RunState(clock=lambda: now[0])
    state.apply(
        RunEvent("run-started", "r", detail={"total": 5, "max_parallel": 1,
                                             "jobs": {"a": {"function": "f", "instances": 5}}})
    )  # fmt: skip
    assert state.eta() is None  # nothing ended yet: no estimate rather than a guess
    state.apply(RunEvent("pushed", "a[i=0]", job_id="j0"))
    now[0] = 10.0
    state.apply(RunEvent("finished", "a[i=0]", job_id="j0"))
    # four jobs of ~10 s left, one slot
    assert state.eta() == 40.0


def test_live_view_shows_bar_counts_functions_flights_and_failures() -> None:
    now = [100.0]
    live = LiveProgress(clock=lambda: now[0], console=Console(file=io.StringIO()))
    for event in EVENTS:
        live(event)
    now[0] += 4.25
    text = _render(live.state)
    assert "2/3 done" in text
    assert "66%" in text
    assert "failed 1" in text
    assert "waiting 0" in text
    assert "queued 1" in text
    assert "sieve/dubbing" in text
    assert "2/2" in text
    assert "summary" in text
    assert "4s" in text
    assert "dub[lang=es]" in text  # instance keys are shown as text, not eaten as markup
    assert "RuntimeError: no voice" in text


def test_jobs_in_flight_are_capped_to_the_screen_longest_first() -> None:
    now = [0.0]
    state = RunState(clock=lambda: now[0])
    state.apply(
        RunEvent("run-started", "r", detail={"total": 10_000, "max_parallel": 10_000,
                                             "jobs": {"a": {"function": "f", "instances": 10_000}}})
    )  # fmt: skip
    for index in range(10_000):
        now[0] = float(index)
        state.apply(RunEvent("pushed", f"a[i={index}]", job_id=f"j{index}"))
    text = _render(state, height=20)
    assert len(text.splitlines()) <= 20
    assert "a[i=0]" in text  # the oldest first
    assert "a[i=9999]" not in text
    assert "more" in text


class _CountingStream(io.StringIO):
    """A stream that counts its writes and flushes (each flush is a system call on a pipe)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


def test_batched_lines_write_once_per_interval_inside_an_event_loop() -> None:
    stream = _CountingStream()

    async def burst() -> tuple[str, str]:
        lines = BatchedLines(stream, interval=0.05)
        for number in range(100):
            lines.write(f"line {number}")
        before = stream.getvalue()
        await asyncio.sleep(0.2)
        return before, stream.getvalue()

    before, after = asyncio.run(burst())
    assert before == ""  # nothing written while the burst went on
    assert after == "".join(f"line {number}\n" for number in range(100))
    assert (stream.writes, stream.flushes) == (1, 1)


def test_batched_lines_write_at_once_outside_a_loop_and_the_rest_on_close() -> None:
    stream = _CountingStream()
    with BatchedLines(stream, interval=60) as lines:
        lines.write("before the run")
        assert stream.getvalue() == "before the run\n"

        async def run() -> None:
            lines.write("in the run")

        asyncio.run(run())  # the loop ends long before the 60 s timer
        assert stream.getvalue() == "before the run\n"
    assert stream.getvalue() == "before the run\nin the run\n"


def test_batched_lines_schedule_again_in_a_second_event_loop() -> None:
    stream = _CountingStream()
    lines = BatchedLines(stream, interval=0.01)

    async def write(line: str, wait: float) -> None:
        lines.write(line)
        await asyncio.sleep(wait)

    asyncio.run(write("first", 0))  # its loop ends before its timer
    assert stream.getvalue() == ""
    asyncio.run(write("second", 0.05))  # a timer of this loop writes both
    assert stream.getvalue() == "first\nsecond\n"


class _ClosedPipe(_CountingStream):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_batched_lines_stop_when_the_reader_went_away() -> None:
    stream = _ClosedPipe()
    with BatchedLines(stream, interval=60) as lines:
        lines.write("nobody reads this")  # outside a loop: written at once, and refused
        lines.write("nor this")
    assert stream.writes == 0  # refused once, then never tried again


def test_line_reporters_flush_what_they_hold_back() -> None:
    # a second Ctrl-C exits the process at once: the command flushes the reporter first
    stream = _CountingStream()

    async def report_and_flush() -> tuple[str, str]:
        with progress_reporter("json", lines_to_stderr=False, stream=stream) as report:
            assert isinstance(report, JsonLinesProgress)
            report(EVENTS[0])
            held = stream.getvalue()
            report.flush()
            return held, stream.getvalue()

    held, flushed = asyncio.run(report_and_flush())
    assert held == ""
    assert json.loads(flushed)["event"] == "run.started"
