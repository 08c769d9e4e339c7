"""Dependency order, data flow through references, static and run-time matrices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runner.execute.outcome import Status


def _time(job: dict[str, Any], field: str) -> datetime:
    return datetime.fromisoformat(job[field].replace("Z", "+00:00"))


def test_a_job_starts_only_after_its_needs_finished(run_text, exec_server) -> None:
    run = run_text(
        """
        version = 1
        [jobs.first]
        function = "exec/nap"
        inputs = { seconds = 0.3, value = "a" }
        [jobs.second]
        function = "exec/nap"
        needs = ["first"]
        inputs = { seconds = 0.1, value = "b" }
        [jobs.third]
        function = "local/echo"
        inputs.value = "${{ jobs.second.outputs[0] }}"
        """
    )
    assert run.summary.ok
    jobs = {o.key: exec_server.wait_for_job(o.job_id) for o in run.summary.outcomes}
    assert _time(jobs["second"], "started_at") >= _time(jobs["first"], "completed_at")
    assert _time(jobs["third"], "started_at") >= _time(jobs["second"], "completed_at")
    assert run.outcome("third").outputs[0]["value"] == "b"


def test_outputs_flow_with_their_types_and_into_strings(run_text) -> None:
    run = run_text(
        """
        version = 1
        [jobs.source]
        function = "local/echo"
        inputs = { value = { n = 3, tags = ["x", "y"] }, number = 2.5 }
        [jobs.typed]
        function = "local/echo"
        inputs.value = "${{ jobs.source.outputs[0].value.tags }}"
        inputs.number = "${{ jobs.source.outputs[0].number }}"
        [jobs.text]
        function = "local/echo"
        inputs.value = "n=${{ jobs.source.outputs[0].value.n }} id=${{ jobs.source.id }}"
        """
    )
    assert run.summary.ok, run.summary.failed
    assert run.outcome("typed").outputs[0]["value"] == ["x", "y"]
    assert run.outcome("typed").outputs[0]["number"] == 2.5
    source_id = run.outcome("source").job_id
    assert run.outcome("text").outputs[0]["value"] == f"n=3 id={source_id}"


def test_file_outputs_feed_file_inputs(run_text) -> None:
    run = run_text(
        """
        version = 1
        [jobs.video]
        function = "local/test-pattern"
        inputs = { duration = 1, width = 160, height = 120 }
        [jobs.probe]
        function = "local/probe"
        inputs.file = "${{ jobs.video.outputs[0] }}"
        """
    )
    assert run.summary.ok, run.summary.failed
    assert set(run.outcome("video").outputs[0]) == {"url"}
    probed = run.outcome("probe").outputs[0]
    assert abs(probed["duration"] - 1.0) < 0.2


def test_static_matrix_runs_every_combination_and_downstream_sees_the_list(run_text) -> None:
    run = run_text(
        """
        version = 1
        [jobs.square]
        function = "local/echo"
        matrix = { n = [1, 2, 3], tag = ["a", "b"] }
        inputs = { value = "${{ matrix.n }}", text = "${{ matrix.tag }}" }
        [jobs.collect]
        function = "local/echo"
        inputs.value = "${{ jobs.square.outputs[0].value }}"
        """
    )
    assert run.summary.ok, run.summary.failed
    square_keys = [o.key for o in run.summary.outcomes if o.job == "square"]
    assert len(square_keys) == 6
    assert run.outcome("collect").outputs[0]["value"] == [1, 1, 2, 2, 3, 3]


def test_run_time_matrix_expands_from_upstream_outputs(run_text) -> None:
    run = run_text(
        """
        version = 1
        [jobs.list]
        function = "exec/items"
        inputs = { count = 3 }
        [jobs.each]
        function = "local/echo"
        matrix = { item = "${{ jobs.list.outputs[0] }}" }
        inputs.value = "${{ matrix.item }}"
        [jobs.after]
        function = "local/echo"
        inputs.value = "${{ jobs.each.outputs[0].value }}"
        """
    )
    assert run.summary.ok, run.summary.failed
    each = [o for o in run.summary.outcomes if o.job == "each"]
    assert [o.outputs[0]["value"] for o in each] == ["item-0", "item-1", "item-2"]
    assert "expanded" in run.kinds("each")
    assert run.outcome("after").outputs[0]["value"] == ["item-0", "item-1", "item-2"]


def test_max_parallel_bounds_jobs_in_flight(run_text, exec_server) -> None:
    run = run_text(
        """
        version = 1
        [run]
        max_parallel = 2
        [jobs.nap]
        function = "exec/nap"
        matrix = { i = [1, 2, 3, 4, 5] }
        inputs = { seconds = 0.2, value = "${{ matrix.i }}" }
        """
    )
    assert run.summary.ok
    jobs = [exec_server.wait_for_job(o.job_id) for o in run.summary.outcomes]
    moments = sorted(
        [(_time(job, "created_at"), 1) for job in jobs]
        + [(_time(job, "completed_at"), -1) for job in jobs],
        key=lambda item: (item[0], item[1]),
    )
    in_flight = peak = 0
    for _, change in moments:
        in_flight += change
        peak = max(peak, in_flight)
    assert peak <= 2
    assert all(o.status is Status.FINISHED for o in run.summary.outcomes)


def test_each_job_is_pushed_once_and_fetched_once(run_text, exec_server) -> None:
    run = run_text(
        """
        version = 1
        [run]
        max_parallel = 20
        [jobs.nap]
        function = "exec/nap"
        matrix = { i = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19] }
        inputs = { seconds = 0.5, value = "${{ matrix.i }}" }
        """
    )
    assert run.summary.ok
    stats = exec_server.backend.stats
    assert stats.pushes == 20
    for outcome in run.summary.outcomes:
        counts = stats.job_requests(outcome.job_id)
        assert counts.get("PUSH") == 1
        assert counts.get("GET", 0) <= 2  # once when it left the lists; twice on a list race
    # Here the 4 workers end one job every 0.125 s and each end gets a poll aimed at it, after
    # 0.5 s of looking before the first end teaches the watcher how long a nap takes: about
    # one list request per job, never one per job per look.
    list_requests = stats.requests("GET /jobs")
    assert list_requests < 30, "one list request reports on many jobs"
