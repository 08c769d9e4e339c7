"""The HTTP transport of `SieveClient`: httpx's own, with a cheaper look at idle connections.

Whenever a request starts or ends, httpcore asks each idle connection of its pool whether the
server closed it (`get_extra_info("is_readable")`). Through anyio each answer builds a dict of
all the socket's attributes, with a `getpeername()` call, before polling the socket. A run keeps
up to 100 connections to the service, so that was the largest item of its CPU profile: 17 % of
the event loop's time on 100 chains of 10 jobs, in a loop that was busy 75 % of the run. The
streams here keep their socket and poll it directly: the same answer, about a tenth of the
cost.

httpx has no public way to choose httpcore's network backend. `http_transport()` sets it where
httpx 0.28-0.29 keeps it, and keeps the stock one when that layout is not there.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

#: httpcore's own type of a socket option (`httpcore._backends.base.SOCKET_OPTION`).
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


def http_transport(*, verify: ssl.SSLContext | bool) -> httpx.AsyncHTTPTransport:
    """httpx's transport, its connection pool on `SocketKeepingBackend`."""
    transport = httpx.AsyncHTTPTransport(verify=verify)
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = SocketKeepingBackend()
    return transport


class SocketKeepingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, whose streams answer `is_readable` from their own socket."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return SocketKeepingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return SocketKeepingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class SocketKeepingStream(httpcore.AsyncNetworkStream):
    """A stream that polls its socket itself for `is_readable`; the rest is `stream`'s."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return SocketKeepingStream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return socket_readable(self._socket)
        return self._stream.get_extra_info(info)


def socket_readable(sock: socket.socket) -> bool:
    """Whether reading `sock` would not block: data, or the end of a connection the server
    closed. A closed socket counts as readable (its next read is the end)."""
    fd = sock.fileno()
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # Windows
        readable, _, _ = select.select([fd], [], [], 0)
        return bool(readable)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
