"""The client's transport: httpx's own, whose pool checks idle connections on their sockets."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from runner.client import SieveClient
from runner.transport import SocketKeepingBackend, http_transport, socket_readable

if TYPE_CHECKING:
    from tests.conftest import LocalServer


def test_the_pool_runs_on_the_socket_keeping_backend() -> None:
    # If an httpx upgrade moves its pool, http_transport keeps the stock backend and this fails:
    # the run still works, at the CPU cost docs/benchmarks.md measured.
    transport = http_transport(verify=True)
    assert isinstance(transport._pool._network_backend, SocketKeepingBackend)


def test_a_socket_is_readable_once_data_or_the_end_arrives() -> None:
    ours, theirs = socket.socketpair()
    try:
        assert not socket_readable(ours)  # idle: reusable
        theirs.sendall(b"x")
        assert socket_readable(ours)
        ours.recv(1)
        assert not socket_readable(ours)
        theirs.close()
        assert socket_readable(ours)  # the peer closed it: not reusable
    finally:
        ours.close()
    assert socket_readable(ours)  # closed here: treated as ended


@pytest.mark.anyio
async def test_requests_reuse_a_connection_through_it(local_server: LocalServer) -> None:
    async with SieveClient(local_server.url, local_server.api_key) as client:
        for _ in range(3):
            await client.list_jobs(limit=1)
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 1  # one connection, checked and reused twice
