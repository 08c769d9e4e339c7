"""A hostile or broken service: every unusable answer is a clear error naming the request,
never a traceback, a hang, or the API key sent somewhere else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from runner.client import MAX_JOB_OUTPUTS, RetryPolicy, SieveClient
from runner.errors import BackendError, PushOutcomeUnknown, ResponseError
from tests.client.conftest import RecordedSleep, no_jitter
from tests.support.hostile import HostileServer, stalling, trickling

pytestmark = pytest.mark.anyio

KEY = "sk-hostile-marker-7f3a"


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def _client(url: str, recorded_sleep: RecordedSleep, **options: Any) -> SieveClient:
    return SieveClient(
        url, KEY, sleep=recorded_sleep, clock=recorded_sleep.clock, jitter=no_jitter, **options
    )


async def test_a_redirect_to_another_origin_is_refused_and_the_key_stays_home(
    hostile: HostileServer, recorded_sleep: RecordedSleep
) -> None:
    with HostileServer() as elsewhere:
        elsewhere.answer_json("GET", "/v2/jobs", {"data": [], "next_offset": -1})
        target = f"{elsewhere.url}/v2/jobs"
        for method, path in (("GET", "/v2/jobs"), ("POST", "/v2/push")):
            hostile.answer(method, path, lambda r: RedirectResponse(target, status_code=307))
        async with _client(hostile.url, recorded_sleep) as client:
            with pytest.raises(ResponseError) as listed:
                await client.list_jobs()
            with pytest.raises(ResponseError) as pushed:
                await client.push("local/echo", {"value": 1})
        assert elsewhere.seen == []  # nothing, let alone the key, reached the other origin
    for error in (listed.value, pushed.value):
        assert f"a redirect to {target}" in str(error)
        assert "does not follow redirects" in str(error)
        assert KEY not in str(error)
    assert all(headers.get("x-api-key") == KEY for _, _, headers in hostile.seen)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": "nope"}, "answered without a data list"),
        ({"detail": "x"}, "answered without a data list"),
        ({"data": [1, "two"]}, "holding something not a job object"),
        ({"data": [], "next_offset": "10"}, "answered next_offset '10'"),
        ({"data": [], "next_offset": -5}, "answered next_offset -5"),
        (["not", "an", "object"], "JSON that is not an object"),
    ],
)
async def test_a_job_list_of_the_wrong_shape_is_a_clear_error(
    hostile: HostileServer, recorded_sleep: RecordedSleep, body: Any, message: str
) -> None:
    hostile.answer_json("GET", "/v2/jobs", body)
    async with _client(hostile.url, recorded_sleep) as client:
        with pytest.raises(BackendError, match=message):
            await client.list_jobs()


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"id": "j"}, "a job without a status"),
        ({"id": "j", "status": 3}, "a job without a status"),
        ({"id": "j", "status": "finished", "outputs": "abc"}, "not a list of objects"),
        ({"id": "j", "status": "finished", "outputs": [1, 2]}, "not a list of objects"),
        (
            {"id": "j", "status": "finished", "outputs": [{"data": 1}] * (MAX_JOB_OUTPUTS + 1)},
            f"{MAX_JOB_OUTPUTS + 1:,} outputs, more than sievefile accepts",
        ),
    ],
)
async def test_a_job_of_the_wrong_shape_is_a_clear_error(
    hostile: HostileServer, recorded_sleep: RecordedSleep, job: Any, message: str
) -> None:
    hostile.answer_json("GET", "/v2/jobs/j", job)
    async with _client(hostile.url, recorded_sleep) as client:
        with pytest.raises(ResponseError, match=message):
            await client.get_job("j")


async def test_an_answer_too_large_is_not_read(
    hostile: HostileServer, recorded_sleep: RecordedSleep
) -> None:
    huge = {"id": "j", "status": "finished", "outputs": [{"data": "x" * 5000}]}
    hostile.answer_json("GET", "/v2/jobs/j", huge)
    hostile.answer("GET", "/v2/jobs", trickling(every=0, chunks=5000))  # no Content-Length
    hostile.answer_json("POST", "/v2/push", {"id": "made", "padding": "x" * 5000})
    async with _client(hostile.url, recorded_sleep, max_response_bytes=4096) as client:
        with pytest.raises(ResponseError, match="more than 4,096 bytes; sievefile did not read it"):
            await client.get_job("j")
        with pytest.raises(ResponseError, match="more than 4,096 bytes"):
            await client.list_jobs()
        # a push whose answer cannot be read may still have made the job: look, don't push
        with pytest.raises(PushOutcomeUnknown, match="more than 4,096 bytes"):
            await client.push("local/echo", {"value": 1})


async def test_a_push_answered_without_a_job_id_is_an_unknown_outcome(
    hostile: HostileServer, recorded_sleep: RecordedSleep
) -> None:
    hostile.answer_json("POST", "/v2/push", {"status": "queued"})
    async with _client(hostile.url, recorded_sleep) as client:
        with pytest.raises(PushOutcomeUnknown, match="answered without a job id"):
            await client.push("local/echo", {"value": 1})
        assert client.requests["push"] == 1  # never pushed again blindly


async def test_a_body_that_stalls_midway_times_out_and_fails_within_the_budget(
    hostile: HostileServer, recorded_sleep: RecordedSleep
) -> None:
    hostile.answer("GET", "/v2/jobs/j", stalling(b'{"id": "j", "sta', then_wait=2))
    policy = RetryPolicy(max_attempts=2)
    async with _client(hostile.url, recorded_sleep, timeout=0.3, retry=policy) as client:
        with pytest.raises(BackendError, match=r"GET .*/v2/jobs/j failed: ReadTimeout.*2 attempts"):
            await client.get_job("j")
        hostile.answer("POST", "/v2/push", stalling(b'{"id": ', then_wait=2))
        with pytest.raises(PushOutcomeUnknown, match="ReadTimeout"):
            await client.push("local/echo", {"value": 1})


async def test_a_body_that_trickles_forever_hits_the_whole_answer_deadline(
    hostile: HostileServer, recorded_sleep: RecordedSleep
) -> None:
    # a byte every 0.1 s never trips the 0.3 s read timeout; the 1.2 s deadline ends it
    hostile.answer("GET", "/v2/jobs/j", trickling(every=0.1, chunks=100))
    policy = RetryPolicy(max_attempts=1)
    async with _client(hostile.url, recorded_sleep, timeout=0.3, retry=policy) as client:
        with pytest.raises(BackendError, match=r"no complete answer within 1\.2 s"):
            await client.get_job("j")


async def test_paging_that_never_advances_or_never_ends_is_an_error_not_a_loop(
    hostile: HostileServer, recorded_sleep: RecordedSleep
) -> None:
    job = {"id": "a", "status": "processing"}
    hostile.answer_json("GET", "/v2/jobs", {"data": [job], "next_offset": 0})
    async with _client(hostile.url, recorded_sleep) as client:
        with pytest.raises(ResponseError, match="paging does not advance"):
            _ = [item async for item in client.iter_jobs()]

    def forever(request: Request) -> Response:  # always the same job, always a next page
        offset = int(request.query_params.get("offset", 0))
        return Response(
            f'{{"data": [{{"id": "a", "status": "queued"}}], "next_offset": {offset + 1}}}',
            media_type="application/json",
        )

    hostile.answer("GET", "/v2/jobs", forever)
    async with _client(hostile.url, recorded_sleep) as client:
        with pytest.raises(ResponseError, match="brought no job not seen already"):
            _ = [item async for item in client.iter_jobs()]
        assert client.requests["list_jobs"] <= 60  # bounded, not endless


async def test_a_job_in_a_status_nobody_knows_is_reported_not_waited_on(
    hostile: HostileServer, recorded_sleep: RecordedSleep
) -> None:
    hostile.answer_json("GET", "/v2/jobs/j", {"id": "j", "status": "zombie", "outputs": []})
    async with _client(hostile.url, recorded_sleep) as client:
        with pytest.raises(ResponseError, match="status 'zombie', which sievefile does not know"):
            await client.wait_for_job("j")
        assert client.requests["get_job"] == 1
