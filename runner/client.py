"""The async Sieve API client: one class for the real service, `sievefile serve`, and the
in-process local backend alike (reached through `httpx.ASGITransport`).

Every operation of the API has a method; each returns the decoded JSON body. Failures become
`runner.errors` exceptions: `ApiError` for an error status (with the body's `detail` and
`error_id`), `BackendError` when the service cannot be reached, and `PushOutcomeUnknown` when a
push may have created a job whose answer was lost.

Retries (see `RetryPolicy`): connect errors, read timeouts and dropped connections, 429 (after
its `Retry-After`) and 5xx are retried with exponential backoff and jitter, up to
`max_attempts` tries. `POST /v2/push` is the exception: it is retried only when the request
certainly never reached the service (a connect error) or the service explicitly refused it
(429). Anything else after sending (a lost answer, a 5xx) may mean the job exists, so the client
raises `PushOutcomeUnknown` instead of risking a duplicate job.

Time and randomness are injectable (`sleep`, `jitter`) so the retry logic is tested without
waiting. The API key is sent in the `X-API-Key` header and nowhere else: never in `repr`, logs
or error messages.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx

from runner import __version__
from runner.errors import ApiError, BackendError, PushOutcomeUnknown

logger = logging.getLogger("sievefile.client")

DEFAULT_API_URL = "https://mango.sievedata.com"
API_PREFIX = "/v2"
#: Job statuses after which nothing changes any more.
FINAL_STATUSES = frozenset({"finished", "error", "cancelled"})

Sleep = Callable[[float], Awaitable[None]]
Jitter = Callable[[float], float]
Json = dict[str, Any]


def equal_jitter(delay: float) -> float:
    """A random delay between half of `delay` and all of it (spreads out retrying clients)."""
    return delay / 2 + random.uniform(0, delay / 2)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries: `max_attempts` tries in all, the n-th retry waiting
    `jitter(min(max_delay, base_delay * 2**(n-1)))` seconds, or longer when a 429's
    `Retry-After` asks for it (capped at `max_retry_after`)."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0

    def backoff(self, retry: int) -> float:
        """The delay before retry number `retry` (1 for the first retry), before jitter."""
        return min(self.max_delay, self.base_delay * 2 ** (retry - 1))


@dataclass(frozen=True)
class JobPage:
    """One page of `GET /v2/jobs`: the jobs, and the offset of the next page (None at the end)."""

    jobs: list[Json]
    next_offset: int | None


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP exchange as a request observer sees it: never a header, so never the key.

    `path` is the URL's path and query (`/v2/jobs?status=processing`); `seconds` runs from
    sending the request to its response's headers.
    """

    method: str
    path: str
    status: int
    seconds: float
    #: Whether the request carried the API key (its value is never part of the record).
    key_sent: bool = False


RequestObserver = Callable[[RequestRecord], None]


# Exceptions that mean the request never left this machine: safe to retry even a push.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Exceptions after the request may have been sent: retried, except for a push.
_MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError,
               httpx.RemoteProtocolError)  # fmt: skip


