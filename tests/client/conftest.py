"""Real servers for the client tests: the local backend on a socket, and a fault proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from runner.client import RetryPolicy, SieveClient
from runner.local.server import ServerThread
from tests.support.faultproxy import FaultProxy
from tests.support.servers import API_KEY, keyed_server, local_server

__all__ = ["API_KEY", "keyed_server", "local_server"]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests here (marked `anyio`) run on asyncio, as sievefile does."""
    return "asyncio"


@pytest.fixture
def proxy(local_server: ServerThread) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of `local_server`."""
    with FaultProxy(local_server.url) as running:
        yield running


class RecordedSleep:
    """An injected `sleep` that records each delay instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def recorded_sleep() -> RecordedSleep:
    return RecordedSleep()


def no_jitter(delay: float) -> float:
    return delay


@pytest.fixture
async def client(local_server: ServerThread) -> AsyncIterator[SieveClient]:
    async with SieveClient(local_server.url) as running:
        yield running


@pytest.fixture
async def proxied_client(
    proxy: FaultProxy, recorded_sleep: RecordedSleep
) -> AsyncIterator[SieveClient]:
    """A client through the fault proxy, with recorded sleeps, no jitter and 5 attempts."""
    async with SieveClient(
        proxy.url, sleep=recorded_sleep, jitter=no_jitter, retry=RetryPolicy(max_attempts=5)
    ) as running:
        yield running
