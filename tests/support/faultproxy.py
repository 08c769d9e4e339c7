"""A fault-injecting HTTP proxy in front of a Sieve API server, for robustness tests.

`FaultProxy(upstream_url)` is a real HTTP server (Starlette on uvicorn, 127.0.0.1, a free port)
that forwards every request to `upstream_url`, unless a queued fault matches it:

    with FaultProxy(local_server.url) as proxy:
        proxy.add_fault(Respond(429, headers={"Retry-After": "2"}), method="GET", times=2)
        proxy.add_fault(Respond(503, {"detail": "down", "error_id": "e-1"}), path="/v2/jobs")
        proxy.add_fault(Delay(1.5))                  # then forward
        proxy.add_fault(Transform({"limit": "3"}, body=reverse_pages), path="/v2/jobs")
        proxy.add_fault(DropAfterForward(), method="POST", path="/v2/push")
        ... point a client at proxy.url ...
        assert proxy.log == [...]                   # what reached the proxy, and what it did

Faults are used in the order they were added, each for `times` matching requests.
`DropAfterForward` forwards the request (the upstream really acts on it) and then closes the
connection without an answer: the lost-response case a push must never blindly retry.

`proxy.chaos(rate=0.2, seed=1)` adds random faults on top (for soak tests): each request that
no queued fault matched gets, with probability `rate`, one of a 500, a 429, a connection
dropped before forwarding, an answer lost after forwarding (for a push: the job exists, its id
never arrives) or some latency. `proxy.injected` counts what was injected, by kind.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class Respond:
    """Answer with `status`, a JSON `body` and `headers`, without forwarding."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delay:
    """Wait `seconds`, then forward."""

    seconds: float


@dataclass(frozen=True)
class Transform:
    """Forward with `params` replacing query parameters, then pass the JSON answer through
    `body` (another server's paging, ordering or extra fields, made from a real answer)."""

    params: dict[str, str] = field(default_factory=dict)
    body: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class DropAfterForward:
    """Forward, let the upstream act, then close the connection without answering."""


@dataclass(frozen=True)
class DropBeforeForward:
    """Close the connection without answering and without forwarding."""


Fault = Respond | Delay | Transform | DropAfterForward | DropBeforeForward


@dataclass
class _Rule:
    fault: Fault
    method: str | None
    path: str | None
    remaining: int
    exact: bool = False
    path_end: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and (
                self.path is None
                or (path == self.path if self.exact else path.startswith(self.path))
            )
            and (self.path_end is None or path.endswith(self.path_end))
        )


@dataclass(frozen=True)
class Seen:
    """One request that reached the proxy, and the fault applied to it (None: forwarded)."""

    method: str
    path: str
    fault: Fault | None


class _DroppedConnection(Exception):
    """Raised after a response started, so uvicorn closes the connection mid-answer."""


class FaultProxy:
    """See the module docstring. Start with `with FaultProxy(url) as proxy:` or `start()`."""

    def __init__(self, upstream: str, *, port: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = port
        self.log: list[Seen] = []
        self.injected: Counter[str] = Counter()
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._server: ThreadedServer | None = None
        self._chaos: tuple[float, random.Random, float, dict[str, float]] | None = None
        self._http: httpx.AsyncClient | None = None  # one, reused: forwarding stays cheap
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._handle,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                )
            ]
        )
        self.app = app

    @property
    def url(self) -> str:
        assert self._server is not None, "the proxy is not running"
        return self._server.url

    def add_fault(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        exact: bool = False,
        path_end: str | None = None,
    ) -> None:
        """Apply `fault` to the next `times` requests with `method` and a path under `path`
        (equal to `path` with `exact`; ending with `path_end` when given)."""
        with self._lock:
            self._rules.append(_Rule(fault, method, path, times, exact, path_end))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()
            self._chaos = None

    def chaos(
        self,
        rate: float,
        *,
        seed: int = 0,
        latency: float = 0.2,
        mix: Mapping[str, float] | None = None,
    ) -> None:
        """Inject a random fault into a share `rate` of the requests (see the module
        docstring); latency faults wait up to `latency` seconds. `mix` weighs the kinds
        (`{"500": 2, "429": 1}`: only those, twice as many 500s); by default all evenly.
        Reproducible from `seed`."""
        weights = dict(mix) if mix is not None else dict.fromkeys(_CHAOS_KINDS, 1.0)
        unknown = set(weights) - set(_CHAOS_KINDS)
        assert not unknown, f"unknown fault kinds {unknown}; use {_CHAOS_KINDS}"
        with self._lock:
            self._chaos = (rate, random.Random(seed), latency, weights)

    def start(self) -> FaultProxy:
        self._server = ThreadedServer(self.app, port=self.port)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._http = None  # it belonged to the stopped server's event loop

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.remaining -= 1
                    return rule.fault
            if self._chaos is None:
                return None
            rate, rng, latency, weights = self._chaos
            if rng.random() >= rate:
                return None
            kind = rng.choices(list(weights), weights=list(weights.values()))[0]
            self.injected[kind] += 1
            if kind == "500":
                return Respond(500, {"detail": "chaos", "error_id": "chaos"})
            if kind == "429":
                return Respond(429, {"detail": "chaos: slow down"}, {"Retry-After": "0"})
            if kind == "drop":
                return DropBeforeForward()
            if kind == "lost-answer":
                return DropAfterForward()
            return Delay(rng.uniform(0, latency))

    async def _handle(self, request: Request) -> Response:
        method, path = request.method, request.url.path
        fault = self._take_fault(method, path)
        self.log.append(Seen(method, path, fault))
        if isinstance(fault, Respond):
            return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
        if isinstance(fault, DropBeforeForward):
            return _DropResponse()
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        params = dict(request.query_params.multi_items())
        if isinstance(fault, Transform):
            params.update(fault.params)
        upstream = await self._forward(request, params)
        if isinstance(fault, Transform) and fault.body is not None:
            changed = fault.body(json.loads(upstream.body))
            return JSONResponse(changed, status_code=upstream.status_code)
        if isinstance(fault, DropAfterForward):
            return _DropResponse()
        return upstream

    async def _forward(self, request: Request, params: dict[str, str]) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        if self._http is None:  # made in the server's own event loop, on first use
            self._http = httpx.AsyncClient(timeout=60)
        answer = await self._http.request(
            request.method,
            self.upstream + request.url.path,
            params=params,
            headers=headers,
            content=await request.body(),
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=kept)


#: What `chaos` injects, drawn evenly: a 500, a 429, a dropped connection, a lost answer, latency.
_CHAOS_KINDS = ("500", "429", "drop", "lost-answer", "latency")

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class _DropResponse(Response):
    """A response that starts, sends a little, and then breaks off: uvicorn closes the
    connection, and the client sees its answer lost."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise _DroppedConnection


class ThreadedServer:
    """Run an ASGI app with uvicorn on 127.0.0.1 and `port` (0: a free one), in a thread."""

    def __init__(self, app: Any, *, port: int = 0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        host, port = self._socket.getsockname()
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return
            if not self._thread.is_alive():
                raise RuntimeError("the test server stopped while starting")
            threading.Event().wait(0.01)
        raise RuntimeError("the test server did not start within 5 seconds")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """`FaultProxy(upstream)`, started for the `with` block."""
    with FaultProxy(upstream) as proxy:
        yield proxy
