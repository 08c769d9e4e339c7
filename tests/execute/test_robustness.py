"""HTTP faults between the runner and the service, through a real fault-injecting proxy."""

from __future__ import annotations

from runner.execute.outcome import Status
from tests.support.faultproxy import DropAfterForward, FaultProxy, Respond, Transform

PIPELINE = """
version = 1
[jobs.a]
function = "exec/nap"
inputs = { seconds = 0.3, value = 1 }
[jobs.b]
function = "local/echo"
inputs.value = "${{ jobs.a.outputs[0] }}"
"""


def test_429_and_5xx_are_retried_and_the_run_completes(run_text, exec_server) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Respond(429, {"detail": "slow down"}, {"Retry-After": "0"}), method="POST")
        proxy.add_fault(
            Respond(503, {"detail": "unavailable", "error_id": "e-42"}), path="/v2/jobs", times=2
        )
        run = run_text(PIPELINE, url=proxy.url)
        faults = [seen.fault for seen in proxy.log if seen.fault is not None]
    assert run.summary.ok, run.summary.failed
    assert run.outcome("b").outputs[0]["value"] == 1
    assert len(faults) == 3
    assert exec_server.backend.stats.pushes == 2


def test_a_lost_push_answer_fails_the_job_without_pushing_again(run_text, exec_server) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(DropAfterForward(), method="POST", path="/v2/push")
        run = run_text(PIPELINE, url=proxy.url)
    outcome = run.outcome("a")
    assert outcome.status is Status.FAILED
    assert "may or may not have created a job" in outcome.error
    assert "not retried" in outcome.error
    assert run.outcome("b").status is Status.SKIPPED
    assert exec_server.backend.stats.pushes == 1  # the job exists once: no blind re-push


def test_a_service_with_small_pages_and_another_order_is_followed(run_text, exec_server) -> None:
    def reverse(body: dict) -> dict:
        if "data" not in body:  # GET /v2/jobs/{id} shares the path prefix
            return {**body, "extra_field": True}
        return {**body, "data": list(reversed(body["data"])), "extra_field": True}

    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Transform({"limit": "1"}, body=reverse), path="/v2/jobs", times=1000)
        run = run_text(
            """
            version = 1
            [jobs.nap]
            function = "exec/nap"
            matrix = { i = [1, 2, 3, 4] }
            inputs = { seconds = 0.6, value = "${{ matrix.i }}" }
            """,
            url=proxy.url,
        )
    assert run.summary.ok, run.summary.failed
    assert [o.outputs for o in run.summary.outcomes] == [[1], [2], [3], [4]]


def test_a_list_endpoint_that_keeps_failing_fails_the_jobs_clearly(run_text, exec_server) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(
            Respond(500, {"detail": "broken", "error_id": "e-7"}),
            method="GET",
            path="/v2/jobs",
            times=1000,
        )
        run = run_text(
            """
            version = 1
            [jobs.nap]
            function = "exec/nap"
            matrix = { i = [1, 2] }
            inputs = { seconds = 30, value = "${{ matrix.i }}" }
            """,
            url=proxy.url,
        )
    statuses = sorted(o.status.value for o in run.summary.outcomes)
    assert not run.summary.ok
    assert any("e-7" in outcome.error for outcome in run.summary.failed)
    assert statuses in (["cancelled", "failed"], ["failed", "failed"])
    for outcome in run.summary.outcomes:  # nothing is left running on the service
        assert exec_server.wait_for_job(outcome.job_id)["status"] == "cancelled"
