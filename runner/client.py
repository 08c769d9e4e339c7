"""The async Sieve API client: one class for the real service, `sievefile serve`, and the
in-process local backend alike (reached through `httpx.ASGITransport`).

Every operation of the API has a method; each returns the decoded JSON body. Failures become
`runner.errors` exceptions: `ApiError` for an error status (with the body's `detail` and
`error_id`), `BackendError` when the service cannot be reached, `ResponseError` when it answers
something unusable (a redirect, a wrong type, a missing field, too much), and
`PushOutcomeUnknown` when a push may have created a job whose answer was lost.

Retries (see `RetryPolicy`): connect errors, read timeouts and dropped connections, 429 (after
its `Retry-After`) and 5xx are retried with exponential backoff and jitter, starting small
(0.25 s) so a passing fault costs little, until a time budget (2 minutes) is spent. A service
that has never answered this client gets a short budget (10 s): a wrong URL fails fast.
`POST /v2/push` is the exception: it is retried only when the request certainly never reached
the service (a connect error) or the service explicitly refused it (429). Anything else after
sending (a lost answer, a 5xx) may mean the job exists, so the client raises
`PushOutcomeUnknown` instead of risking a duplicate job; the scheduler looks before it pushes
again (`runner.execute.reconcile`).

Every exchange is bounded: `timeout` between bytes, four times that for a whole answer (a
server that trickles forever), `max_response_bytes` for its size. Redirects are never followed:
the API key would go with them to wherever they point.

Time and randomness are injectable (`sleep`, `jitter`, `clock`) so the retry logic is tested
without waiting. The API key is sent in the `X-API-Key` header and nowhere else: never in
`repr`, logs or error messages.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx

from runner import __version__
from runner.errors import (
    ApiError,
    BackendError,
    PushOutcomeUnknown,
    ResponseError,
    parse_retry_after,
)

# the retry defaults live with the `[run]` settings that change them, in one place
from runner.manifest.model import (
    DEFAULT_RETRY_BUDGET,
    DEFAULT_RETRY_DELAY,
    DEFAULT_RETRY_MAX_DELAY,
)
from runner.transport import http_transport

logger = logging.getLogger("sievefile.client")

DEFAULT_API_URL = "https://mango.sievedata.com"
API_PREFIX = "/v2"
#: Job statuses after which nothing changes any more.
FINAL_STATUSES = frozenset({"finished", "error", "cancelled"})

#: The statuses of a job that has not ended ("started" is what older docs call processing).
RUNNING_STATUSES = frozenset({"queued", "processing", "started"})
#: How long a service that never answered this client is retried: a wrong URL fails fast.
FIRST_CONTACT_BUDGET = 10.0
#: The largest answer read (a job with absurdly many or huge outputs is refused, not loaded).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: The most outputs one job may report.
MAX_JOB_OUTPUTS = 10_000
#: Pages of a job list in a row that bring no job not seen yet before listing stops.
MAX_STALE_PAGES = 50

Sleep = Callable[[float], Awaitable[None]]
Jitter = Callable[[float], float]
Clock = Callable[[], float]
Json = dict[str, Any]
#: Told about each HTTP response: method, URL path, status code.
ResponseListener = Callable[[str, str, int], None]
#: How long `await_job` waits for an answer (the live service answers 408 after 10 minutes).
AWAIT_TIMEOUT = 630.0


def equal_jitter(delay: float) -> float:
    """A random delay between half of `delay` and all of it (spreads out retrying clients)."""
    return delay / 2 + random.uniform(0, delay / 2)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries: the n-th retry waits `jitter(min(max_delay, base_delay *
    2**(n-1)))` seconds (0.25 s, 0.5 s, 1 s, ... up to 15 s), or longer when a 429's
    `Retry-After` asks for it (capped at `max_retry_after`). No retry starts once `budget`
    seconds have passed since the first try, or its wait would end past them; a service that
    has never answered gets `first_contact_budget` instead. `max_attempts`, when set, also
    caps the number of tries (1: no retry)."""

    max_attempts: int | None = None
    base_delay: float = DEFAULT_RETRY_DELAY
    max_delay: float = DEFAULT_RETRY_MAX_DELAY
    max_retry_after: float = 300.0
    budget: float = DEFAULT_RETRY_BUDGET
    first_contact_budget: float = FIRST_CONTACT_BUDGET

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
        clock: Clock = time.monotonic,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._key_source = key_source
        self.retry = retry or RetryPolicy()
        self.requests: Counter[str] = Counter()
        self._api_key = api_key
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._max_response_bytes = max_response_bytes
        # a whole answer, however slowly it trickles in, gets this long
        self._deadline = timeout * 4
        # whether the service ever answered: until then connect errors get a short budget
        self._answered = False
        # while noting sends (`note_sends`): each request's "written out" future
        self._unsent: set[asyncio.Future[None]] | None = None
        headers = {"User-Agent": f"sievefile/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            headers=headers,
            transport=transport or http_transport(verify=_tls_context(self.base_url)),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,  # the key would follow them to another origin
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

    def note_sends(self) -> None:
        """Note, from now on, when each request has been written out; see `until_sent`."""
        if self._unsent is None:
            self._unsent = set()

    async def until_sent(self, timeout: float) -> None:
        """Return once every request begun since `note_sends` has been written out to its
        connection (its answer may still be on the way) or has ended, or after `timeout`
        seconds; then stop noting. A caller about to keep the event loop busy (checking a
        manifest) calls it first, so that its requests travel meanwhile."""
        await asyncio.sleep(0)  # the operations just started reach their requests
        unsent, self._unsent = self._unsent, None
        if unsent:
            await asyncio.wait(unsent, timeout=timeout)

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
        label = function or function_id or "?"
        pushed = await self._call("push", "POST", "/push", json=body, idempotent=False, label=label)
        job_id = pushed.get("id")
        if isinstance(job_id, bool) or not isinstance(job_id, (str, int)) or job_id == "":
            # it answered success, so a job may well exist: the caller must look, not push
            raise PushOutcomeUnknown(label, "the service answered without a job id")
        return pushed

    async def get_job(self, job_id: str, offset: int = 0) -> Json:
        """`GET /v2/jobs/{id}`: the job, skipping its first `offset` outputs."""
        params = {"offset": offset} if offset else None
        job = await self._call("get_job", "GET", f"/jobs/{_segment(job_id)}", params=params)
        check_job(job, f"GET {self.base_url}{API_PREFIX}/jobs/{job_id}")
        return job

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
        where = f"GET {self.base_url}{API_PREFIX}/jobs"
        jobs = body.get("data")
        if not isinstance(jobs, list):
            raise ResponseError(f"{where} answered without a data list")
        if not all(isinstance(job, dict) for job in jobs):
            raise ResponseError(f"{where} answered a data list holding something not a job object")
        next_offset = body.get("next_offset")
        if next_offset is None or next_offset == -1:
            return JobPage(jobs=jobs, next_offset=None)
        if isinstance(next_offset, bool) or not isinstance(next_offset, int) or next_offset < 0:
            raise ResponseError(
                f"{where} answered next_offset {next_offset!r}: expected an offset or -1"
            )
        return JobPage(jobs=jobs, next_offset=next_offset)

    async def iter_jobs(
        self, status: str | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[Json]:
        """Every job (optionally only those in `status`), following `next_offset` page by page.

        The service decides the real page size; a job that shifts onto the next page while
        paging (new jobs arrive at the front) is yielded once. Paging that would never end is
        a `ResponseError`, not a silent stop (a job missed there could be pushed twice): a
        `next_offset` that does not move forward, or `MAX_STALE_PAGES` pages in a row that
        bring nothing new.
        """
        seen: set[str] = set()
        offset = 0
        stale = 0
        while True:
            page = await self.list_jobs(status, limit=page_size, offset=offset)
            fresh = 0
            for job in page.jobs:
                job_id = job.get("id")
                if job_id in seen:
                    continue
                fresh += 1
                if isinstance(job_id, str):
                    seen.add(job_id)
                yield job
            if page.next_offset is None or not page.jobs:
                return
            where = f"GET {self.base_url}{API_PREFIX}/jobs"
            if page.next_offset <= offset:
                raise ResponseError(
                    f"{where}: its paging does not advance (next_offset {page.next_offset} "
                    f"after offset {offset}); sievefile stopped listing"
                )
            stale = 0 if fresh else stale + 1
            if stale >= MAX_STALE_PAGES:
                raise ResponseError(
                    f"{where}: {stale} pages in a row brought no job not seen already; "
                    "its paging never ends, sievefile stopped listing"
                )
            offset = page.next_offset

    async def cancel_job(self, job_id: str) -> Json:
        """`DELETE /v2/jobs/{id}`: cancel a queued or running job; returns `{"message": ...}`."""
        return await self._call("cancel_job", "DELETE", f"/jobs/{_segment(job_id)}")

    async def wait_for_job(
        self, job_id: str, *, interval: float = 0.2, max_interval: float = 5.0
    ) -> Json:
        """Poll `GET /v2/jobs/{id}` until the job is finished, failed or cancelled; return it.

        The interval grows by half each poll up to `max_interval`. For one job at a time (the
        `push --wait` command); the executor watches many jobs through the list endpoint. A
        status sievefile does not know is a `ResponseError`, not a wait that never ends.
        """
        while True:
            job = await self.get_job(job_id)
            if job.get("status") in FINAL_STATUSES:
                return job
            check_running(job, job_id)
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
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            self.requests[operation] += 1
            try:
                response = await self._exchange(method, path, params, json)
            except _NOT_SENT as error:
                reason = _describe_transport(error)
                delay = self._delay(attempt, attempts, started, None, contact=True)
                if delay is None:
                    raise BackendError(
                        f"cannot reach {self.base_url}: {reason} ({self._tries(attempt, started)})"
                    ) from None
                await self._wait(delay, attempt, method, url, reason)
                continue
            except _MAYBE_SENT as error:
                reason = _describe_transport(error)
                if not idempotent:
                    raise PushOutcomeUnknown(
                        label or "?", f"{reason} after the request was sent"
                    ) from None
                delay = self._delay(attempt, attempts, started, None)
                if delay is None:
                    raise BackendError(
                        f"{method} {url} failed: {reason} ({self._tries(attempt, started)})"
                    ) from None
                await self._wait(delay, attempt, method, url, reason)
                continue
            except _TooLarge:
                message = f"answered with more than {self._max_response_bytes:,} bytes"
                if not idempotent:
                    raise PushOutcomeUnknown(label or "?", f"the service {message}") from None
                raise ResponseError(
                    f"{method} {url} {message}; sievefile did not read it"
                ) from None
            except httpx.TransportError as error:
                # Anything else (an unsupported scheme, a proxy failure) fails before sending
                # and would fail the same way again.
                raise BackendError(f"{method} {url} failed: {_describe_transport(error)}") from None

            self._answered = True
            status = response.status_code
            if 300 <= status < 400:
                raise ResponseError(_redirect_message(response, method, url))
            if status < 400:
                return _json_body(response, method, url)
            failure = _api_error(response, method, url, self._auth_hint(status))
            retryable = status == 429 or status >= 500
            if retryable and not idempotent and status != 429:
                raise PushOutcomeUnknown(label or "?", f"the service answered: {failure}")
            if not retryable:
                raise failure
            retry_after = _retry_after(response) if status == 429 else None
            delay = self._delay(attempt, attempts, started, retry_after)
            if delay is None:
                raise _gave_up(failure, self._tries(attempt, started))
            await self._wait(delay, attempt, method, url, f"answer {status}")

    async def _exchange(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any
    ) -> httpx.Response:
        """Send one request and read its whole answer, within the deadline and size limit."""
        request = self._http.build_request(method, path, params=params, json=json)
        written: asyncio.Future[None] | None = None
        if self._unsent is not None:
            written = asyncio.get_running_loop().create_future()
            self._unsent.add(written)
            request.extensions["trace"] = _on_written(written)

        async def exchange() -> tuple[httpx.Response, bytes]:
            response = await self._http.send(request, stream=True)
            try:
                return response, await _read_capped(response, self._max_response_bytes)
            finally:
                await response.aclose()

        try:
            response, content = await asyncio.wait_for(exchange(), self._deadline)
        except asyncio.TimeoutError:
            # a server trickling bytes never trips the read timeout: the deadline does
            raise httpx.ReadTimeout(
                f"no complete answer within {self._deadline:g} s", request=request
            ) from None
        finally:
            if written is not None and not written.done():
                written.set_result(None)
        # the body was decoded while streaming: the new response must not decode it again
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions=response.extensions,
        )

    def _delay(
        self,
        attempt: int,
        attempts: int | None,
        started: float,
        retry_after: float | None,
        *,
        contact: bool = False,
    ) -> float | None:
        """How long to wait before retry number `attempt`, or None when the policy gives up."""
        policy = self.retry
        if attempts is not None and attempt >= attempts:
            return None
        delay = self._jitter(policy.backoff(attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, policy.max_retry_after))
        budget = policy.budget
        if contact and not self._answered:
            budget = min(budget, policy.first_contact_budget)
        if self._clock() - started + delay > budget:
            return None
        return delay

    def _tries(self, attempt: int, started: float) -> str:
        seconds = self._clock() - started
        return f"{attempt} attempts in {seconds:.1f} s" if attempt > 1 else "1 attempt"

    async def _wait(self, delay: float, attempt: int, method: str, url: str, reason: str) -> None:
        logger.info(
            "%s %s: %s; retrying in %.2f s (attempt %d)", method, url, reason, delay, attempt + 1
        )
        await self._sleep(delay)

    # -- waiting: the live service's long poll, and what the responses say about load --------

    async def await_job(self, job_id: str, *, timeout: float = AWAIT_TIMEOUT) -> Json | None:
        """`GET /v2/jobs/{id}/await`: the job once it has ended (the live service blocks up to
        10 minutes). None when the backend lacks the endpoint (404 for the path, or 405).

        One try, no retries: a caller falls back to polling on any failure. Raises ApiError
        (408 when the job did not end in time, 404 "Job not found.") or BackendError.
        """
        path = f"/jobs/{_segment(job_id)}/await"
        url = f"{self.base_url}{API_PREFIX}{path}"
        self.requests["await_job"] += 1
        try:
            response = await self._http.get(
                path, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0))
            )
        except httpx.TransportError as error:
            raise BackendError(f"GET {url} failed: {_describe_transport(error)}") from None
        if response.status_code >= 400:
            failure = _api_error(response, "GET", url, self._auth_hint(response.status_code))
            if endpoint_missing(failure):
                return None
            raise failure
        return _json_body(response, "GET", url)

    def add_response_listener(self, listener: ResponseListener) -> Callable[[], None]:
        """Call `listener(method, path, status)` for every HTTP response this client gets
        (retries included); returns a function that removes it. The scheduler's congestion
        window hears the service's 429s this way."""

        async def hook(response: httpx.Response) -> None:
            request = response.request
            listener(request.method, request.url.path, response.status_code)

        hooks = self._http.event_hooks
        hooks["response"] = [*hooks.get("response", []), hook]
        self._http.event_hooks = hooks

        def remove() -> None:
            current = self._http.event_hooks
            current["response"] = [h for h in current.get("response", []) if h is not hook]
            self._http.event_hooks = current

        return remove


