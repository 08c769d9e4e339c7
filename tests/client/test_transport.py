"""The client's transport: httpx's own, on a pool that keeps each connection it opens."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpcore
import httpx
import pytest

from runner.transport import MAX_CONNECTIONS, StackPool, http_transport
from tests.support.outputs import serve_http


class KeepAliveServer:
    """A loopback HTTP/1.1 server that counts the connections it accepted.

    `delay` holds each answer; `close_after` ends a connection after that many answers without
    saying so (as a server whose keep-alive timeout ran out does).
    """

    def __init__(self, delay: float = 0.0, close_after: int | None = None) -> None:
        self.connections = 0
        self.delay = delay
        self.close_after = close_after
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.answered = 0
                with server._lock:
                    server.connections += 1

            def do_GET(self) -> None:
                time.sleep(server.delay)
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.answered += 1
                if server.close_after is not None and self.answered >= server.close_after:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _transport_with(*, max_connections: int, keepalive_expiry: float) -> httpx.AsyncHTTPTransport:
    """`http_transport`'s, on a pool with these limits."""
    transport = http_transport(verify=True)
    transport._pool = StackPool(  # type: ignore[assignment]
        ssl_context=None, max_connections=max_connections, keepalive_expiry=keepalive_expiry
    )
    return transport


@pytest.fixture
def keep_alive_server() -> Iterator[tuple[KeepAliveServer, str]]:
    server = KeepAliveServer(delay=0.05)
    with serve_http(server.handler()) as url:
        yield server, url


def test_the_transport_runs_on_the_stack_pool() -> None:
    # If an httpx upgrade moves its pool, http_transport keeps the stock one and this fails:
    # runs still work, at the cost docs/benchmarks.md measured (a connection per two requests).
    transport = http_transport(verify=True)
    assert isinstance(transport._pool, StackPool)


@pytest.mark.anyio
async def test_bursts_of_requests_reuse_the_connections_of_the_first(
    keep_alive_server: tuple[KeepAliveServer, str],
) -> None:
    # httpcore's own pool closed every idle connection while it held more than 20: each burst
    # of 40 opened about 20 new ones.
    server, url = keep_alive_server
    async with httpx.AsyncClient(transport=http_transport(verify=True)) as client:
        for _ in range(3):
            answers = await asyncio.gather(*(client.get(url) for _ in range(40)))
            assert {answer.status_code for answer in answers} == {200}
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 40
    assert server.connections == 40


@pytest.mark.anyio
async def test_at_most_max_connections_requests_are_out_at_once() -> None:
    server = KeepAliveServer(delay=0.1)
    transport = _transport_with(max_connections=3, keepalive_expiry=5.0)
    with serve_http(server.handler()) as url:
        async with httpx.AsyncClient(transport=transport) as client:
            started = time.monotonic()
            answers = await asyncio.gather(*(client.get(url) for _ in range(9)))
            elapsed = time.monotonic() - started
    assert [answer.json() for answer in answers] == [{"ok": True}] * 9
    assert server.connections == 3
    assert elapsed >= 0.3  # three rounds of three, not one round of nine


@pytest.mark.anyio
async def test_a_request_that_finds_no_free_connection_in_time_is_a_pool_timeout() -> None:
    server = KeepAliveServer(delay=0.5)
    transport = _transport_with(max_connections=1, keepalive_expiry=5.0)
    with serve_http(server.handler()) as url:
        async with httpx.AsyncClient(transport=transport) as client:
            slow = asyncio.ensure_future(client.get(url))
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await client.get(url, timeout=httpx.Timeout(5.0, pool=0.1))
            assert (await slow).status_code == 200
            # the slot the timed-out request waited for was not lost
            assert (await client.get(url)).status_code == 200


@pytest.mark.anyio
async def test_a_cancelled_request_gives_its_connection_slot_back() -> None:
    server = KeepAliveServer(delay=0.3)
    transport = _transport_with(max_connections=1, keepalive_expiry=5.0)
    with serve_http(server.handler()) as url:
        async with httpx.AsyncClient(transport=transport) as client:
            doomed = asyncio.ensure_future(client.get(url))
            await asyncio.sleep(0.05)
            doomed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await doomed
            answer = await client.get(url, timeout=httpx.Timeout(5.0, pool=1.0))
    assert answer.status_code == 200
    assert server.connections == 2  # the cancelled request's connection was not reused


@pytest.mark.anyio
async def test_a_connection_the_server_ended_is_not_reused() -> None:
    server = KeepAliveServer(close_after=1)  # every connection ends after one answer, unsaid
    with serve_http(server.handler()) as url:
        async with httpx.AsyncClient(transport=http_transport(verify=True)) as client:
            for _ in range(3):
                assert (await client.get(url)).status_code == 200
                await asyncio.sleep(0.05)  # the server's end has arrived
            pool = client._transport._pool  # type: ignore[attr-defined]
            assert len(pool.connections) <= 1
    assert server.connections == 3


@pytest.mark.anyio
async def test_an_idle_connection_past_its_keepalive_expiry_is_closed() -> None:
    server = KeepAliveServer()
    transport = _transport_with(max_connections=4, keepalive_expiry=0.05)
    with serve_http(server.handler()) as url:
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(url)).status_code == 200
            await asyncio.sleep(0.1)
            assert (await client.get(url)).status_code == 200
    assert server.connections == 2


@pytest.mark.anyio
async def test_closing_the_client_closes_its_connections(
    keep_alive_server: tuple[KeepAliveServer, str],
) -> None:
    _, url = keep_alive_server
    client = httpx.AsyncClient(transport=http_transport(verify=True))
    await asyncio.gather(*(client.get(url) for _ in range(5)))
    pool = client._transport._pool  # type: ignore[attr-defined]
    opened = pool.connections
    assert len(opened) == 5
    await client.aclose()
    assert pool.connections == []
    assert all(connection.is_closed() for connection in opened)


def test_the_default_limit_matches_the_schedulers_pushes() -> None:
    from runner.execute.scheduler import PUSH_CONCURRENCY

    # a poll must find a connection while the scheduler's pushes hold theirs
    assert MAX_CONNECTIONS >= PUSH_CONCURRENCY + 16


def test_an_unsupported_scheme_is_refused_as_httpcore_does() -> None:
    pool = StackPool(ssl_context=None, max_connections=1, keepalive_expiry=1.0)
    request = httpcore.Request("GET", "ftp://127.0.0.1/x")
    with pytest.raises(httpcore.UnsupportedProtocol):
        asyncio.run(pool.handle_async_request(request))
