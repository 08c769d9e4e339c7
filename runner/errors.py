"""Every exception sievefile raises on purpose, drawn in one place.

```
SievefileError                 exit 1 unless a subclass says otherwise
├── ConfigError                exit 2: bad flags, settings or environment
├── ManifestError              exit 1: a manifest problem, with file:line:column
├── ValidationError            exit 1: inputs that do not match a function's schema
├── BackendError               exit 1: the Sieve API (real or local) could not be used
│   ├── ApiError               an HTTP error response: status, detail, error_id
│   ├── ResponseError          an answer it cannot use: a redirect, wrong types, too much
│   └── PushOutcomeUnknown     a push was sent but its answer was lost: the job may exist
├── LocalFunctionError         exit 1: a local function could not do its work (bad media, ...)
├── DeliveryError              a sink or notifier could not deliver: wait, or do not retry
├── RunError                   exit 1: a run finished with failed jobs
└── Interrupted                exit 130: the user pressed Ctrl-C
```

They subclass `click.ClickException` so a command can raise them as they are; the CLI prints
`error: <message>` and exits with `exit_code`, never a traceback (unless `--debug`).
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

import click

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
#: Every job finished, but some outputs or notifications were not delivered (resume retries).
EXIT_UNDELIVERED = 3
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class SourceLocation:
    """Where in a file something was written; line and column count from 1."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class SievefileError(click.ClickException):
    """The root of sievefile's errors. `str(error)` is the message a user sees."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


class ConfigError(SievefileError):
    """Flags, settings or environment that cannot work together."""

    exit_code = EXIT_USAGE


class ManifestError(SievefileError):
    """A problem in a manifest, located in its source.

    `problems` holds every problem found (a loader collects them all rather than stopping at
    the first); the message lists each on its own line.
    """

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        job: str | None = None,
        key_path: str | None = None,
        problems: Sequence[ManifestError] = (),
    ) -> None:
        self.location = location
        self.job = job
        self.key_path = key_path
        self.detail = message
        self.problems: tuple[ManifestError, ...] = tuple(problems) or (self,)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) > 1 or self.problems[0] is not self:
            return "\n".join(p._render_one() for p in self.problems)
        return self._render_one()

    def _render_one(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        where = []
        if self.job:
            where.append(f"job {self.job!r}")
        if self.key_path:
            where.append(self.key_path)
        context = f"{', '.join(where)}: " if where else ""
        return f"{prefix}{context}{self.detail}"


class ValidationError(SievefileError):
    """Inputs that a function's schema rejects, located like a ManifestError where known."""

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        job: str | None = None,
        input_path: str | None = None,
    ) -> None:
        self.location = location
        self.job = job
        self.input_path = input_path
        self.detail = message
        prefix = f"{location}: " if location else ""
        where = ", ".join(
            part for part in (f"job {job!r}" if job else "", input_path or "") if part
        )
        super().__init__(f"{prefix}{where + ': ' if where else ''}{message}")


class BackendError(SievefileError):
    """The Sieve API could not be reached or used (connection, protocol, configuration)."""


class ResponseError(BackendError):
    """The Sieve API answered, but with something sievefile cannot use: a redirect, a wrong
    type, a missing field, a status it does not know, paging that never ends, too much."""


class ApiError(BackendError):
    """The Sieve API answered with an error status.

    `detail` is the body's `detail` (a string, or FastAPI's list of `{loc, msg, type}`);
    `error_id` is what Sieve asks you to quote to support for a 5xx; `hint` says what to do
    (e.g. which API key a 401 refused).
    """

    def __init__(
        self,
        status_code: int,
        detail: Any,
        *,
        method: str = "",
        url: str = "",
        error_id: str | None = None,
        hint: str = "",
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.method = method
        self.url = url
        self.error_id = error_id
        self.hint = hint
        request = f"{method} {url} " if method else ""
        quoted = f" (error_id {error_id}; quote it to Sieve support)" if error_id else ""
        advice = f" ({hint})" if hint else ""
        super().__init__(f"{request}returned {status_code}: {_describe(detail)}{quoted}{advice}")


def _describe(detail: Any) -> str:
    if isinstance(detail, list):
        lines = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(part) for part in item.get("loc", []))
                lines.append(f"{loc}: {item.get('msg', item)}" if loc else str(item.get("msg")))
            else:
                lines.append(str(item))
        return "; ".join(lines)
    return str(detail)


class PushOutcomeUnknown(BackendError):
    """A push may have reached the service, but its answer was lost.

    Retrying blindly could create the job twice, so the client never does; whoever pushed
    reconciles (look the job up by what it knows) or reports it. `cause` says what was lost.
    """

    def __init__(self, function: str, cause: str) -> None:
        self.function = function
        self.cause = cause
        super().__init__(
            f"push of {function} may or may not have created a job ({cause}); it was not "
            "retried, to avoid running the job twice"
        )


class LocalFunctionError(SievefileError):
    """A local function could not do its work: unreadable media, an ffmpeg failure, ...

    The local backend records the message as the job's `error`.
    """


class DeliveryError(SievefileError):
    """What a sink's `deliver` or a notifier's `notify` raises to say how sievefile should try
    again. Any other exception is tried again as the delivery policy says (4 tries, backoff).

    `retry_after`: seconds the receiver asked to be left alone (an HTTP 429 or 503 with
    `Retry-After`): the next try waits at least that long, or, when that is longer than a run
    waits (`DeliveryPolicy.max_retry_after`, 60 s), there is no next try. `permanent`: no try
    can succeed (the receiver refused the request itself: a 404, a bad token, a recipient that
    does not exist): not tried again. Either way the message is what the run reports.
    `DeliveryError.for_http_answer` builds one from an HTTP answer.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = None if retry_after is None else max(0.0, retry_after)
        self.permanent = permanent

    @classmethod
    def for_http_answer(
        cls, message: str, status: int, retry_after: str | None = None
    ) -> DeliveryError:
        """The error for an HTTP receiver's answer `status` (`retry_after`: its Retry-After
        header, seconds or an HTTP date). A 3xx or a 4xx other than 408, 425 and 429 is
        permanent: the same request would get the same answer; a 429 or 503 waits as long as
        Retry-After says; anything else is tried again as usual."""
        if status in (429, 503):
            return cls(message, retry_after=parse_retry_after(retry_after))
        permanent = 300 <= status < 500 and status not in (408, 425, 429)
        return cls(message, permanent=permanent)


def parse_retry_after(value: str | None) -> float | None:
    """An HTTP `Retry-After` value in seconds from now (it may be a number or an HTTP date);
    None when absent or unreadable."""
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


class RunError(SievefileError):
    """A run ended with at least one failed job."""


class Interrupted(SievefileError):
    """The user interrupted the command (Ctrl-C)."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str = "interrupted") -> None:
        super().__init__(message)
