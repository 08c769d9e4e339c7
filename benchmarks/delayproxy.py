"""A delaying, counting HTTP proxy in front of a Sieve API, for the waiting benchmarks.

    python -m benchmarks.delayproxy --upstream http://127.0.0.1:8000 [--delay 0.04]
                                    [--seed-only] [--port 0]

Every request waits half of `--delay` before it is forwarded and half after the answer (a
nearby service: about 40 ms a round trip), and is counted by endpoint. `--seed-only` answers
404 `{"detail": "Not Found"}` (after the delay) for everything outside the seed spec's five
operations, as an implementation without `/await` or `/user/concurrency` would. Prints
`proxy on http://127.0.0.1:PORT` once listening. `GET /_proxy/stats` answers the counters
(not delayed, not counted), `POST /_proxy/reset` zeroes them. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
from collections import Counter

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}
_JOB = re.compile(r"^/v2/jobs/[^/]+$")
_AWAIT = re.compile(r"^/v2/jobs/[^/]+/await$")
_FUNCTION = re.compile(r"^/v2/functions/[^/]+/[^/]+$")


def endpoint(method: str, path: str) -> str:
    """`GET /v2/jobs/{id}` and the like: the counter's key for one request."""
    if _AWAIT.match(path):
        return f"{method} /v2/jobs/{{id}}/await"
    if _JOB.match(path):
        return f"{method} /v2/jobs/{{id}}"
    if _FUNCTION.match(path):
        return f"{method} /v2/functions/{{owner}}/{{name}}"
    return f"{method} {path}"


SEED = {
    "POST /v2/push",
    "GET /v2/jobs",
    "GET /v2/jobs/{id}",
    "DELETE /v2/jobs/{id}",
    "GET /v2/functions/{owner}/{name}",
}


def build_app(upstream: str, delay: float, seed_only: bool) -> Starlette:
    counts: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=500)
    client = httpx.AsyncClient(base_url=upstream, timeout=700, limits=limits)

    async def stats(request: Request) -> Response:
        return JSONResponse({"requests": dict(counts), "total": sum(counts.values())})

    async def reset(request: Request) -> Response:
        counts.clear()
        return JSONResponse({"ok": True})

    async def forward(request: Request) -> Response:
        key = endpoint(request.method, request.url.path)
        counts[key] += 1
        await asyncio.sleep(delay / 2)
        if seed_only and key not in SEED:
            await asyncio.sleep(delay / 2)
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        answer = await client.request(
            request.method,
            request.url.path,
            params=request.query_params,
            headers=headers,
            content=await request.body(),
        )
        await asyncio.sleep(delay / 2)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD"]
    return Starlette(
        routes=[
            Route("/_proxy/stats", stats, methods=["GET"]),
            Route("/_proxy/reset", reset, methods=["POST"]),
            Route("/{path:path}", forward, methods=methods),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--delay", type=float, default=0.04)
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)
    host, port = sock.getsockname()
    print(f"proxy on http://{host}:{port}", flush=True)
    app = build_app(args.upstream.rstrip("/"), args.delay, args.seed_only)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
