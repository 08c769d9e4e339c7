"""Retries through the fault proxy: backoff, Retry-After, error_id, and pushes never retried
blindly. Sleeps are recorded, not waited."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING

import pytest

from runner.client import RetryPolicy, SieveClient, equal_jitter
from runner.errors import ApiError, BackendError, PushOutcomeUnknown
from tests.client.conftest import Connect, RecordedSleep, no_jitter
from tests.support.faultproxy import (
    Delay,
    DropAfterForward,
    DropBeforeForward,
    FaultProxy,
    Respond,
)
from tests.support.ports import free_port

if TYPE_CHECKING:
    from runner.local.stats import ServerStats
    from tests.conftest import LocalServer

pytestmark = pytest.mark.anyio


def _stats(server: LocalServer) -> ServerStats:
    """The server's own request counters: what really reached it."""
    assert server.backend is not None
    return server.backend.stats


async def _finished_job(client: SieveClient) -> str:
    pushed = await client.push("local/echo", {"value": 1})
    await client.wait_for_job(pushed["id"], interval=0.02)
    return str(pushed["id"])


async def test_429_is_retried_after_its_retry_after(
    proxy: FaultProxy, proxied_client: SieveClient, recorded_sleep: RecordedSleep
) -> None:
    job_id = await _finished_job(proxied_client)
    recorded_sleep.delays.clear()
    proxy.add_fault(Respond(429, {"detail": "Too many requests"}, {"Retry-After": "7"}), times=2)
    job = await proxied_client.get_job(job_id)
    assert job["status"] == "finished"
    assert recorded_sleep.delays == [7.0, 7.0]
    assert [seen.fault for seen in proxy.log[-3:]][-1] is None  # the third try was forwarded


async def test_retry_after_as_an_http_date_is_honoured(
    proxy: FaultProxy, proxied_client: SieveClient, recorded_sleep: RecordedSleep
) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    proxy.add_fault(Respond(429, {"detail": "slow down"}, {"Retry-After": when}))
    await proxied_client.get_function("local", "echo")
    assert len(recorded_sleep.delays) == 1
    assert 25 <= recorded_sleep.delays[0] <= 30


async def test_5xx_is_retried_with_exponential_backoff(
    proxy: FaultProxy,
    proxied_client: SieveClient,
    recorded_sleep: RecordedSleep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sievefile.client")
    proxy.add_fault(Respond(502, {"detail": "bad gateway"}), times=3)
    function = await proxied_client.get_function("local", "echo")
    assert function["name"] == "echo"
    assert recorded_sleep.delays == [0.25, 0.5, 1.0]  # prompt at first, then doubling
    assert proxied_client.requests["get_function"] == 4
    assert [record.getMessage().split(": ", 1)[1] for record in caplog.records] == [
        "answer 502; retrying in 0.25 s (attempt 2)",
        "answer 502; retrying in 0.50 s (attempt 3)",
        "answer 502; retrying in 1.00 s (attempt 4)",
    ]


async def test_persistent_5xx_is_retried_until_the_time_budget_then_quotes_the_error_id(
    proxy: FaultProxy, proxied_client: SieveClient, recorded_sleep: RecordedSleep
) -> None:
    body = {"detail": "Internal error", "error_id": "err-4242"}
    proxy.add_fault(Respond(500, body), times=1000)
    with pytest.raises(ApiError) as caught:
        await proxied_client.list_jobs()
    error = caught.value
    assert (error.status_code, error.error_id) == (500, "err-4242")
    assert "error_id err-4242" in str(error)
    assert "gave up after 13 attempts in 105.8 s" in str(error)
    # doubling from 0.25 s to the 15 s cap; no retry would end past the 120 s budget
    assert recorded_sleep.delays == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0] + [15.0] * 6
    assert sum(recorded_sleep.delays) <= RetryPolicy().budget
    assert proxied_client.requests["list_jobs"] == 13


