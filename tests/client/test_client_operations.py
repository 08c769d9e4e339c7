"""Every client method against the local backend over a real socket."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from runner.client import SieveClient
from runner.errors import ApiError
from tests.client.conftest import Connect
from tests.support.faultproxy import FaultProxy, Transform
from tests.support.outputs import serve_directory

if TYPE_CHECKING:
    from tests.conftest import LocalServer

pytestmark = pytest.mark.anyio


async def test_get_function_returns_sieve_metadata(client: SieveClient) -> None:
    function = await client.get_function("local", "echo")
    assert (function["owner_name"], function["name"]) == ("local", "echo")
    inputs = {item["name"]: item for item in function["latest_version"]["inputs"]}
    assert inputs["value"]["is_optional"] is False
    assert (inputs["text"]["type"], inputs["text"]["is_optional"]) == ("str", True)


async def test_an_unknown_function_is_a_404_api_error(client: SieveClient) -> None:
    with pytest.raises(ApiError) as caught:
        await client.get_function("local", "nope")
    assert caught.value.status_code == 404
    assert caught.value.detail == "Function not found."
    assert "GET http://127.0.0.1:" in str(caught.value)


async def test_push_then_wait_returns_the_finished_job_with_outputs(client: SieveClient) -> None:
    pushed = await client.push("local/echo", {"value": {"n": 1}, "text": "hi"})
    assert pushed["status"] == "queued"
    job = await client.wait_for_job(pushed["id"], interval=0.02)
    assert job["status"] == "finished"
    assert job["outputs"][0]["data"] == {
        "value": {"n": 1},
        "text": "hi",
        "number": 0.0,
        "flag": False,
    }


async def test_push_by_function_id_with_webhooks_and_env(client: SieveClient) -> None:
    function = await client.get_function("local", "sleep")
    pushed = await client.push(
        function_id=function["id"] if "id" in function else function["latest_version"]["id"],
        inputs={"seconds": 0, "payload": 7},
        webhooks=[],
        env={"UNUSED": "1"},
    )
    job = await client.wait_for_job(pushed["id"], interval=0.02)
    assert (job["status"], job["outputs"][0]["data"]) == ("finished", 7)


async def test_a_rejected_push_carries_fastapi_style_details(client: SieveClient) -> None:
    with pytest.raises(ApiError) as caught:
        await client.push("local/echo", {"valeu": 1})
    error = caught.value
    assert error.status_code == 422
    assert isinstance(error.detail, list)
    locations = [tuple(item["loc"]) for item in error.detail]
    assert ("body", "inputs", "valeu") in locations
    assert "body.inputs.valeu" in str(error)


async def test_get_job_offset_skips_outputs(client: SieveClient) -> None:
    pushed = await client.push("local/echo", {"value": 1})
    await client.wait_for_job(pushed["id"], interval=0.02)
    assert len((await client.get_job(pushed["id"]))["outputs"]) == 1
    assert (await client.get_job(pushed["id"], offset=1))["outputs"] == []


async def test_an_unknown_job_is_a_404(client: SieveClient) -> None:
    with pytest.raises(ApiError, match=r"returned 404: Job not found\.") as caught:
        await client.get_job("00000000-0000-0000-0000-000000000000")
    assert caught.value.status_code == 404


async def test_cancel_job_cancels_a_running_job_and_refuses_a_finished_one(
    client: SieveClient,
) -> None:
    running = await client.push("local/sleep", {"seconds": 60})
    answer = await client.cancel_job(running["id"])
    assert isinstance(answer["message"], str)
    assert (await client.wait_for_job(running["id"], interval=0.02))["status"] == "cancelled"
    with pytest.raises(ApiError) as caught:
        await client.cancel_job(running["id"])
    assert (caught.value.status_code, caught.value.detail) == (400, "Job is not processing.")


async def _push_echoes(client: SieveClient, count: int) -> list[str]:
    ids = []
    for index in range(count):
        pushed = await client.push("local/echo", {"value": index})
        ids.append(pushed["id"])
    for job_id in ids:
        await client.wait_for_job(job_id, interval=0.02)
    return ids


async def test_list_jobs_is_one_page_with_the_next_offset(client: SieveClient) -> None:
    ids = await _push_echoes(client, 3)
    first = await client.list_jobs(limit=2)
    assert len(first.jobs) == 2
    assert first.next_offset == 2
    last = await client.list_jobs(limit=2, offset=2)
    assert last.next_offset is None
    assert {job["id"] for job in first.jobs + last.jobs} == set(ids)


async def test_list_jobs_filters_by_status(client: SieveClient) -> None:
    finished = await _push_echoes(client, 2)
    sleeper = await client.push("local/sleep", {"seconds": 60})
    await client.cancel_job(sleeper["id"])
    await client.wait_for_job(sleeper["id"], interval=0.02)
    page = await client.list_jobs("finished")
    assert {job["id"] for job in page.jobs} == set(finished)
    assert [job["id"] for job in (await client.list_jobs("cancelled")).jobs] == [sleeper["id"]]


async def test_iter_jobs_follows_every_page(client: SieveClient) -> None:
    ids = await _push_echoes(client, 5)
    seen = [job["id"] async for job in client.iter_jobs(page_size=2)]
    assert sorted(seen) == sorted(ids)
    assert client.requests["list_jobs"] == 3  # pages of 2, 2 and 1


async def test_iter_jobs_tolerates_another_page_size_order_and_extra_fields(
    connect: Connect, proxy: FaultProxy
) -> None:
    def reshape(page: dict) -> dict:
        return {
            "data": [{**job, "new_field": True} for job in reversed(page["data"])],
            "next_offset": page.get("next_offset", -1),
            "total": 99,
        }

    async with connect() as direct:
        ids = await _push_echoes(direct, 7)
    # The server ignores the asked-for page size of 2 and answers pages of 3, reversed.
    proxy.add_fault(Transform({"limit": "3"}, body=reshape), path="/v2/jobs", times=10)
    async with connect(proxy.url) as client:
        jobs = [job async for job in client.iter_jobs(page_size=2)]
    assert sorted(job["id"] for job in jobs) == sorted(ids)
    assert all(job["new_field"] for job in jobs)
    assert client.requests["list_jobs"] == 3  # pages of 3, 3 and 1


async def test_iter_jobs_yields_a_job_once_when_it_shifts_to_the_next_page(
    connect: Connect, proxy: FaultProxy
) -> None:
    async with connect() as direct:
        ids = await _push_echoes(direct, 4)
        pages_seen = 0

        def push_between_pages(page: dict) -> dict:
            nonlocal pages_seen
            pages_seen += 1
            return page

        proxy.add_fault(Transform(body=push_between_pages), path="/v2/jobs", times=10)
        async with connect(proxy.url) as client:
            found: list[str] = []
            async for job in client.iter_jobs(page_size=2):
                found.append(job["id"])
                if len(found) == 2:
                    # A new job arrives at the front: the second page now starts with a job
                    # of the first page.
                    newest = await direct.push("local/echo", {"value": "late"})
                    await direct.wait_for_job(newest["id"], interval=0.02)
    assert len(found) == len(set(found))
    assert set(ids) <= set(found)
    assert pages_seen >= 2


async def test_requests_are_counted_per_operation(client: SieveClient) -> None:
    pushed = await client.push("local/echo", {"value": 1})
    await client.get_job(pushed["id"])
    await client.list_jobs()
    assert client.requests == {"push": 1, "get_job": 1, "list_jobs": 1}
    assert client.request_count == 3


async def test_the_api_key_is_sent_and_required(local_server: LocalServer) -> None:
    async with SieveClient(local_server.url, local_server.api_key) as client:
        assert (await client.get_function("local", "echo"))["name"] == "echo"
    for key in ("wrong-key", None):
        async with SieveClient(local_server.url, key) as client:
            with pytest.raises(ApiError) as caught:
                await client.get_function("local", "echo")
        assert caught.value.status_code == 401


async def test_the_api_key_never_appears_in_repr_errors_or_logs(
    local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-never-print-me-7c1d"
    async with SieveClient(local_server.url, secret) as client:
        assert secret not in repr(client)
        with pytest.raises(ApiError) as caught:
            await client.push("local/echo", {"value": 1})
    assert caught.value.status_code == 401
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.detail)
    assert caplog.records, "httpx logs each request at debug level"
    assert secret not in caplog.text


async def test_ids_with_url_characters_stay_one_path_segment(client: SieveClient) -> None:
    pushed = await client.push("local/echo", {"value": 1})
    # Unescaped, the "?" would start a query and fetch the real job.
    with pytest.raises(ApiError) as caught:
        await client.get_job(f"{pushed['id']}?offset=0")
    assert (caught.value.status_code, caught.value.detail) == (404, "Job not found.")


async def test_an_html_error_page_is_summarised_not_dumped(tmp_path: Path) -> None:
    """A URL that points at some other web server: the error says so in one line."""
    with serve_directory(tmp_path) as url:
        async with SieveClient(url) as client:
            with pytest.raises(ApiError) as caught:
                await client.list_jobs()
    assert caught.value.status_code == 404
    message = str(caught.value)
    assert message.endswith(
        "returned 404: File not found (an HTML page, not the Sieve API's JSON: is the URL a "
        "Sieve API?)"
    )
    assert "<html" not in message.lower()
