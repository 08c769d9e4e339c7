"""Progress views: what a person (or a program) sees while a run goes on."""

from __future__ import annotations

import io
import json

from rich.console import Console

from runner.execute.outcome import RunEvent
from runner.ui.progress import JsonLinesProgress, LiveProgress, PlainProgress

EVENTS = [
    RunEvent("pushed", "dub[lang=fr]", job_id="job-1"),
    RunEvent("pushed", "dub[lang=es]", job_id="job-2"),
    RunEvent("finished", "dub[lang=fr]", job_id="job-1"),
    RunEvent("failed", "dub[lang=es]", "RuntimeError: no voice", job_id="job-2"),
    RunEvent("pushed", "summary", job_id="job-3", attempt=2),
]


def test_plain_lines_name_the_event_key_job_and_message() -> None:
    lines: list[str] = []
    report = PlainProgress(lines.append, clock=lambda: 0)
    for event in EVENTS:
        report(event)
    assert lines[3].endswith("FAILED     dub[lang=es]  (job job-2)  - RuntimeError: no voice")
    assert lines[4].endswith("summary  (job job-3, attempt 2)")


def test_json_lines_are_one_object_per_event() -> None:
    stream = io.StringIO()
    report = JsonLinesProgress(stream, clock=lambda: 12.5)
    for event in EVENTS:
        report(event)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["pushed", "pushed", "finished", "failed", "pushed"]
    assert records[3] == {
        "time": 12.5,
        "event": "failed",
        "key": "dub[lang=es]",
        "job_id": "job-2",
        "message": "RuntimeError: no voice",
    }


def test_live_view_shows_totals_jobs_in_flight_and_failures() -> None:
    now = [100.0]
    live = LiveProgress(clock=lambda: now[0])
    for event in EVENTS:
        live(event)
    now[0] += 4.25
    console = Console(file=io.StringIO(), width=100)
    console.print(live.render())
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert text.splitlines()[0] == "2 done  1 in flight  1 failed  1 finished"
    assert "summary" in text
    assert "4.2s" in text
    assert "dub[lang=es]" in text  # instance keys are shown as text, not eaten as markup
    assert "RuntimeError: no voice" in text