async def test_a_small_count_of_faults_never_fails_a_request(
    proxy: FaultProxy, proxied_client: SieveClient, recorded_sleep: RecordedSleep
) -> None:
    # ten faults in a row: the old policy (five tries) failed here; a budget does not
    proxy.add_fault(Respond(503, {"detail": "busy"}), times=4)
    proxy.add_fault(DropAfterForward(), method="GET", times=3)
    proxy.add_fault(Respond(429, {"detail": "slow"}, {"Retry-After": "1"}), times=3)
    assert (await proxied_client.get_function("local", "echo"))["name"] == "echo"
    assert len(recorded_sleep.delays) == 10


async def test_a_retry_after_beyond_the_budget_fails_at_once(
    proxy: FaultProxy, proxied_client: SieveClient, recorded_sleep: RecordedSleep
) -> None:
    proxy.add_fault(Respond(429, {"detail": "come back tomorrow"}, {"Retry-After": "86400"}))
    with pytest.raises(ApiError, match=r"429: come back tomorrow .*gave up after 1 attempt"):
        await proxied_client.list_jobs()
    assert recorded_sleep.delays == []  # it did not hammer the service either


async def test_other_4xx_answers_are_not_retried(
    proxy: FaultProxy, proxied_client: SieveClient, recorded_sleep: RecordedSleep
) -> None:
    proxy.add_fault(Respond(402, {"detail": "Out of credits."}))
    with pytest.raises(ApiError, match="402: Out of credits"):
        await proxied_client.list_jobs()
    assert recorded_sleep.delays == []


async def test_a_read_timeout_is_retried_for_reads(
    connect: Connect, proxy: FaultProxy, recorded_sleep: RecordedSleep
) -> None:
    proxy.add_fault(Delay(2.0), method="GET")
    async with connect(proxy.url, sleep=recorded_sleep, jitter=no_jitter, timeout=0.5) as client:
        function = await client.get_function("local", "echo")
    assert function["name"] == "echo"
    assert recorded_sleep.delays == [0.25]


async def test_a_dropped_connection_is_retried_for_reads(
    proxy: FaultProxy, proxied_client: SieveClient, recorded_sleep: RecordedSleep
) -> None:
    proxy.add_fault(DropAfterForward(), method="GET")
    assert (await proxied_client.get_function("local", "echo"))["name"] == "echo"
    assert recorded_sleep.delays == [0.25]


