"""For the client tests: a fault proxy in front of the shared `local_server`, clients that send
its key, and a recorded `sleep` so retries never wait."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from runner.client import SieveClient
from tests.support.faultproxy import FaultProxy

if TYPE_CHECKING:
    from tests.conftest import LocalServer


@pytest.fixture
def anyio_backend() -> str:
    """Async tests here (marked `anyio`) run on asyncio, as sievefile does."""
    return "asyncio"


@pytest.fixture
def proxy(local_server: LocalServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of `local_server`."""
    with FaultProxy(local_server.url) as running:
        yield running


class RecordedSleep:
    """An injected `sleep` that records each delay instead of waiting, and the clock it
    moves (`clock`): retry budgets run out without anyone waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 0.0

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def recorded_sleep() -> RecordedSleep:
    return RecordedSleep()


def no_jitter(delay: float) -> float:
    return delay


Connect = Callable[..., SieveClient]


@pytest.fixture
def connect(local_server: LocalServer) -> Connect:
    """`connect(url=local_server.url, **options)`: a SieveClient sending the server's key."""

    def make(url: str | None = None, **options: Any) -> SieveClient:
        return SieveClient(url or local_server.url, local_server.api_key, **options)

    return make


@pytest.fixture
async def client(connect: Connect) -> AsyncIterator[SieveClient]:
    """A client straight to `local_server`."""
    async with connect() as running:
        yield running


@pytest.fixture
async def proxied_client(
    connect: Connect, proxy: FaultProxy, recorded_sleep: RecordedSleep
) -> AsyncIterator[SieveClient]:
    """A client through the fault proxy, with recorded sleeps (and the clock they move), no
    jitter, and the default retry policy."""
    async with connect(
        proxy.url, sleep=recorded_sleep, clock=recorded_sleep.clock, jitter=no_jitter
    ) as running:
        yield running
