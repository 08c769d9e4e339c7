"""What the local server serves beyond the seed spec, as the live service does, over a real
socket: a function's versions, the organisation's concurrency, and the API client's calls for
them (None where a backend lacks the endpoint, an error where it lacks the object)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from runner.client import RetryPolicy, SieveClient
from runner.concurrency import Concurrency, service_concurrency
from runner.errors import ApiError
from tests.support.faultproxy import FaultProxy, Respond
from tests.support.waiting import wait_until


def _client(url: str, key: str | None) -> SieveClient:
    return SieveClient(url, key, retry=RetryPolicy(max_attempts=1))


def test_a_functions_versions(api: httpx.Client, server: Any) -> None:
    latest = api.get("/functions/test/kinds").json()["latest_version"]
    version = latest["id"]
    assert api.get(f"/functions/test/kinds/versions/{version}").json() == latest
    listed = api.get("/functions/test/kinds/versions").json()
    assert listed == {"data": [latest], "next_offset": -1}
    assert api.get("/functions/test/kinds/versions?offset=1").json()["data"] == []
    missing = api.get("/functions/test/kinds/versions/not-a-version")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Version not found."})
    unknown = api.get(f"/functions/test/nope/versions/{version}")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Function not found."})
    assert httpx.get(f"{server.url}/v2/user/concurrency").status_code == 401


def test_concurrency_reports_the_workers_and_the_jobs_now(api: httpx.Client, server: Any) -> None:
    assert api.get("/user/concurrency").json() == {
        "max_concurrency": 2,
        "num_current": 0,
        "num_processing": 0,
        "num_queued": 0,
        "num_limited": 0,
    }
    ids = [
        api.post("/push", json={"function": "test/nap", "inputs": {"seconds": 60}}).json()["id"]
        for _ in range(3)
    ]
    try:
        report = wait_until(
            lambda: (got := api.get("/user/concurrency").json())["num_processing"] >= 2 and got,
            what="two jobs processing",
        )
        # Two workers busy, the third job waiting for one of them.
        assert report == {
            "max_concurrency": 2,
            "num_current": 3,
            "num_processing": 2,
            "num_queued": 1,
            "num_limited": 1,
        }
    finally:
        for job_id in ids:
            api.delete(f"/jobs/{job_id}")


def test_the_client_reads_both(server: Any) -> None:
    async def ask() -> tuple[Any, Any, Concurrency | None]:
        async with _client(server.url, server.api_key) as client:
            function = await client.get_function("test", "kinds")
            version = function["latest_version"]["id"]
            body = await client.get_function_version("test", "kinds", version)
            return function, body, await service_concurrency(client)

    function, body, concurrency = asyncio.run(ask())
    assert body == function["latest_version"]
    assert concurrency == Concurrency(max_concurrency=2)


def test_a_missing_version_is_an_error_not_a_missing_endpoint(server: Any) -> None:
    async def ask() -> None:
        async with _client(server.url, server.api_key) as client:
            await client.get_function_version("test", "kinds", "gone")

    with pytest.raises(ApiError) as raised:
        asyncio.run(ask())
    assert raised.value.status_code == 404
    assert raised.value.detail == "Version not found."


@pytest.mark.parametrize(
    "absent",
    [
        Respond(404, {"detail": "Not Found"}),
        Respond(405, {"detail": "Method Not Allowed"}),
    ],
)
def test_endpoints_a_backend_lacks_answer_none(server: Any, absent: Respond) -> None:
    with FaultProxy(server.url) as proxy:
        proxy.add_fault(absent, path="/v2/functions/test/kinds/versions")
        proxy.add_fault(absent, path="/v2/user/concurrency", times=2)

        async def ask() -> tuple[Any, Any, Any]:
            async with _client(proxy.url, server.api_key) as client:
                return (
                    await client.get_function_version("test", "kinds", "v1"),
                    await client.get_concurrency(),
                    await service_concurrency(client),
                )

        assert asyncio.run(ask()) == (None, None, None)


def test_a_failing_concurrency_report_is_no_report_and_is_not_retried(server: Any) -> None:
    with FaultProxy(server.url) as proxy:
        proxy.add_fault(Respond(500, {"detail": "boom", "error_id": "e-1"}), times=5)

        async def ask() -> Concurrency | None:
            # The default retry policy, which retries a 5xx of any other request.
            async with SieveClient(proxy.url, server.api_key) as client:
                return await service_concurrency(client)

        assert asyncio.run(ask()) is None
        assert [seen.path for seen in proxy.log] == ["/v2/user/concurrency"]
