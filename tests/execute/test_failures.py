"""Failure policies: fail-fast, keep-going, continue_on_error, retries, timeouts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from runner.backend import Backend
from runner.execute.outcome import RunEvent, Status
from runner.execute.run import RunRequest, execute
from runner.execute.scheduler import Scheduler
from tests.support.faultproxy import Delay, FaultProxy

FAILING_BRANCH = """
version = 1
[run]
max_parallel = 8
{run_extra}
[jobs.slow]
function = "exec/nap"
inputs = {{ seconds = 3, value = "slow" }}
[jobs.broken]
function = "exec/fail"
inputs = {{ message = "boom" }}
{broken_extra}
[jobs.after_broken]
function = "local/echo"
inputs.value = "${{{{ jobs.broken.outputs[0] }}}}"
[jobs.after_slow]
function = "local/echo"
inputs.value = "${{{{ jobs.slow.outputs[0] }}}}"
"""


def _manifest(run_extra: str = "", broken_extra: str = "") -> str:
    return FAILING_BRANCH.format(run_extra=run_extra, broken_extra=broken_extra)


def _breaking_after_push(
    breaks: Callable[[str, dict[str, str]], bool],
) -> tuple[dict[str, str], Callable[[RunEvent], None]]:
    """The job ids pushed so far (by instance), and an `on_event` that records them and raises
    RuntimeError("the caller broke") after the push for which `breaks(key, pushed)` is true."""
    pushed: dict[str, str] = {}

    def on_event(event: RunEvent) -> None:
        if event.kind == "pushed":
            pushed[event.key] = event.job_id or ""
            if breaks(event.key, pushed):
                raise RuntimeError("the caller broke")

    return pushed, on_event


def _status_now(exec_server: Any, job_id: str | None) -> str:
    """The job's status on the service, asked at once (no waiting for a DELETE still out)."""
    with exec_server.client() as client:
        return str(client.get(f"/jobs/{job_id}").json()["status"])


def test_fail_fast_cancels_jobs_in_flight_and_skips_the_rest(run_text, exec_server) -> None:
    run = run_text(_manifest())
    assert not run.summary.ok
    broken = run.outcome("broken")
    assert broken.status is Status.FAILED
    assert "boom" in broken.error
    slow = run.outcome("slow")
    assert slow.status is Status.CANCELLED
    assert exec_server.wait_for_job(slow.job_id)["status"] == "cancelled"
    assert run.outcome("after_broken").status is Status.SKIPPED
    assert run.outcome("after_slow").status is Status.SKIPPED
    assert run.outcome("after_slow").job_id is None


def test_a_run_ends_after_the_instances_it_cancels_are_cancelled_on_the_service(
    run_text, exec_server
) -> None:
    # One instance's failure stops its sibling; the run used to return as soon as the sibling
    # was told to stop, with its DELETE (slow here) still out: the job ran on, paid for.
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Delay(0.3), method="DELETE", times=10)
        run = run_text(
            """
            version = 1
            [jobs.pair]
            function = "exec/nap"
            matrix.include = [{ seconds = 0.2, fail = true }, { seconds = 30, fail = false }]
            inputs = { seconds = "${{ matrix.seconds }}", fail = "${{ matrix.fail }}" }
            """,
            url=proxy.url,
        )
    assert not run.summary.ok
    statuses = {o.key: o.status for o in run.summary.outcomes}
    assert statuses == {"pair[include=1]": Status.FAILED, "pair[include=2]": Status.CANCELLED}
    assert _status_now(exec_server, run.outcome("pair[include=2]").job_id) == "cancelled"


@pytest.mark.parametrize(
    "breaking",
    [
        "after_quick",
        # The error is raised in slow's own step, after its push: its task ended with the
        # error, so the wind-down's cancels never reached it and the job ran on, paid for.
        "slow",
    ],
    ids=["another-job-breaks", "its-own-push-breaks"],
)
def test_a_run_that_breaks_cancels_its_jobs_in_flight_before_it_raises(
    run_text, exec_server, breaking: str
) -> None:
    # An error no job handles (here the caller's own report callback) ends the run; the jobs
    # still running are cancelled on the service first, not left behind a closed client.
    pushed, on_event = _breaking_after_push(lambda key, pushed: key == breaking)

    with pytest.raises(RuntimeError, match="the caller broke"):
        run_text(
            """
            version = 1
            [jobs.slow]
            function = "exec/nap"
            inputs = { seconds = 30, value = "slow" }
            [jobs.quick]
            function = "exec/nap"
            inputs = { seconds = 0.2, value = "quick" }
            [jobs.after_quick]
            function = "local/echo"
            inputs.value = "${{ jobs.quick.outputs[0] }}"
            """,
            on_event=on_event,
        )
    assert _status_now(exec_server, pushed["slow"]) == "cancelled"


