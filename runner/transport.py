"""The HTTP transport of `SieveClient`: httpx's own, on a connection pool that keeps what it opens.

httpcore's pool (httpcore 1.0) closes every idle connection whenever it holds more than
`max_keepalive_connections` (20 by default) of any kind: it counts all its connections where it
means to count the idle ones. A run with more than 20 requests out at once (a hundred chains,
pushes going out as their needs end) therefore opened a new connection for about half its
requests (537 of 1,148 on 100 chains of 10 jobs), and each request waited for one: 8 ms median,
45 ms p90 between a push leaving the scheduler and its first byte leaving the socket. Raising
the limit makes it worse: every request then scans every connection, and for each idle one counts
all of them again (quadratic), asking its socket whether the server closed it. On the same run
with 100 keep-alive connections the event loop spent half its time there.

`StackPool` keeps each origin's idle connections on a stack: a request takes the most recently
used one (the one least likely to have been closed by the server), checks only that one, and
gives it back when its answer has been read. Opening and holding connections is httpcore's
(`httpcore.AsyncHTTPConnection`: HTTP/1.1, TLS, timeouts, keep-alive expiry); only the choice of
connection is ours.

httpx has no public way to choose its transport's pool. `http_transport()` sets it where httpx
0.28-0.29 keeps it and keeps the stock pool when that layout is not there, or when the transport
goes through a proxy (httpcore's proxy pools open their connections differently).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import sys
from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType

import httpcore
import httpx

#: An origin as a dict key (`httpcore.Origin` is not hashable): scheme, host, port.
OriginKey = tuple[bytes, bytes, int]

#: Requests out at once (and so connections open) per client; more wait for a free one. Room
#: for the scheduler's pushes (`PUSH_CONCURRENCY`) and, beside them, the watcher's requests.
MAX_CONNECTIONS = 128
#: How long an idle connection is kept before it is closed (httpx's default).
KEEPALIVE_EXPIRY = 5.0


def http_transport(*, verify: ssl.SSLContext | bool) -> httpx.AsyncHTTPTransport:
    """httpx's transport (its request and error mapping) on a `StackPool`."""
    context = (
        verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
    )
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS,
        max_keepalive_connections=MAX_CONNECTIONS,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    transport = httpx.AsyncHTTPTransport(verify=context, limits=limits)
    if type(getattr(transport, "_pool", None)) is httpcore.AsyncConnectionPool:
        transport._pool = StackPool(  # type: ignore[assignment]
            ssl_context=context,
            max_connections=MAX_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )
    return transport


class StackPool:
    """A connection pool whose choice of connection costs the same however many it holds.

    At most `max_connections` requests are out at once (a request past that waits for one to
    end, up to its pool timeout); each is sent on the most recently used idle connection to its
    origin that is still usable, or on a new one. At most `max_connections` idle connections
    are kept, none longer than `keepalive_expiry`.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None,
        max_connections: int,
        keepalive_expiry: float,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._network_backend = network_backend
        self._slots: asyncio.Semaphore | None = None
        self._idle: dict[OriginKey, collections.deque[httpcore.AsyncHTTPConnection]] = {}
        self._busy: set[httpcore.AsyncHTTPConnection] = set()

    @property
    def connections(self) -> list[httpcore.AsyncHTTPConnection]:
        """Every connection open or opening: those in use, then the idle ones."""
        return [*self._busy, *(c for stack in self._idle.values() for c in stack)]

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        scheme = request.url.scheme.decode()
        if scheme not in ("http", "https"):
            raise httpcore.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'."
            )
        await self._acquire_slot(request.extensions.get("timeout", {}).get("pool"))
        try:
            connection, response = await self._send(request)
        except BaseException:
            self._release_slot()
            raise
        assert isinstance(response.stream, AsyncIterable)
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_ReturningStream(response.stream, self, request.url.origin, connection),
            extensions=response.extensions,
        )

    async def _acquire_slot(self, timeout: float | None) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_connections)
        if not self._slots.locked():
            await self._slots.acquire()
            return
        try:
            if sys.version_info >= (3, 11):  # wait_for there can lose a cancel that races it
                async with asyncio.timeout(timeout):
                    await self._slots.acquire()
            else:
                await asyncio.wait_for(self._slots.acquire(), timeout)
        except asyncio.TimeoutError:
            raise httpcore.PoolTimeout("no connection became free in time") from None

    def _release_slot(self) -> None:
        assert self._slots is not None
        self._slots.release()

    async def _send(
        self, request: httpcore.Request
    ) -> tuple[httpcore.AsyncHTTPConnection, httpcore.Response]:
        origin = request.url.origin
        while True:
            connection = await self._take_idle(origin)
            reused = connection is not None
            if connection is None:
                connection = httpcore.AsyncHTTPConnection(
                    origin=origin,
                    ssl_context=self._ssl_context,
                    keepalive_expiry=self._keepalive_expiry,
                    network_backend=self._network_backend,
                )
            self._busy.add(connection)
            try:
                return connection, await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                # the server ended a reused connection between our check and the request
                self._busy.discard(connection)
                await connection.aclose()
                if not reused:
                    raise
            except BaseException:
                self._busy.discard(connection)
                await connection.aclose()
                raise

    async def _take_idle(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection | None:
        """The most recently used idle connection to `origin` still usable; closes the rest
        it meets on the way."""
        stack = self._idle.get(_key(origin))
        while stack:
            connection = stack.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return None

    async def _give_back(
        self, origin: httpcore.Origin, connection: httpcore.AsyncHTTPConnection
    ) -> None:
        """`connection`'s answer was read (or given up): keep it for the next request if it
        can take one, and close the oldest idle ones that expired or are one too many."""
        self._busy.discard(connection)
        if not connection.is_idle():
            await connection.aclose()
            return
        stack = self._idle.setdefault(_key(origin), collections.deque())
        stack.append(connection)
        idle = sum(len(each) for each in self._idle.values())  # one origin, in practice
        while stack and (stack[0].has_expired() or idle > self._max_connections):
            idle -= 1
            await stack.popleft().aclose()

    async def aclose(self) -> None:
        connections = self.connections
        self._idle.clear()
        self._busy.clear()
        for connection in connections:
            await connection.aclose()

    async def __aenter__(self) -> StackPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()


def _key(origin: httpcore.Origin) -> OriginKey:
    return (origin.scheme, origin.host, origin.port)


class _ReturningStream:
    """An answer's body; closing it gives its connection back to the pool."""

    def __init__(
        self,
        stream: AsyncIterable[bytes],
        pool: StackPool,
        origin: httpcore.Origin,
        connection: httpcore.AsyncHTTPConnection,
    ) -> None:
        self._stream = stream
        self._pool = pool
        self._origin = origin
        self._connection = connection
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._stream, "aclose", None)
            if close is not None:
                await close()
        except BaseException:
            await self._connection.aclose()  # in an unknown state: never reused
            raise
        finally:
            try:
                await self._pool._give_back(self._origin, self._connection)
            finally:
                self._pool._release_slot()
