"""The typed records hooks receive and the objects plugins register: the plugin author's API.

Everything here is re-exported by `runner` (import from there: `from runner import JobRecord`).
Records are frozen snapshots of what happened, never the scheduler's live state, and they only
ever gain fields with defaults: a plugin written against one release keeps working.

```
RunInfo          a run: id, manifest, backend, when it started, whether it resumes another
JobRecord        one job instance: name, instance, function, version, job id, status, outputs
OutputRecord     one output of a job: index, name, JSON data, file URL, and `open()` for bytes
RunResult        how a run ended (`summary` in hooks): status, counts, duration, JobRecords
Delivery         one output of one job handed to one sink (what `Sink.deliver` receives)
Notification     one event handed to one notifier (what `Notifier.notify` receives)
SinkKind         a registered sink: name, configuration schema, factory of `Sink`s
NotifierKind     a registered notifier: name, configuration schema, factory of `Notifier`s
PluginContext    what a factory gets besides its configuration (where the manifest lives, ...)
```
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable


class JobStatus(str, enum.Enum):
    """How a job instance ended, as hooks, sinks and notifiers see it (`pushed`: in flight,
    seen only by `job_pushed`)."""

    PUSHED = "pushed"
    FINISHED = "finished"
    ERROR = "error"
    CANCELLED = "cancelled"
    CACHED = "cached"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value

    @property
    def has_outputs(self) -> bool:
        """Finished and cached jobs have outputs to deliver."""
        return self in (JobStatus.FINISHED, JobStatus.CACHED)


#: Event names a `[[notify]]` entry may list in `on` (and `Notification.event` carries).
EVENTS: tuple[str, ...] = (
    "run.started",
    "run.finished",
    "job.finished",
    "job.error",
    "job.cancelled",
    "job.cached",
    "job.skipped",
)
#: What a `[[notify]]` entry listens to when it says nothing.
DEFAULT_EVENTS: tuple[str, ...] = ("run.finished",)


@dataclass(frozen=True)
class RunInfo:
    """A run of a manifest, as `run_started`, `job_*` and `run_finished` receive it.

    `run_id` names the run in `.sievefile/` (None when the run keeps no ledger); `resumed` is
    true for `sievefile run --resume`; `backend` describes the Sieve API the run talks to (a URL
    or "embedded", never a key); `started_at` is seconds since the epoch; `planned_jobs` counts
    the job instances known before the run (a run-time matrix's once it expands, not here).
    """

    run_id: str | None
    manifest: Path
    name: str
    backend: str
    started_at: float
    resumed: bool = False
    planned_jobs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "manifest": str(self.manifest),
            "name": self.name,
            "backend": self.backend,
            "started_at": self.started_at,
            "resumed": self.resumed,
            "planned_jobs": self.planned_jobs,
        }


#: Opens the bytes of a file output for reading (a context manager around a binary stream).
Opener = Callable[[], contextlib.AbstractContextManager[IO[bytes]]]


def _no_bytes() -> contextlib.AbstractContextManager[IO[bytes]]:
    raise ValueError("this output is not a file: use its `data`")


@dataclass(frozen=True)
class OutputRecord:
    """One output of a job: the `data` of the service's output item, in the service's order.

    `name` is `output_<index>` (what Sieve calls a function's outputs); `url` is set for a file
    output (`{"url": ...}`) and `open()` then streams its bytes (from the service's storage, or
    the embedded backend's files), whatever the URL's scheme: a sink never fetches URLs itself.
    """

    index: int
    data: Any
    url: str | None = None
    opener: Opener = field(default=_no_bytes, repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"output_{self.index}"

    @property
    def is_file(self) -> bool:
        return self.url is not None

    def open(self) -> contextlib.AbstractContextManager[IO[bytes]]:
        """A binary stream of a file output's bytes; ValueError for a JSON output."""
        return self.opener()

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "data": self.data, "url": self.url}


@dataclass(frozen=True)
class JobRecord:
    """One job instance of a run.

    `key` is the instance's name in the run (`audio[format=wav]`), `job` the manifest's job
    name (`audio`) and `instance` the part in brackets (`format=wav`, "" without a matrix).
    `function` is `owner/name`, `version` the version pushed (a pin or the lock's; None when
    the service chose its latest). `job_id` is the service's job (None when nothing was pushed;
    for a cached job, the earlier job whose outputs it reuses). `error` says why a job did not
    finish. Times are seconds since the epoch; `duration` is seconds from its first push (or
    its start, for a cached job) to its end.
    """

    key: str
    job: str
    function: str
    status: JobStatus
    instance: str = ""
    version: str | None = None
    job_id: str | None = None
    attempts: int = 0
    outputs: tuple[OutputRecord, ...] = ()
    error: str = ""
    allowed_failure: bool = False
    cached_from: str | None = None
    ended_at: float | None = None
    duration: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "job": self.job,
            "instance": self.instance,
            "function": self.function,
            "version": self.version,
            "status": self.status.value,
            "job_id": self.job_id,
            "attempts": self.attempts,
            "outputs": [output.to_json() for output in self.outputs],
            "error": self.error,
            "allowed_failure": self.allowed_failure,
            "cached_from": self.cached_from,
            "ended_at": self.ended_at,
            "duration": self.duration,
        }


@dataclass(frozen=True)
class DeliveryStats:
    """What the run's sinks and notifiers did: counts, failures, where outputs went."""

    delivered: int = 0
    failed: int = 0
    notified: int = 0
    notify_failed: int = 0
    #: One line per sink: `local: out/2026...` or `s3: s3://bucket/prefix/`.
    destinations: tuple[str, ...] = ()
    #: One line per failed delivery or notification, masked.
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed and not self.notify_failed

    def to_json(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "failed": self.failed,
            "notified": self.notified,
            "notify_failed": self.notify_failed,
            "destinations": list(self.destinations),
            "errors": list(self.errors),
        }


@dataclass(frozen=True)
class RunResult:
    """How a run ended, as `run_finished` and notifiers receive it.

    `status` is `finished` (every job finished or was tolerated), `failed` or `interrupted`;
    `counts` maps each JobStatus value to how many job instances ended so; `duration` is the
    wall time in seconds. `deliveries` is filled once every sink is done (at `run_finished`).
    """

    status: str
    jobs: tuple[JobRecord, ...]
    duration: float
    requests: int = 0
    deliveries: DeliveryStats = field(default_factory=DeliveryStats)

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    @property
    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in JobStatus if status is not JobStatus.PUSHED}
        for job in self.jobs:
            counts[job.status.value] += 1
        return counts

    @property
    def failed(self) -> tuple[JobRecord, ...]:
        """Jobs that ended in error or were cancelled and were not tolerated."""
        return tuple(
            job
            for job in self.jobs
            if job.status in (JobStatus.ERROR, JobStatus.CANCELLED) and not job.allowed_failure
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "counts": self.counts,
            "duration": self.duration,
            "requests": self.requests,
            "deliveries": self.deliveries.to_json(),
            "failed": [job.to_json() for job in self.failed],
        }


