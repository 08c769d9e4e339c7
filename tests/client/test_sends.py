"""`note_sends` / `until_sent`: a caller learns when its requests are on the wire, before their
answers, so it can keep the event loop busy meanwhile (a run checks its manifest then)."""

from __future__ import annotations

import asyncio

import pytest

from runner.client import SieveClient
from tests.support.faultproxy import Delay, FaultProxy

pytestmark = pytest.mark.anyio


async def _seen_by(proxy: FaultProxy, path: str) -> bool:
    for _ in range(500):  # the proxy reads the request in its own thread
        if any(seen.path == path for seen in proxy.log):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_until_sent_returns_once_the_requests_are_out_not_answered(
    proxied_client: SieveClient, proxy: FaultProxy
) -> None:
    proxy.add_fault(Delay(1), method="GET", path="/v2/functions/local/echo")
    proxied_client.note_sends()
    answer = asyncio.ensure_future(proxied_client.get_function("local", "echo"))
    concurrency = asyncio.ensure_future(proxied_client.get_concurrency())
    try:
        await proxied_client.until_sent(timeout=30)
        assert not answer.done()  # its answer is held back 1 s
        assert await _seen_by(proxy, "/v2/functions/local/echo")
        await concurrency  # not delayed: answered
    finally:
        answer.cancel()
        await asyncio.gather(answer, return_exceptions=True)


async def test_until_sent_counts_a_request_that_failed_as_sent(
    proxied_client: SieveClient,
) -> None:
    proxied_client.note_sends()
    missing = asyncio.ensure_future(proxied_client.get_function("local", "no_such_function"))
    await proxied_client.until_sent(timeout=30)
    with pytest.raises(Exception, match="no_such_function"):
        await missing
