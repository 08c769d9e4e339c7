"""The client's request observer (what `run --verbose` shows): every HTTP exchange, retries
included, with method, path, status and time, and never the key."""

from __future__ import annotations

from typing import Any

import pytest

from runner.client import RequestRecord
from tests.support.faultproxy import Respond

pytestmark = pytest.mark.anyio


async def test_the_observer_sees_each_request_and_retry_but_not_the_key(
    proxy: Any, connect: Any, recorded_sleep: Any, local_server: Any
) -> None:
    seen: list[RequestRecord] = []
    proxy.add_fault(Respond(502, {"detail": "bad gateway"}), method="GET", times=1)
    async with connect(proxy.url, sleep=recorded_sleep) as client:
        client.observe_requests(seen.append)
        pushed = await client.push("local/echo", {"value": 1})
        await client.get_job(pushed["id"])
        await client.list_jobs("processing", limit=5)
    assert [(r.method, r.path, r.status) for r in seen] == [
        ("POST", "/v2/push", 200),
        ("GET", f"/v2/jobs/{pushed['id']}", 502),  # the retry is its own request
        ("GET", f"/v2/jobs/{pushed['id']}", 200),
        ("GET", "/v2/jobs?offset=0&status=processing&limit=5", 200),
    ]
    assert all(record.seconds >= 0 and record.key_sent for record in seen)
    assert local_server.api_key not in repr(seen)


async def test_without_a_key_the_observer_says_none_was_sent(start_local_server: Any) -> None:
    from runner.client import SieveClient

    server = start_local_server(api_key=None)
    seen: list[RequestRecord] = []
    async with SieveClient(server.url) as client:
        client.observe_requests(seen.append)
        await client.get_function("local", "echo")
    assert [(r.path, r.status, r.key_sent) for r in seen] == [
        ("/v2/functions/local/echo", 200, False)
    ]