@dataclass(frozen=True)
class PluginContext:
    """What a sink or notifier factory receives besides its configuration.

    `manifest_dir` is the folder relative paths in the configuration are taken from; `index` is
    the entry's position in `[[sinks]]` or `[[notify]]` (from 0); `secrets` lists the secret
    strings the configuration holds (never print them: sievefile masks them in what it shows,
    but not in what a plugin writes elsewhere).
    """

    manifest: Path
    manifest_dir: Path
    index: int
    secrets: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Delivery:
    """One output of one job for one sink: what `Sink.deliver` receives."""

    run: RunInfo
    job: JobRecord
    output: OutputRecord

    def placeholders(self) -> dict[str, str]:
        """The values of `{run}`, `{job}`, `{instance}`, `{key}`, `{function}`, `{output}` and
        `{name}` (the manifest's name) for path templates. Unsanitised: a sink that builds paths
        from them must make them safe itself (`runner.safe_path_part`)."""
        return {
            "run": self.run.run_id or "norun",
            "name": self.run.name,
            "job": self.job.job,
            "instance": self.job.instance or "",
            "key": self.job.key,
            "function": self.job.function,
            "output": self.output.name,
        }


@dataclass(frozen=True)
class Notification:
    """One event for one notifier: what `Notifier.notify` receives.

    `event` is one of EVENTS; `job` is set for `job.*` events, `summary` for `run.finished`.
    `to_json()` is the document a webhook notifier posts.
    """

    event: str
    run: RunInfo
    time: float
    job: JobRecord | None = None
    summary: RunResult | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "event": self.event,
            "time": self.time,
            "run": self.run.to_json(),
        }
        if self.job is not None:
            document["job"] = self.job.to_json()
        if self.summary is not None:
            document["summary"] = self.summary.to_json()
        return document


