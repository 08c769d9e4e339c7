"""A hostile Sieve API for robustness tests: a real HTTP server on 127.0.0.1 whose answers the
test writes, wrong types, redirects, stalls and all.

    with HostileServer() as server:
        server.answer("GET", "/v2/jobs", lambda request: JSONResponse({"data": "nope"}))
        ... point a client at server.url ...
        assert server.seen == [("GET", "/v2/jobs", headers), ...]

A path without an answer gets 404. `seen` records every request with its headers (to prove
where the API key went).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.faultproxy import ThreadedServer

Handler = Callable[[Request], Response | Awaitable[Response]]


class HostileServer:
    """See the module docstring."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self._answers: dict[tuple[str, str], Handler] = {}
        self.app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "DELETE"])]
        )
        self._server: ThreadedServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def answer(self, method: str, path: str, handler: Handler) -> None:
        self._answers[(method, path)] = handler

    def answer_json(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self.answer(method, path, lambda request: JSONResponse(body, status_code=status))

    async def _handle(self, request: Request) -> Response:
        self.seen.append((request.method, request.url.path, dict(request.headers)))
        handler = self._answers.get((request.method, request.url.path))
        if handler is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        answer = handler(request)
        return await answer if isinstance(answer, Awaitable) else answer

    def __enter__(self) -> HostileServer:
        self._server = ThreadedServer(self.app)
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.stop()


def stalling(first: bytes, *, then_wait: float) -> Callable[[Request], Response]:
    """An answer that sends `first`, then nothing for `then_wait` seconds (a stalled body)."""

    async def body() -> AsyncIterator[bytes]:
        yield first
        await asyncio.sleep(then_wait)

    return lambda request: StreamingResponse(body(), media_type="application/json")


def trickling(*, every: float, chunks: int) -> Callable[[Request], Response]:
    """An answer that sends one byte every `every` seconds, `chunks` times (never stalls long
    enough for a read timeout, never ends soon)."""

    async def body() -> AsyncIterator[bytes]:
        for _ in range(chunks):
            yield b" "
            await asyncio.sleep(every)

    return lambda request: StreamingResponse(body(), media_type="application/json")
