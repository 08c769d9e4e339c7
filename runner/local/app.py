"""The Starlette app: `schemas/sieve-openapi.yml` over HTTP, backed by a `LocalBackend`.

Routes, all under `/v2`: `POST /push`, `GET /jobs`, `GET /jobs/{job_id}`,
`DELETE /jobs/{job_id}`, `GET /functions/{owner_name}/{function_name}` (the spec); what the live
service serves beyond the spec, `GET /functions/{owner_name}/{function_name}/versions[/{version}]`
and `GET /user/concurrency`; plus
`GET /files/{token}/{name}` (stored output files; no key needed, the token is the secret) and
`GET /_stats` (request counters for tests). Errors are `{"detail": ...}` bodies with the status
codes the spec documents; validation problems are FastAPI-style 422 lists; a body over the
backend's `max_request_bytes` is a 413, read no further. The API key is compared in constant
time (`hmac.compare_digest`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pluggy
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from runner.errors import ApiError
from runner.local.backend import LocalBackend
from runner.local.store import TERMINAL
from runner.local.typemap import problem

logger = logging.getLogger("sievefile.local")

UNAUTHORIZED = "Unauthorized - valid API Key required."
#: How long `GET /v2/jobs/{id}/await` blocks before answering 408, as the live service.
AWAIT_TIMEOUT = 600.0
# SQLite integers are 64-bit; anything larger cannot be an offset or a limit.
_MAX_QUERY_INT = 2**62


def create_app(
    backend: LocalBackend | None = None,
    *,
    plugin_manager: pluggy.PluginManager | None = None,
    close_backend: bool | None = None,
    **backend_options: Any,
) -> Starlette:
    """The ASGI app for `backend`, or for a new LocalBackend built from the options.

    The app's lifespan (when the server runs one) starts the backend, and at shutdown closes
    it if `close_backend`, which defaults to whether the app built the backend itself.
    """
    owns_backend = backend is None if close_backend is None else close_backend
    if backend is None:
        backend = LocalBackend(plugin_manager=plugin_manager, **backend_options)
    served = backend

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        served.start()
        yield
        if owns_backend:
            await asyncio.to_thread(served.close)

    def authorize(request: Request, endpoint: str, job_id: str | None = None) -> None:
        """Count the request and check the key.

        Unknown query parameters are ignored, as the live service (FastAPI) ignores them.
        """
        served.stats.count_request(endpoint, job_id)
        expected = served.api_key
        if expected is None:
            return
        given = request.headers.get("x-api-key", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, UNAUTHORIZED)

    async def push(request: Request) -> Response:
        authorize(request, "POST /push")
        return JSONResponse(served.push(await _json_body(request, served.max_request_bytes)))

    async def list_jobs(request: Request) -> Response:
        authorize(request, "GET /jobs")
        limit = _int_query(request, "limit", 500, minimum=1)
        offset = _int_query(request, "offset", 0, minimum=0)
        status = request.query_params.get("status", "")
        page = served.jobs_text(limit=limit, offset=offset, status=status)
        return Response(page, media_type="application/json")

    async def get_job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        authorize(request, "GET /jobs/{job_id}", job_id)
        offset = _int_query(request, "offset", 0, minimum=0)
        return JSONResponse(served.job(job_id, offset))

    async def job(request: Request) -> Response:
        if request.method == "DELETE":
            return await cancel_job(request)
        return await get_job(request)

    async def await_job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        authorize(request, "GET /jobs/{job_id}/await", job_id)
        offset = _int_query(request, "offset", 0, minimum=0)
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()

        def settle(result: asyncio.Future[None]) -> None:
            if not result.done():
                result.set_result(None)

        def listener(job: dict[str, Any]) -> None:
            if job.get("id") == job_id and job.get("status") in TERMINAL:
                loop.call_soon_threadsafe(settle, ended)

        remove = served.add_listener(listener)
        try:
            # Read after listening, so an end between the two is never missed.
            if served.job(job_id, offset)["status"] not in TERMINAL:
                await asyncio.wait_for(ended, AWAIT_TIMEOUT)
        except asyncio.TimeoutError:
            return JSONResponse({"detail": "Request timeout."}, status_code=408)
        finally:
            remove()
        return JSONResponse(served.job(job_id, offset))

    async def cancel_job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        authorize(request, "DELETE /jobs/{job_id}", job_id)
        return JSONResponse(served.cancel(job_id))

    async def get_function(request: Request) -> Response:
        authorize(request, "GET /functions/{owner_name}/{function_name}")
        params = request.path_params
        return JSONResponse(served.function(params["owner_name"], params["function_name"]))

    async def get_version(request: Request) -> Response:
        authorize(request, "GET /functions/{owner_name}/{function_name}/versions/{version}")
        params = request.path_params
        return JSONResponse(
            served.function_version(
                params["owner_name"], params["function_name"], params["version"]
            )
        )

    async def list_versions(request: Request) -> Response:
        authorize(request, "GET /functions/{owner_name}/{function_name}/versions")
        limit = _int_query(request, "limit", 100, minimum=1)
        offset = _int_query(request, "offset", 0, minimum=0)
        params = request.path_params
        return JSONResponse(
            served.function_versions(
                params["owner_name"], params["function_name"], limit=limit, offset=offset
            )
        )

    async def concurrency(request: Request) -> Response:
        authorize(request, "GET /user/concurrency")
        return JSONResponse(served.concurrency())

    async def get_file(request: Request) -> Response:
        served.stats.count_request("GET /files/{token}/{name}")
        params = request.path_params
        return FileResponse(served.stored_file(params["token"], params["name"]))

    async def stats(request: Request) -> Response:
        authorize(request, "GET /_stats")
        return JSONResponse(served.stats.snapshot())

    routes = [
        Route("/v2/push", push, methods=["POST"]),
        Route("/v2/jobs", list_jobs, methods=["GET"]),
        # One route for both methods, so a 405 lists both in `Allow`.
        Route("/v2/jobs/{job_id}", job, methods=["GET", "DELETE"]),
        Route("/v2/jobs/{job_id}/await", await_job, methods=["GET"]),
        Route("/v2/functions/{owner_name}/{function_name}", get_function, methods=["GET"]),
        Route(
            "/v2/functions/{owner_name}/{function_name}/versions",
            list_versions,
            methods=["GET"],
        ),
        Route(
            "/v2/functions/{owner_name}/{function_name}/versions/{version}",
            get_version,
            methods=["GET"],
        ),
        Route("/v2/user/concurrency", concurrency, methods=["GET"]),
        Route("/v2/files/{token}/{name}", get_file, methods=["GET", "HEAD"]),
        Route("/v2/_stats", stats, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.backend = backend
    return app


async def _json_body(request: Request, limit: int) -> Any:
    raw = await _capped_body(request, limit)
    if not raw.strip():
        raise ApiError(422, [problem(["body"], "Field required", "missing", None)])
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        position = getattr(exc, "pos", 0)
        raise ApiError(
            422, [problem(["body", position], f"JSON decode error: {exc}", "json_invalid", {})]
        ) from None


async def _capped_body(request: Request, limit: int) -> bytes:
    """The request body, read no further than `limit` bytes: ApiError(413) beyond."""
    too_large = ApiError(413, f"Request body too large: the limit is {limit} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        # the client went away mid-request (it was killed): nothing was done, nobody listens
        raise ApiError(400, "The client disconnected before sending its whole request.") from None
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would make the job unreadable later.
    raise ValueError(f"{name} is not valid JSON")


def _int_query(request: Request, name: str, default: int, *, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        message = "Input should be a valid integer, unable to parse string as an integer"
        raise ApiError(422, [problem(["query", name], message, "int_parsing", raw)]) from None
    if value < minimum:
        message = f"Input should be greater than or equal to {minimum}"
        raise ApiError(422, [problem(["query", name], message, "greater_than_equal", raw)])
    if value > _MAX_QUERY_INT:
        message = f"Input should be less than or equal to {_MAX_QUERY_INT}"
        raise ApiError(422, [problem(["query", name], message, "less_than_equal", raw)])
    return value


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    error_id = str(uuid.uuid4())
    logger.error(
        "error_id %s: %s %s failed", error_id, request.method, request.url.path, exc_info=exc
    )
    return JSONResponse({"detail": "Internal server error.", "error_id": error_id}, status_code=500)