@runtime_checkable
class Sink(Protocol):
    """Stores job outputs somewhere. Made by a SinkKind's factory from one `[[sinks]]` entry.

    `deliver` is called once per (job instance, output) in a worker thread, possibly
    concurrently for different outputs; it returns where the output went (a path or URL, shown
    to the user and kept in the run ledger). Raise on failure: sievefile retries with backoff,
    then reports it; raise `DeliveryError` to say "do not try again" or "wait N seconds".
    Delivering the same output twice must leave the same result (a resume or a retry may
    redeliver): write to a stable name, atomically.
    """

    def deliver(self, delivery: Delivery) -> str: ...


@runtime_checkable
class Notifier(Protocol):
    """Tells someone what happened. Made by a NotifierKind's factory from one `[[notify]]` entry.

    `notify` is called in a worker thread for each event the entry listens to (`on`). Raise on
    failure: sievefile retries with backoff, then reports it; raise `DeliveryError` to say "do
    not try again" or "wait N seconds". Delivery is at least once: a resume or a retry may send
    an event again.
    """

    def notify(self, notification: Notification) -> None: ...


#: Builds a sink from its validated configuration (`use`/`jobs` removed, `${{ env }}` resolved).
SinkFactory = Callable[[Mapping[str, Any], PluginContext], Sink]
#: Builds a notifier from its validated configuration (`use`/`on` removed, `${{ env }}` resolved).
NotifierFactory = Callable[[Mapping[str, Any], PluginContext], Notifier]


@dataclass(frozen=True)
class SinkKind:
    """A kind of sink a plugin offers: `[[sinks]] use = "<name>"`.

    `config_schema` is a JSON Schema (2020-12) for the entry's own keys (without `use` and
    `jobs`); entries are checked against it before anything is pushed. `destination(config)`
    says in one line where outputs go, for the summary (optional).
    """

    name: str
    config_schema: Mapping[str, Any]
    factory: SinkFactory
    description: str = ""
    destination: Callable[[Mapping[str, Any]], str] | None = None


@dataclass(frozen=True)
class NotifierKind:
    """A kind of notifier a plugin offers: `[[notify]] use = "<name>"`.

    `config_schema` is a JSON Schema (2020-12) for the entry's own keys (without `use` and `on`).
    """

    name: str
    config_schema: Mapping[str, Any]
    factory: NotifierFactory
    description: str = ""


class RegisterSink(Protocol):
    """What `register_sinks` receives: call it once per kind."""

    def __call__(self, kind: SinkKind) -> None: ...


class RegisterNotifier(Protocol):
    """What `register_notifiers` receives: call it once per kind."""

    def __call__(self, kind: NotifierKind) -> None: ...


class RegisterFunction(Protocol):
    """What `register_functions` receives: `register(callable, name="owner/name")`.

    `title` defaults to the name and `description` to the docstring's summary; `tags`,
    `readme` and `environment_variables` (`{name, description, default}` items) are metadata.
    """

    def __call__(
        self,
        function: Callable[..., Any],
        name: str,
        *,
        title: str | None = None,
        description: str | None = None,
        tags: Iterable[str] = (),
        readme: str = "",
        environment_variables: Iterable[dict[str, Any]] = (),
    ) -> object: ...


_UNSAFE = frozenset('<>:"/\\|?*')
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)


def safe_path_part(text: str, *, max_length: int = 120) -> str:
    """`text` made into one safe file or folder name, the same on every platform.

    Separators, control characters, NUL and characters Windows forbids become `_`; `.` and
    `..` and leading dots cannot climb or hide; Windows' reserved device names get a `_`
    prefix; the result is at most `max_length` characters and never empty.
    """
    cleaned = "".join(
        "_" if (char in _UNSAFE or ord(char) < 32 or ord(char) == 127) else char for char in text
    )
    cleaned = cleaned.strip().lstrip(".").rstrip(". ")
    if cleaned.split(".")[0].upper() in _RESERVED:
        cleaned = "_" + cleaned
    cleaned = cleaned[:max_length].rstrip(". ")
    return cleaned or "_"