def test_a_matrix_instance_that_breaks_cancels_its_siblings_before_the_run_raises(
    run_text, exec_server
) -> None:
    pushed, on_event = _breaking_after_push(lambda key, pushed: len(pushed) == 2)

    with pytest.raises(RuntimeError, match="the caller broke"):
        run_text(
            """
            version = 1
            [jobs.pair]
            function = "exec/nap"
            matrix = { i = [1, 2] }
            inputs = { seconds = 30, value = "${{ matrix.i }}" }
            """,
            on_event=on_event,
        )
    first = next(iter(pushed.values()))  # the instance that was waiting when its sibling broke
    assert _status_now(exec_server, first) == "cancelled"


@pytest.mark.timeout(30)
def test_a_report_that_breaks_while_jobs_are_skipped_fails_the_run(run_text) -> None:
    # Skips happen in a task's done-callback, whose errors the event loop only logs: the run
    # used to wait there for ever.
    def on_event(event: RunEvent) -> None:
        if event.kind == "skipped":
            raise RuntimeError("the caller broke")

    with pytest.raises(RuntimeError, match="the caller broke"):
        run_text(_manifest(), on_event=on_event)


def test_jobs_stopped_before_their_first_step_are_reported_skipped(exec_server, tmp_path) -> None:
    # Ctrl-C in the loop turn that started them: their tasks were cancelled before they ran a
    # line, and they used to end with no outcome, no event and no ledger row.
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        'version = 1\n[jobs.a]\nfunction = "local/echo"\ninputs.value = 1\n'
        '[jobs.b]\nfunction = "local/echo"\ninputs.value = 2\n'
    )
    backend = Backend(kind="remote", url=exec_server.url, api_key=exec_server.api_key)
    events: list[RunEvent] = []

    def on_scheduler(scheduler: Scheduler) -> None:
        asyncio.get_running_loop().call_soon(scheduler.interrupt)

    summary = asyncio.run(
        execute(
            RunRequest(manifest, backend=backend), report=events.append, on_scheduler=on_scheduler
        )
    )
    assert summary.interrupted
    assert {o.key: o.status for o in summary.outcomes} == {
        "a": Status.SKIPPED,
        "b": Status.SKIPPED,
    }
    assert sorted(e.key for e in events if e.kind == "skipped") == ["a", "b"]


def test_keep_going_runs_every_branch_that_can_still_run(run_text) -> None:
    run = run_text(_manifest(), keep_going=True)
    assert not run.summary.ok
    assert run.outcome("slow").status is Status.FINISHED
    assert run.outcome("after_slow").status is Status.FINISHED
    assert run.outcome("after_broken").status is Status.SKIPPED
    assert "needs broken" in run.outcome("after_broken").error
    assert [o.key for o in run.summary.failed] == ["broken"]


def test_continue_on_error_tolerates_the_failure(run_text) -> None:
    run = run_text(_manifest(broken_extra="continue_on_error = true"))
    assert run.summary.ok
    assert run.outcome("broken").allowed
    assert run.outcome("after_slow").status is Status.FINISHED
    assert run.outcome("after_broken").status is Status.SKIPPED


def test_without_fail_fast_jobs_in_flight_finish_and_nothing_new_starts(run_text) -> None:
    run = run_text(_manifest(run_extra="fail_fast = false"))
    assert not run.summary.ok
    assert run.outcome("slow").status is Status.FINISHED
    assert run.outcome("after_slow").status is Status.SKIPPED


def test_retries_resubmit_after_error(run_text, exec_server) -> None:
    token = uuid.uuid4().hex
    run = run_text(
        f"""
        version = 1
        [jobs.flaky]
        function = "exec/flaky"
        retries = 2
        inputs = {{ token = "{token}", failures = 2, value = 7 }}
        """
    )
    outcome = run.outcome("flaky")
    assert outcome.status is Status.FINISHED
    assert outcome.outputs == [7]
    assert outcome.attempts == 3
    assert run.kinds("flaky").count("retrying") == 2
    assert exec_server.backend.stats.pushes == 3


def test_retries_run_out(run_text) -> None:
    token = uuid.uuid4().hex
    run = run_text(
        f"""
        version = 1
        [jobs.flaky]
        function = "exec/flaky"
        retries = 1
        inputs = {{ token = "{token}", failures = 5 }}
        """
    )
    outcome = run.outcome("flaky")
    assert outcome.status is Status.FAILED
    assert outcome.attempts == 2
    assert "flaky failure 2 of 5" in outcome.error


def test_timeout_cancels_the_job_on_the_service(run_text, exec_server) -> None:
    run = run_text(
        """
        version = 1
        [jobs.long]
        function = "exec/nap"
        timeout = "1s"
        inputs = { seconds = 30 }
        """
    )
    outcome = run.outcome("long")
    assert outcome.status is Status.FAILED
    assert "timed out after 1s" in outcome.error
    assert exec_server.wait_for_job(outcome.job_id)["status"] == "cancelled"


def test_a_push_the_service_rejects_fails_that_job_with_its_reason(run_text) -> None:
    run = run_text(
        """
        version = 1
        [jobs.bad]
        function = "local/echo"
        inputs = { value = 1, nonsense = true }
        """,
        check_inputs=False,  # the service's own 422 is what is tested
    )
    outcome = run.outcome("bad")
    assert outcome.status is Status.FAILED
    assert "422" in outcome.error
    assert "nonsense" in outcome.error
    assert outcome.job_id is None
