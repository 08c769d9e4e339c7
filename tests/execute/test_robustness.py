"""HTTP faults between the runner and the service, through a real fault-injecting proxy."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import exec_functions
import pytest

from runner.client import SieveClient
from runner.execute.reconcile import find_pushed_job, same_inputs
from tests.support.faultproxy import (
    DropAfterForward,
    DropBeforeForward,
    FaultProxy,
    Respond,
    Transform,
)

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


def test_a_lost_push_answer_is_reconciled_not_pushed_again(run_text, exec_server) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(DropAfterForward(), method="POST", path="/v2/push")
        run = run_text(PIPELINE, url=proxy.url)
    assert run.summary.ok, run.summary.failed
    # (a `running` event in between, when a poll saw it run, says nothing about the push)
    assert [kind for kind in run.kinds("a") if kind != "running"][:2] == ["reconciled", "finished"]
    assert run.outcome("b").outputs[0]["value"] == 1
    # one job per manifest job, counted on the server: the lost push was found, not repeated
    assert exec_server.backend.stats.pushes == 2


def test_a_lost_push_is_found_on_a_service_that_records_the_defaulted_inputs(
    run_text, exec_server, start_local_server
) -> None:
    # Such a service lists the job with `fail` (default False) among its inputs although the
    # push left it out: compared as equal dicts it never matched, and the job ran twice.
    server = start_local_server(
        plugins=[exec_functions], defaults="json", api_key=exec_server.api_key
    )

    def with_defaults(body: dict) -> dict:
        for job in body.get("data", []):
            job["inputs"].setdefault("fail", {"name": "fail", "type": "bool", "data": False})
        return body

    with FaultProxy(server.url) as proxy:
        proxy.add_fault(DropAfterForward(), method="POST", path="/v2/push")
        proxy.add_fault(Transform(body=with_defaults), path="/v2/jobs", times=1000)
        run = run_text(PIPELINE, url=proxy.url)
    assert run.summary.ok, run.summary.failed
    assert [kind for kind in run.kinds("a") if kind != "running"][:2] == ["reconciled", "finished"]
    assert server.backend.stats.pushes == 2


def test_a_job_with_an_input_that_is_not_a_default_is_other_work() -> None:
    pushed = {"seconds": 0, "value": 1}
    assert same_inputs({**pushed, "fail": False}, pushed, {"fail": False, "value": None})
    assert not same_inputs({**pushed, "fail": True}, pushed, {"fail": False})
    assert not same_inputs({**pushed, "mode": "x"}, pushed, {})  # its default is not known
    assert not same_inputs({"seconds": 0}, pushed, {"value": 1})  # a pushed input is missing


@pytest.mark.parametrize(
    "fault", [DropBeforeForward(), Respond(503, {"detail": "unavailable", "error_id": "e-7"})]
)
def test_a_push_that_never_arrived_is_pushed_again_after_looking(
    fault, run_text, exec_server
) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(fault, method="POST", path="/v2/push")
        run = run_text(PIPELINE, url=proxy.url)
        listed = [seen for seen in proxy.log if seen.method == "GET" and seen.path == "/v2/jobs"]
    assert run.summary.ok, run.summary.failed
    kinds = [kind for kind in run.kinds("a") if kind != "running"]
    assert kinds[:3] == ["retrying", "pushed", "finished"]
    assert listed  # it looked for the job before pushing again
    assert exec_server.backend.stats.pushes == 2


def test_equal_instances_with_lost_answers_each_adopt_their_own_job(run_text, exec_server) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(DropAfterForward(), method="POST", path="/v2/push", times=3)
        run = run_text(
            """
            version = 1
            [jobs.same]
            function = "exec/nap"
            matrix = { i = [1, 2, 3] }
            inputs = { seconds = 0.2, value = "x" }
            """,
            url=proxy.url,
        )
    assert run.summary.ok, run.summary.failed
    job_ids = {outcome.job_id for outcome in run.summary.outcomes}
    assert len(job_ids) == 3
    assert exec_server.backend.stats.pushes == 3


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
            [run]
            retry_budget = "1s"     # the list fails for good: give up soon
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


def test_reconciliation_finds_the_job_in_any_order_across_pages(exec_server) -> None:
    async def scenario(url: str) -> tuple[Any, Any]:
        async with SieveClient(url, exec_server.api_key) as client:
            since = time.time()
            for value in range(5):
                await client.push("exec/nap", {"seconds": 0, "value": value})
            found = await find_pushed_job(client, "exec/nap", {"seconds": 0, "value": 2}, since)
            missing = await find_pushed_job(client, "exec/nap", {"seconds": 0, "value": 9}, since)
            return found, missing

    def reverse(body: dict) -> dict:
        return {**body, "data": list(reversed(body["data"]))} if "data" in body else body

    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Transform({"limit": "2"}, body=reverse), path="/v2/jobs", times=1000)
        found, missing = asyncio.run(scenario(proxy.url))
        pages = sum(1 for seen in proxy.log if seen.path == "/v2/jobs")
    assert found is not None
    assert found["inputs"]["value"]["data"] == 2
    assert missing is None
    assert pages >= 3  # it followed the pages instead of stopping at the first


def test_pushes_that_never_arrive_are_retried_after_looking_until_the_budget(
    run_text, exec_server
) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(DropBeforeForward(), method="POST", path="/v2/push", times=1000)
        run = run_text(
            """
            version = 1
            [run]
            retry_budget = "3s"
            retry_delay = "50ms"
            [jobs.a]
            function = "exec/nap"
            inputs = { seconds = 0, value = 1 }
            """,
            url=proxy.url,
        )
        calls = [
            (seen.method, seen.path) for seen in proxy.log if seen.path in ("/v2/push", "/v2/jobs")
        ]
    assert not run.summary.ok
    [failed] = run.summary.failed
    assert "may or may not have created a job" in failed.error
    pushes = [i for i, call in enumerate(calls) if call == ("POST", "/v2/push")]
    assert len(pushes) >= 4  # more than the old fixed count (three pushes in all)
    for before, after in itertools.pairwise(pushes):  # never pushed again before looking
        assert ("GET", "/v2/jobs") in calls[before:after]
    assert exec_server.backend.stats.pushes == 0
