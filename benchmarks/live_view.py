"""What the live view costs with 10,000 jobs: per event, per redraw, and how often it redraws.

    python benchmarks/live_view.py [--jobs 10000] [--seconds 3]

Feeds a `LiveProgress` (drawing to an in-memory 120 x 40 terminal) the events of a run of
JOBS instances of two functions: every push, every `running`, every end (one in 20 failing);
then keeps it busy with events for SECONDS while rich's thread redraws, and counts the redraws.
Prints the time per event, the time of one redraw with every job in flight and with every job
ended, and the redraws per second.
"""

from __future__ import annotations

import argparse
import io
import time

from rich.console import Console

from runner.execute.outcome import RunEvent
from runner.ui.progress import LiveProgress, render_view


def _started(jobs: int) -> RunEvent:
    half = jobs // 2
    detail = {
        "run_id": "bench",
        "name": "bench",
        "total": jobs,
        "max_parallel": jobs,
        "jobs": {
            "dub": {"function": "sieve/dubbing", "instances": half},
            "transcribe": {"function": "sieve/speech_transcriber", "instances": jobs - half},
        },
    }
    return RunEvent("run-started", "bench", detail=detail)


def _key(index: int, jobs: int) -> str:
    return f"dub[i={index}]" if index < jobs // 2 else f"transcribe[i={index}]"


def _redraw_seconds(live: LiveProgress, console: Console, times: int = 20) -> float:
    started = time.perf_counter()
    for _ in range(times):
        console.print(render_view(live.state, height=40))
    return (time.perf_counter() - started) / times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    jobs = args.jobs
    screen = Console(file=io.StringIO(), width=120, height=40, force_terminal=True)
    live = LiveProgress(console=screen)
    live(_started(jobs))

    started = time.perf_counter()
    for index in range(jobs):
        live(RunEvent("pushed", _key(index, jobs), job_id=f"job-{index}"))
        live(RunEvent("running", _key(index, jobs), job_id=f"job-{index}"))
    feed = time.perf_counter() - started
    in_flight = _redraw_seconds(live, Console(file=io.StringIO(), width=120, height=40))

    started = time.perf_counter()
    for index in range(jobs):
        failed = index % 20 == 0
        kind = "failed" if failed else "finished"
        live(RunEvent(kind, _key(index, jobs), "RuntimeError: no voice" if failed else ""))
    feed += time.perf_counter() - started
    ended = _redraw_seconds(live, Console(file=io.StringIO(), width=120, height=40))
    per_event = feed / (3 * jobs)

    # rich redraws from its own thread while events keep coming
    with live:
        before = live.redraws
        began = time.perf_counter()
        index = 0
        while time.perf_counter() - began < args.seconds:
            live(RunEvent("retrying", _key(index % jobs, jobs), "retry 1 of 2 in 2.0s"))
            index += 1
        elapsed = time.perf_counter() - began
        redraws = live.redraws - before

    print(f"{jobs:,} jobs, {3 * jobs:,} events")
    print(f"per event                      {per_event * 1e6:8.1f} µs")
    print(f"one redraw, {jobs:,} in flight  {in_flight * 1000:8.2f} ms")
    print(f"one redraw, {jobs:,} ended      {ended * 1000:8.2f} ms")
    print(
        f"redraws while busy             {redraws / elapsed:8.1f} per second "
        f"({index:,} events in {elapsed:.1f} s)"
    )


if __name__ == "__main__":
    main()
