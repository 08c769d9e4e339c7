"""The webhook receiver of `sievefile run --listen HOST:PORT`: hears jobs end as they end.

`WebhookReceiver(host, port, on_hint, public_url=...)` serves one route with uvicorn, in the
run's own event loop: `POST /hooks/<token>`, where the token is a fresh random secret of this
run (`secrets.token_urlsafe`), so only whoever was given the URL (the service, through the
webhooks of our pushes) can reach it; any other path is a 404. The run registers
`{"type": "job.complete", "url": receiver.url}` with every push.

Webhooks are unsigned, so a delivery is only a hint: `on_hint(job_id)` makes the watcher poll
at once, and the job's end and outputs come from the API, never from the webhook's body.
Bodies are read up to `MAX_BODY` bytes; anything malformed is refused with 400 (the service
stops retrying it), a delivery for a job nobody watches is acknowledged and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Generator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runner.errors import ConfigError

logger = logging.getLogger("sievefile.receiver")

#: A webhook body larger than this is refused (a job.complete body carries outputs).
MAX_BODY = 4 * 1024 * 1024

OnHint = Callable[[str], None]


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (Ctrl-C belongs to the run: cancel, summary), and
    stopped at once by `stop()` rather than at its next tick (uvicorn looks every 0.1 s)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):  # its Date header, its request limits
            counter = (counter + 1) % 864_000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.1)

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` for IPv6) as a host and a port; ConfigError if malformed."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen {value!r}: expected HOST:PORT, such as 127.0.0.1:8787")
    return host, int(port)


class WebhookReceiver:
    """See the module docstring. `await start()`, then `url`; `await aclose()` at the end."""

    def __init__(
        self, host: str, port: int, on_hint: OnHint, *, public_url: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.public_url = public_url.rstrip("/") if public_url else None
        self.deliveries = 0
        self._on_hint = on_hint
        self._token = secrets.token_urlsafe(24)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> None:
        from runner.local.server import bind, socket_url

        sock = bind(self.host, self.port)
        base = self.public_url or socket_url(sock)
        self.url = f"{base}/hooks/{self._token}"
        app = Starlette(routes=[Route("/hooks/{token}", self._receive, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="receiver")
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # raises what stopped it
                raise ConfigError(f"--listen {self.host}:{self.port}: the receiver did not start")
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)

    async def _receive(self, request: Request) -> Response:
        if not hmac.compare_digest(request.path_params["token"].encode(), self._token.encode()):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"detail": "Body too large."}, status_code=413)
        job_id = _job_id(bytes(body))
        if job_id is None:
            return JSONResponse({"detail": "Not a job webhook."}, status_code=400)
        self.deliveries += 1
        self._on_hint(job_id)
        return JSONResponse({"ok": True})


def _job_id(raw: bytes) -> str | None:
    """The `body.job_id` of a webhook (`{"type": ..., "body": {"job_id": ...}}`), if any."""
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    body = payload.get("body") if isinstance(payload, dict) else None
    job_id = body.get("job_id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id or len(job_id) > 200:
        return None
    return job_id