class SieveClient:
    """An async client of the Sieve API at `base_url` (without `/v2`).

    Use it as `async with SieveClient(url, api_key) as client: ...`. `transport` replaces the
    network (an `httpx.ASGITransport` for the in-process local backend). `key_source` says
    where the key came from (`--api-key`, ...), for the advice on a 401. `requests` counts the
    HTTP requests sent per operation (retries included); `request_count` is their total.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        api_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Jitter = equal_jitter,
        timeout: float = 30.0,
        key_source: str | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._key_source = key_source
        self.retry = retry or RetryPolicy()
        self.requests: Counter[str] = Counter()
        self._api_key = api_key
        self._sleep = sleep
        self._jitter = jitter
        headers = {"User-Agent": f"sievefile/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    def _auth_hint(self, status: int) -> str:
        """What to do about a 401: which key was refused, or that none was sent."""
        if status != 401:
            return ""
        if not self._api_key:
            return "no API key was sent; pass --api-key or set SIEVE_API_KEY"
        return f"the API key from {self._key_source or 'the caller'} was refused; check it"

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"SieveClient(base_url={self.base_url!r}, api_key={key})"

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, every operation and retry included."""
        return sum(self.requests.values())

    def observe_requests(self, observer: RequestObserver) -> None:
        """Call `observer` after every HTTP response (retries included), e.g. for
        `run --verbose`. It sees method, path, status and time, never the headers."""

        # httpx event hooks, so the request path itself (and its retries) stays as it is
        async def sent(request: httpx.Request) -> None:
            request.extensions["sievefile_sent"] = time.perf_counter()

        async def answered(response: httpx.Response) -> None:
            request = response.request
            began = request.extensions.get("sievefile_sent", time.perf_counter())
            path = request.url.raw_path.decode("ascii", "replace")
            seconds = time.perf_counter() - began
            key_sent = "x-api-key" in request.headers
            observer(RequestRecord(request.method, path, response.status_code, seconds, key_sent))

        hooks = self._http.event_hooks
        self._http.event_hooks = {
            "request": [*hooks.get("request", []), sent],
            "response": [*hooks.get("response", []), answered],
        }

    async def __aenter__(self) -> SieveClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- operations ---------------------------------------------------------------------------

    async def get_function(self, owner: str, name: str) -> Json:
        """`GET /v2/functions/{owner}/{name}`: the function's metadata and latest version."""
        path = f"/functions/{_segment(owner)}/{_segment(name)}"
        return await self._call("get_function", "GET", path)

    # -- beyond the seed spec: what the live service also serves. Each answers None when the
    # backend does not serve the endpoint (a 404 for the path, or 405), so callers fall back.

    async def get_function_version(self, owner: str, name: str, version: str) -> Json | None:
        """`GET /v2/functions/{owner}/{name}/versions/{version}`: that version's metadata
        (`id`, `inputs`, `outputs`, ...). None when the backend lacks the endpoint; an
        `ApiError` (404) when it has the endpoint but not the version."""
        path = f"/functions/{_segment(owner)}/{_segment(name)}/versions/{_segment(version)}"
        return await self._optional("get_function_version", path)

    async def get_concurrency(self) -> Json | None:
        """`GET /v2/user/concurrency`: the organisation's `max_concurrency` and its jobs now
        (`num_current`, `num_processing`, `num_queued`, `num_limited`); None when the backend
        lacks the endpoint."""
        # One try: the report is advisory, and retrying a failing one would hold a run up.
        return await self._optional("get_concurrency", "/user/concurrency", max_attempts=1)

    async def _optional(
        self, operation: str, path: str, *, max_attempts: int | None = None
    ) -> Json | None:
        try:
            return await self._call(operation, "GET", path, max_attempts=max_attempts)
        except ApiError as error:
            if endpoint_missing(error):
                return None
            raise

    async def push(
        self,
        function: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        function_id: str | None = None,
        webhooks: Sequence[Mapping[str, str]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Json:
        """`POST /v2/push`: start a job of `function` ("owner/name[:version]") or `function_id`.

        Returns the push response (`id`, `status`, ...). Never retried once the request may
        have reached the service: raises `PushOutcomeUnknown` when its outcome was lost.
        """
        if (function is None) == (function_id is None):
            raise ValueError("push needs exactly one of function and function_id")
        body: Json = {"inputs": dict(inputs or {})}
        if function is not None:
            body["function"] = function
        else:
            body["id"] = function_id
        if webhooks is not None:
            body["webhooks"] = [dict(hook) for hook in webhooks]
        if env is not None:
            body["env"] = dict(env)
        return await self._call(
            "push", "POST", "/push", json=body, idempotent=False, label=function or function_id
        )

    async def get_job(self, job_id: str, offset: int = 0) -> Json:
        """`GET /v2/jobs/{id}`: the job, skipping its first `offset` outputs."""
        params = {"offset": offset} if offset else None
        return await self._call("get_job", "GET", f"/jobs/{_segment(job_id)}", params=params)

    async def list_jobs(
        self, status: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> JobPage:
        """`GET /v2/jobs`: one page of jobs (newest first), optionally only those in `status`."""
        params: dict[str, Any] = {"offset": offset}
        if status:
            params["status"] = status
        if limit is not None:
            params["limit"] = limit
        body = await self._call("list_jobs", "GET", "/jobs", params=params)
        jobs = body.get("data")
        if not isinstance(jobs, list):
            raise BackendError(f"GET {self.base_url}{API_PREFIX}/jobs answered without a data list")
        next_offset = body.get("next_offset")
        has_next = isinstance(next_offset, int) and next_offset >= 0
        return JobPage(jobs=jobs, next_offset=next_offset if has_next else None)

    async def iter_jobs(
        self, status: str | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[Json]:
        """Every job (optionally only those in `status`), following `next_offset` page by page.

        The service decides the real page size; a job that shifts onto the next page while
        paging (new jobs arrive at the front) is yielded once.
        """
        seen: set[str] = set()
        offset = 0
        while True:
            page = await self.list_jobs(status, limit=page_size, offset=offset)
            for job in page.jobs:
                job_id = job.get("id")
                if job_id in seen:
                    continue
                if isinstance(job_id, str):
                    seen.add(job_id)
                yield job
            # A next offset that does not move forward would loop for ever.
            if page.next_offset is None or page.next_offset <= offset or not page.jobs:
                return
            offset = page.next_offset

    async def cancel_job(self, job_id: str) -> Json:
        """`DELETE /v2/jobs/{id}`: cancel a queued or running job; returns `{"message": ...}`."""
        return await self._call("cancel_job", "DELETE", f"/jobs/{_segment(job_id)}")

    async def wait_for_job(
        self, job_id: str, *, interval: float = 0.2, max_interval: float = 5.0
    ) -> Json:
        """Poll `GET /v2/jobs/{id}` until the job is finished, failed or cancelled; return it.

        The interval grows by half each poll up to `max_interval`. For one job at a time (the
        `push --wait` command); the executor watches many jobs through the list endpoint.
        """
        while True:
            job = await self.get_job(job_id)
            if job.get("status") in FINAL_STATUSES:
                return job
            await self._sleep(interval)
            interval = min(max_interval, interval * 1.5)

    # -- transport ----------------------------------------------------------------------------

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
        label: str | None = None,
        max_attempts: int | None = None,
    ) -> Json:
        url = f"{self.base_url}{API_PREFIX}{path}"
        attempts = max_attempts or self.retry.max_attempts
        attempt = 0
        while True:
            attempt += 1
            last_try = attempt >= attempts
            self.requests[operation] += 1
            try:
                response = await self._http.request(method, path, params=params, json=json)
            except _NOT_SENT as error:
                if last_try:
                    raise BackendError(
                        f"cannot reach {self.base_url}: {_describe_transport(error)} "
                        f"({attempt} attempts)"
                    ) from None
                await self._wait(attempt, None, method, url, _describe_transport(error))
                continue
            except _MAYBE_SENT as error:
                if not idempotent:
                    raise PushOutcomeUnknown(
                        label or "?", f"{_describe_transport(error)} after the request was sent"
                    ) from None
                if last_try:
                    raise BackendError(
                        f"{method} {url} failed: {_describe_transport(error)} ({attempt} attempts)"
                    ) from None
                await self._wait(attempt, None, method, url, _describe_transport(error))
                continue
            except httpx.TransportError as error:
                # Anything else (an unsupported scheme, a proxy failure) fails before sending
                # and would fail the same way again.
                raise BackendError(f"{method} {url} failed: {_describe_transport(error)}") from None

            status = response.status_code
            if status < 400:
                return _json_body(response, method, url)
            failure = _api_error(response, method, url, self._auth_hint(status))
            retryable = status == 429 or status >= 500
            if retryable and not idempotent and status != 429:
                raise PushOutcomeUnknown(label or "?", f"the service answered: {failure}")
            if not retryable or last_try:
                raise failure
            retry_after = _retry_after(response) if status == 429 else None
            await self._wait(attempt, retry_after, method, url, f"answer {status}")

    async def _wait(
        self, attempt: int, retry_after: float | None, method: str, url: str, reason: str
    ) -> None:
        delay = self._jitter(self.retry.backoff(attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry.max_retry_after))
        logger.info(
            "%s %s: %s; retrying in %.2f s (attempt %d of %d)",
            method, url, reason, delay, attempt + 1, self.retry.max_attempts,
        )  # fmt: skip
        await self._sleep(delay)


def endpoint_missing(error: ApiError) -> bool:
    """Whether an error says the backend has no such endpoint (rather than no such object).

    A 405, or a 404 with the web framework's own "Not Found" (FastAPI and Starlette send
    `{"detail": "Not Found"}` for a path no route matches; a plain web server an HTML page):
    the API's own 404s name what is missing ("Function not found.", "Version not found.").
    """
    if error.status_code == 405:
        return True
    return error.status_code == 404 and str(error.detail).startswith("Not Found")


def normalize_base_url(url: str) -> str:
    """`url` without a trailing slash or `/v2` (users paste either form)."""
    url = url.strip().rstrip("/")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url


def _segment(value: str) -> str:
    """`value` escaped as one URL path segment (an id with `/` or `?` stays one segment)."""
    return quote(value, safe="")


def _describe_transport(error: httpx.TransportError) -> str:
    kind = type(error).__name__
    text = str(error)
    return f"{kind}: {text}" if text else kind


def _json_body(response: httpx.Response, method: str, url: str) -> Json:
    try:
        body = response.json()
    except ValueError:
        raise BackendError(
            f"{method} {url} answered {response.status_code} with a body that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise BackendError(f"{method} {url} answered with JSON that is not an object")
    return body


def _api_error(response: httpx.Response, method: str, url: str, hint: str = "") -> ApiError:
    detail: Any = response.reason_phrase or "no detail"
    error_id: str | None = None
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        if "html" in response.headers.get("content-type", ""):
            # a web server or proxy, not the API: its page would bury the point
            detail = f"{detail} (an HTML page, not the Sieve API's JSON: is the URL a Sieve API?)"
        elif text:
            detail = text[:500]
    else:
        if isinstance(body, dict):
            detail = body.get("detail", body.get("message", detail))
            raw_id = body.get("error_id")
            error_id = str(raw_id) if raw_id is not None else None
        else:
            detail = body
    return ApiError(
        response.status_code, detail, method=method, url=url, error_id=error_id, hint=hint
    )


def _retry_after(response: httpx.Response) -> float | None:
    """The `Retry-After` header in seconds (it may be a number or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