async def test_connect_errors_are_retried_even_for_a_push(
    local_server: LocalServer, connect: Connect
) -> None:
    # Nothing listens on the port until the client's second back-off: then the proxy starts.
    port = free_port()
    proxy = FaultProxy(local_server.url, port=port)
    delays: list[float] = []

    async def sleep_then_start(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 2:
            proxy.start()

    try:
        async with connect(
            f"http://127.0.0.1:{port}", sleep=sleep_then_start, jitter=no_jitter
        ) as client:
            pushed = await client.push("local/echo", {"value": "once"})
        assert delays == [0.25, 0.5]
        assert client.requests["push"] == 3
    finally:
        proxy.stop()
    assert _stats(local_server).pushes == 1
    assert _stats(local_server).job_requests(pushed["id"])["PUSH"] == 1


async def test_unreachable_service_fails_after_every_attempt(recorded_sleep: RecordedSleep) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with SieveClient(
        url, sleep=recorded_sleep, jitter=no_jitter, retry=RetryPolicy(max_attempts=3)
    ) as client:
        with pytest.raises(
            BackendError, match=r"cannot reach http://127\.0\.0\.1:\d+: .*3 attempts"
        ):
            await client.get_job("anything")
    assert recorded_sleep.delays == [0.25, 0.5]


async def test_a_service_that_never_answered_fails_within_the_first_contact_budget(
    recorded_sleep: RecordedSleep,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with SieveClient(
        url, sleep=recorded_sleep, clock=recorded_sleep.clock, jitter=no_jitter
    ) as client:
        with pytest.raises(BackendError, match="cannot reach"):
            await client.get_job("anything")
    assert sum(recorded_sleep.delays) <= RetryPolicy().first_contact_budget
    assert recorded_sleep.delays == [0.25, 0.5, 1.0, 2.0, 4.0]


async def test_a_service_that_answered_before_gets_the_whole_budget_to_come_back(
    local_server: LocalServer, recorded_sleep: RecordedSleep
) -> None:
    port = free_port()
    first = FaultProxy(local_server.url, port=port).start()
    second = FaultProxy(local_server.url, port=port)

    async def sleep_then_restart(seconds: float) -> None:
        await recorded_sleep(seconds)
        if recorded_sleep.now > 30:  # well past the first-contact budget
            second.start()

    try:
        async with SieveClient(
            f"http://127.0.0.1:{port}",
            local_server.api_key,
            sleep=sleep_then_restart,
            clock=recorded_sleep.clock,
            jitter=no_jitter,
        ) as client:
            await client.get_function("local", "echo")
            first.stop()
            function = await client.get_function("local", "echo")
    finally:
        second.stop()
    assert function["name"] == "echo"
    assert recorded_sleep.now > RetryPolicy().first_contact_budget


async def test_a_push_whose_answer_is_lost_is_not_retried(
    local_server: LocalServer,
    proxy: FaultProxy,
    proxied_client: SieveClient,
    recorded_sleep: RecordedSleep,
) -> None:
    proxy.add_fault(DropAfterForward(), method="POST", path="/v2/push")
    with pytest.raises(PushOutcomeUnknown) as caught:
        await proxied_client.push("local/echo", {"value": "maybe"})
    assert "push of local/echo may or may not have created a job" in str(caught.value)
    assert "not retried" in str(caught.value)
    assert isinstance(caught.value, BackendError)
    assert proxied_client.requests["push"] == 1
    assert recorded_sleep.delays == []
    # The upstream did create the job: exactly one.
    assert _stats(local_server).pushes == 1


async def test_a_push_that_times_out_is_not_retried(
    connect: Connect, proxy: FaultProxy, recorded_sleep: RecordedSleep
) -> None:
    proxy.add_fault(Delay(1.0), method="POST")
    async with connect(proxy.url, sleep=recorded_sleep, timeout=0.3) as client:
        with pytest.raises(PushOutcomeUnknown, match="ReadTimeout"):
            await client.push("local/echo", {"value": "slow"})
        assert client.requests["push"] == 1
    assert recorded_sleep.delays == []


async def test_a_push_answered_5xx_is_not_retried_and_quotes_the_error_id(
    proxy: FaultProxy, proxied_client: SieveClient, recorded_sleep: RecordedSleep
) -> None:
    proxy.add_fault(Respond(503, {"detail": "unavailable", "error_id": "e-77"}), method="POST")
    with pytest.raises(PushOutcomeUnknown, match="error_id e-77"):
        await proxied_client.push("local/echo", {"value": 1})
    assert proxied_client.requests["push"] == 1
    assert recorded_sleep.delays == []


async def test_a_push_refused_with_429_is_retried(
    local_server: LocalServer,
    proxy: FaultProxy,
    proxied_client: SieveClient,
    recorded_sleep: RecordedSleep,
) -> None:
    proxy.add_fault(Respond(429, {"detail": "slow"}, {"Retry-After": "1"}), method="POST")
    pushed = await proxied_client.push("local/echo", {"value": 1})
    assert recorded_sleep.delays == [1.0]
    assert _stats(local_server).pushes == 1
    assert _stats(local_server).job_requests(pushed["id"])["PUSH"] == 1


async def test_a_push_never_sent_because_the_connection_dropped_first_is_still_unknown(
    local_server: LocalServer, proxy: FaultProxy, proxied_client: SieveClient
) -> None:
    # The proxy closes the connection without forwarding, but the client cannot know that.
    proxy.add_fault(DropBeforeForward(), method="POST")
    with pytest.raises(PushOutcomeUnknown):
        await proxied_client.push("local/echo", {"value": 1})
    assert _stats(local_server).pushes == 0


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_equal_jitter_stays_between_half_and_all_of_the_delay() -> None:
    delays = [equal_jitter(8.0) for _ in range(200)]
    assert all(4.0 <= delay <= 8.0 for delay in delays)
    assert len(set(delays)) > 1