class _TooLarge(Exception):
    """An answer longer than the client reads."""


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _redirect_message(response: httpx.Response, method: str, url: str) -> str:
    location = response.headers.get("location", "nowhere")
    return (
        f"{method} {url} answered {response.status_code}, a redirect to {location}: sievefile "
        "does not follow redirects of the Sieve API (the API key would go with them); use "
        "the final address as the API URL"
    )


def _gave_up(failure: ApiError, tries: str) -> ApiError:
    """`failure` saying how long it was retried."""
    return ApiError(
        failure.status_code,
        failure.detail,
        method=failure.method,
        url=failure.url,
        error_id=failure.error_id,
        hint="; ".join(part for part in (failure.hint, f"gave up after {tries}") if part),
    )


def job_time(value: Any) -> float | None:
    """A job's timestamp (`created_at`, ...) in epoch seconds; None when missing or not ISO-8601.
    A time without an offset is UTC, as the service's are."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def check_job(job: Json, where: str) -> None:
    """A `ResponseError` naming `where` unless `job` looks like a Job: a string `status`, and
    `outputs` (when present) a list of at most MAX_JOB_OUTPUTS objects."""
    status = job.get("status")
    if not isinstance(status, str):
        raise ResponseError(f"{where} answered a job without a status (got {status!r:.80})")
    outputs = job.get("outputs")
    if outputs is None:
        return
    if not isinstance(outputs, list) or not all(isinstance(item, dict) for item in outputs):
        raise ResponseError(f"{where} answered a job whose outputs are not a list of objects")
    if len(outputs) > MAX_JOB_OUTPUTS:
        raise ResponseError(
            f"{where} answered a job with {len(outputs):,} outputs, more than sievefile "
            f"accepts ({MAX_JOB_OUTPUTS:,})"
        )


def check_running(job: Json, job_id: str) -> None:
    """A `ResponseError` unless `job` (not ended) is in a status that still moves: waiting on
    a status nobody knows could last for ever."""
    status = job.get("status")
    if status not in RUNNING_STATUSES:
        raise ResponseError(
            f"job {job_id} is in status {status!r:.80}, which sievefile does not know "
            f"(known: {', '.join(sorted(RUNNING_STATUSES | FINAL_STATUSES))}); it stopped "
            "waiting for it"
        )


def endpoint_missing(error: ApiError) -> bool:
    """Whether an error says the backend has no such endpoint (rather than no such object).

    A 405, or a 404 with the web framework's own "Not Found" (FastAPI and Starlette send
    `{"detail": "Not Found"}` for a path no route matches; a plain web server an HTML page):
    the API's own 404s name what is missing ("Function not found.", "Version not found.").
    """
    if error.status_code == 405:
        return True
    return error.status_code == 404 and str(error.detail).startswith("Not Found")


def _on_written(written: asyncio.Future[None]) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """An httpcore `trace` extension that resolves `written` once the request is sent."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith(".send_request_body.complete") and not written.done():
            written.set_result(None)

    return trace


def _tls_context(base_url: str) -> ssl.SSLContext | bool:
    """What the client verifies TLS with: the CA bundle for an https:// service. A client of
    an http:// service never speaks TLS (it follows no redirects), so it gets a context that
    trusts nobody instead of loading the bundle (about 45 ms of every run's start)."""
    if base_url.startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


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
    return parse_retry_after(response.headers.get("Retry-After"))
