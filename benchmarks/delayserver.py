"""`sievefile serve` with a per-request delay, for the waiting benchmarks: a nearby service.

    python -m benchmarks.delayserver [--workers 100] [--delay 0.04] [--seed-only]

The local backend (`runner.local`, as `sievefile serve` builds it, database in memory) behind
an ASGI layer in the same process: every request waits half of `--delay` before the API sees
it and half before its answer leaves (40 ms a round trip, 20 ms each way), and is counted by
endpoint. `--seed-only` answers 404 `{"detail": "Not Found"}` (after the delay) for
everything outside the seed spec's five operations, as an implementation without `/await` or
`/user/concurrency` would. No proxy hop: the delay costs no CPU, so the runner does not share
its cores with a proxy (`benchmarks/delayproxy.py` does the same in front of any Sieve API).

Prints `Serving on http://127.0.0.1:PORT` once listening. `GET /_bench/stats` answers the
counters (neither delayed nor counted), `POST /_bench/reset` zeroes them. Binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from benchmarks.delayproxy import SEED, endpoint
from runner.local.app import create_app
from runner.local.server import backend_for_serve, bind, socket_url

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def delayed(app: App, delay: float, seed_only: bool) -> App:
    """`app` with the delay, the seed-only filter and the counters; see the module docstring."""
    counts: Counter[str] = Counter()

    async def answer(send: Send, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(raw))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if path == "/_bench/stats":
            await answer(send, 200, {"requests": dict(counts), "total": sum(counts.values())})
            return
        if path == "/_bench/reset":
            counts.clear()
            await answer(send, 200, {"ok": True})
            return
        key = endpoint(method, path)
        counts[key] += 1
        await asyncio.sleep(delay / 2)
        if seed_only and key not in SEED:
            await asyncio.sleep(delay / 2)
            await answer(send, 404, {"detail": "Not Found"})
            return

        async def send_later(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(delay / 2)
            await send(message)

        await app(scope, receive, send_later)

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.04)
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    backend = backend_for_serve(
        db=":memory:",
        files_dir=None,
        api_key=os.environ.get("SIEVE_API_KEY"),
        workers=args.workers,
        public_url=None,
    )
    sock = bind("127.0.0.1", args.port)
    url = socket_url(sock)
    backend.serve_at(url)
    backend.start()
    app = delayed(create_app(backend, close_backend=True), args.delay, args.seed_only)
    print(f"Serving on {url}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    gc.freeze()  # as runner.local.server.serve does
    try:
        server.run(sockets=[sock])
    finally:
        backend.close()


if __name__ == "__main__":
    main()
