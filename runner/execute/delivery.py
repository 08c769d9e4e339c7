"""Delivering a run's outputs to sinks and telling notifiers: the `deliver` step of a run.

```python
plan = configure_delivery(manifest, plugin_manager, environ)  # ManifestError: nothing pushed
deliverer = Deliverer(plan, run=run_info, ledger=ledger, ...)
deliverer.start()                 # builds each sink and notifier; notifies run.started
deliverer.job_ended(record)       # per job instance: its outputs to every matching sink
stats = await deliverer.drain()   # every delivery tried (with retries)
await deliverer.run_finished(result)
```
Every (job instance, output, sink) delivery is recorded in the run ledger, delivered or failed,
so a resume redelivers only what is missing. A delivery or notification that raises is tried
again with exponential backoff (`DeliveryPolicy`), then reported; it never stops the run or
loses the job's outputs. Sinks and notifiers run in worker threads: plugins write plain,
blocking code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import httpx
import jsonschema
import pluggy

from runner.client import equal_jitter
from runner.errors import ConfigError, DeliveryError, ManifestError, SievefileError
from runner.execute import ledger as states
from runner.execute.ledger import Ledger
from runner.execute.outcome import Report, RunEvent
from runner.hooktypes import (
    DEFAULT_EVENTS,
    Delivery,
    DeliveryStats,
    JobRecord,
    JobStatus,
    Notification,
    Notifier,
    NotifierKind,
    OutputRecord,
    PluginContext,
    RunInfo,
    RunResult,
    Sink,
    SinkKind,
)
from runner.manifest.model import Manifest, PluginEntry
from runner.manifest.positions import format_key_path
from runner.manifest.references import Reference, Template
from runner.manifest.resolve import ResolutionError
from runner.manifest.rows import TextCell, coerce_cells
from runner.manifest.selection import select_jobs
from runner.manifest.structure import describe_schema_error
from runner.manifest.values import substitute
from runner.plugins import notifier_kinds, sink_kinds
from runner.secrets import Secrets
from runner.suggest import did_you_mean

T = TypeVar("T")


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard sievefile tries one delivery or notification before reporting it failed."""

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    #: The longest a receiver's `Retry-After` (a `DeliveryError.retry_after`) is waited for;
    #: one that asks for longer is not tried again in this run.
    max_retry_after: float = 60.0
    #: Deliveries and notifications in progress at once (each one a worker thread).
    concurrency: int = 8


@dataclass
class ConfiguredSink:
    """One `[[sinks]]` entry, checked: its kind, resolved settings and the jobs it takes."""

    entry: PluginEntry
    kind: SinkKind
    plugin: str
    settings: dict[str, Any]
    #: Job names whose outputs it receives (None: every job).
    jobs: frozenset[str] | None
    #: Identity in the ledger: its position, kind and settings (secrets by name only).
    target: str
    destination: str
    sink: Sink | None = None

    def takes(self, job: str) -> bool:
        return self.jobs is None or job in self.jobs


@dataclass
class ConfiguredNotifier:
    """One `[[notify]]` entry, checked: its kind, resolved settings and events."""

    entry: PluginEntry
    kind: NotifierKind
    plugin: str
    settings: dict[str, Any]
    events: frozenset[str]
    target: str
    notifier: Notifier | None = None


@dataclass
class DeliveryPlan:
    """Every sink and notifier of a manifest, checked; `secrets` holds the env values used."""

    manifest: Manifest
    sinks: list[ConfiguredSink] = field(default_factory=list)
    notifiers: list[ConfiguredNotifier] = field(default_factory=list)
    secrets: Secrets = field(default_factory=Secrets)
    #: Entries holding an unset `${{ env.NAME }}` (checked without secrets): `create` skips
    #: them, since their factory would take the reference's text for the value (a URL, a key).
    unset: set[tuple[str, int]] = field(default_factory=set)

    def create(self) -> None:
        """Build each sink and notifier from its settings, but those with an `unset` variable
        and those built already (a factory is called once a run: it may open a connection).
        Raises one ManifestError listing what every factory refused, located at its entry (or
        at the setting its message names)."""
        problems: list[ManifestError] = []
        for sink in self.sinks:
            if sink.sink is None and sink.entry.key_path not in self.unset:
                sink.sink = self._build(sink.entry, sink.kind.factory, sink.settings, problems)
        for item in self.notifiers:
            if item.notifier is None and item.entry.key_path not in self.unset:
                item.notifier = self._build(item.entry, item.kind.factory, item.settings, problems)
        if problems:
            raise _combined(problems, self.manifest)

    def _build(
        self,
        entry: PluginEntry,
        factory: Callable[[Mapping[str, Any], PluginContext], T],
        settings: dict[str, Any],
        problems: list[ManifestError],
    ) -> T | None:
        context = PluginContext(
            manifest=self.manifest.path,
            manifest_dir=self.manifest.path.resolve().parent,
            index=entry.index,
            secrets=frozenset(self.secrets),
        )
        try:
            return factory(settings, context)
        except Exception as error:  # a plugin's failure is reported, located, never raised
            problems.append(self._factory_problem(entry, error))
            return None

    def _factory_problem(self, entry: PluginEntry, error: Exception) -> ManifestError:
        message = self.secrets.mask(str(error))
        if not isinstance(error, SievefileError):  # a bug, not a message for the user
            message = f"{entry.label} could not be set up: {type(error).__name__}: {message}"
        named = _SETTING.match(message)
        if named and (named["section"], int(named["index"])) == entry.key_path:
            # the plugin named the setting (`sinks[0].path: ...`): point at its value
            location = self.manifest.locate((*entry.key_path, named["key"]), value=True)
            return ManifestError(message, location=location)
        return ManifestError(message, location=self.manifest.locate(entry.key_path))


#: `sinks[0].path: ...`: a message that names the setting it is about.
_SETTING = re.compile(r"^(?P<section>sinks|notify)\[(?P<index>\d+)\]\.(?P<key>[A-Za-z_][\w-]*)")


def _combined(problems: list[ManifestError], manifest: Manifest) -> ManifestError:
    if len(problems) == 1:
        return problems[0]
    return ManifestError(
        f"{len(problems)} problems in the sinks and notifiers of {manifest.path}",
        problems=problems,
    )


def delivery_problems(manifest: Manifest, *, require_env: bool = True) -> list[ManifestError]:
    """What `configure_delivery` finds wrong with the manifest's sinks and notifiers, with the
    installed plugins and this process's environment (for `sievefile validate`)."""
    import os

    from runner.plugins import get_plugin_manager

    try:
        plan = configure_delivery(
            manifest, get_plugin_manager(), os.environ, require_env=require_env
        )
    except ManifestError as error:
        return list(error.problems)
    try:
        plan.create()  # a sink's own checks (a path template, credentials given in halves)
    except ManifestError as error:
        return list(error.problems)
    return []


def configure_delivery(
    manifest: Manifest,
    manager: pluggy.PluginManager,
    environ: Mapping[str, str],
    *,
    require_env: bool = True,
) -> DeliveryPlan:
    """Check every `[[sinks]]` and `[[notify]]` entry against its kind's schema.

    Raises one ManifestError listing every problem (an unknown kind with "did you mean", a
    setting the kind does not take or of the wrong type, a `jobs` selector matching nothing),
    each located at its line (`sinks[1].bucket`). Secret values never appear in a message.
    Without `require_env`, an unset `${{ env.NAME }}` is checked as the text of its reference.
    """
    plan = DeliveryPlan(manifest)
    problems: list[ManifestError] = []
    if not (manifest.sinks or manifest.notify):
        return plan
    kinds: dict[str, dict[str, Any]] = {
        "sinks": dict(sink_kinds(manager)),
        "notify": dict(notifier_kinds(manager)),
    }
    for entry in [*manifest.sinks, *manifest.notify]:
        found = kinds[entry.section].get(entry.use)
        if found is None:
            what = "sink" if entry.section == "sinks" else "notifier"
            known = sorted(kinds[entry.section])
            hint = did_you_mean(entry.use, known) or (
                f" (installed: {', '.join(known)})" if known else " (no plugin offers any)"
            )
            problems.append(
                _problem(manifest, (*entry.key_path, "use"), f"no {what} kind {entry.use!r}{hint}")
            )
            continue
        kind, plugin = found
        settings = _resolve_settings(
            manifest, entry, environ, plan, problems, require_env=require_env
        )
        if settings is None:
            continue
        settings = coerce_cells(settings, kind.config_schema)
        invalid = _misplaced_keys(manifest, entry, kind.config_schema, settings)
        invalid += _schema_problems(manifest, entry, kind.config_schema, settings, plan)
        if invalid:
            problems.extend(invalid)
            continue  # the kind's own code may rely on what its schema promises
        target = f"{format_key_path(entry.key_path)}:{entry.use}:{_fingerprint(entry.settings)}"
        if entry.section == "sinks":
            jobs = _selected_jobs(manifest, entry, problems)
            try:
                destination = kind.destination(settings) if kind.destination else entry.use
            except Exception as error:  # a plugin's bug, shown where its entry is
                message = plan.secrets.mask(f"{type(error).__name__}: {error}")
                problems.append(
                    _problem(
                        manifest,
                        entry.key_path,
                        f"plugin {plugin!r} failed to describe {entry.label}: {message}",
                    )
                )
                continue
            plan.sinks.append(
                ConfiguredSink(
                    entry,
                    kind,
                    plugin,
                    settings,
                    jobs,
                    target,
                    f"{entry.use}: {plan.secrets.mask(destination)}",
                )
            )
        else:
            events = frozenset(entry.on or DEFAULT_EVENTS)
            plan.notifiers.append(ConfiguredNotifier(entry, kind, plugin, settings, events, target))
    if problems:
        raise _combined(problems, manifest)
    return plan


def _problem(manifest: Manifest, path: tuple[Any, ...], message: str) -> ManifestError:
    return ManifestError(
        message, location=manifest.locate(path), key_path=format_key_path(path) or None
    )


def _resolve_settings(
    manifest: Manifest,
    entry: PluginEntry,
    environ: Mapping[str, str],
    plan: DeliveryPlan,
    problems: list[ManifestError],
    *,
    require_env: bool,
) -> dict[str, Any] | None:
    resolved: dict[str, Any] = {}
    failed = False
    for key, value in entry.settings.items():

        def lookup(ref: Reference) -> Any:
            if ref.name not in environ:
                if not require_env:
                    plan.unset.add(entry.key_path)
                    return ref.placeholder
                raise ResolutionError(f"{ref.placeholder}: environment variable is not set")
            plan.secrets.add(environ[ref.name])
            # a whole setting read from the environment may be the number its schema wants
            return TextCell(environ[ref.name])

        try:
            resolved[key] = substitute(value, lookup)
        except ResolutionError as error:
            problems.append(_problem(manifest, (*entry.key_path, key), str(error)))
            failed = True
    return None if failed else resolved


#: The keys sievefile reads in each section (the rest are the kind's settings).
_OWN_KEYS = {"sinks": ("use", "jobs"), "notify": ("use", "on")}


def _misplaced_keys(
    manifest: Manifest, entry: PluginEntry, schema: Mapping[str, Any], settings: dict[str, Any]
) -> list[ManifestError]:
    """A notifier's `on` in a sink (or a sink's `jobs` in a notifier), and a misspelling of
    sievefile's own keys (`onn`), which the kind's schema would call unknown with no hint.
    Such keys are taken out of `settings`."""
    problems = []
    known = schema.get("properties", {})
    for key in [key for key in settings if key not in known]:
        if key == "on" and entry.section == "sinks":
            message = "`on` lists a notifier's events; a sink takes `jobs` (which jobs' outputs)"
        elif key == "jobs" and entry.section == "notify":
            message = "`jobs` chooses a sink's jobs; a notifier takes `on` (which events)"
        elif hint := did_you_mean(key, _OWN_KEYS[entry.section]):
            message = f"unknown key {key!r}{hint}"
        else:
            continue
        del settings[key]
        problems.append(_problem(manifest, (*entry.key_path, key), message))
    return problems


def _schema_problems(
    manifest: Manifest,
    entry: PluginEntry,
    schema: Mapping[str, Any],
    settings: dict[str, Any],
    plan: DeliveryPlan,
) -> list[ManifestError]:
    validator = jsonschema.Draft202012Validator(schema)
    unset = entry.key_path in plan.unset
    return [
        problem
        for error in validator.iter_errors(settings)
        # an unset variable stands in as its reference's text: its value is unknown, not wrong
        if not (unset and isinstance(error.instance, str) and "${{ env." in error.instance)
        for problem in describe_schema_error(
            error,
            lambda path, at_value: manifest.locate(path, value=at_value),
            prefix=entry.key_path,
            redact=plan.secrets.mask,
        )
    ]


def _selected_jobs(
    manifest: Manifest, entry: PluginEntry, problems: list[ManifestError]
) -> frozenset[str] | None:
    if not entry.jobs:
        return None
    try:
        return frozenset(select_jobs(manifest, select=entry.jobs))
    except ConfigError as error:
        problems.append(_problem(manifest, (*entry.key_path, "jobs"), str(error.message)))
        return frozenset()


def _fingerprint(settings: dict[str, Any]) -> str:
    """A digest of the settings as written: `${{ env.X }}` by name, so never a secret."""

    def plain(value: Any) -> Any:
        if isinstance(value, Template):
            return value.placeholder
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    text = json.dumps(plain(settings), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# -- reading outputs ----------------------------------------------------------------------------


class HashingReader:
    """A binary stream that computes the sha256 of what was read through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.complete = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._digest.update(chunk)
        if not chunk or size < 0:
            self.complete = True
        return chunk

    def readable(self) -> bool:
        return True

    def hexdigest(self) -> str | None:
        return self._digest.hexdigest() if self.complete else None


class OutputFiles:
    """Opens the bytes behind output file URLs for sinks.

    `http(s)://` URLs are streamed without the API key (the service's file URLs carry their own
    signature, and a key must never follow a URL elsewhere). `file://` URLs are read only from
    `files_dir`, the embedded backend's own folder: a server cannot make a sink copy the host's
    files. The sha256 of each fully read file is kept for the ledger.
    """

    def __init__(self, files_dir: Path | None, timeout: float = 60.0) -> None:
        self.files_dir = files_dir.resolve() if files_dir is not None else None
        self.timeout = timeout
        self._digests: dict[tuple[str, int], str] = {}

    def record(self, key: str, output: int, data: Any) -> OutputRecord:
        url = data.get("url") if isinstance(data, dict) else None
        if not isinstance(url, str):
            return OutputRecord(output, data)

        @contextlib.contextmanager
        def opener() -> Iterator[IO[bytes]]:
            with self._open(url) as stream:
                reader = HashingReader(stream)
                yield reader  # type: ignore[misc]
                digest = reader.hexdigest()
                if digest is not None:
                    self._digests[(key, output)] = digest

        return OutputRecord(output, data, url=url, opener=opener)

    def digest(self, key: str, output: int) -> str | None:
        return self._digests.get((key, output))

    @contextlib.contextmanager
    def _open(self, url: str) -> Iterator[IO[bytes]]:
        parsed = urlparse(url)
        if parsed.scheme == "file":
            with self._local_path(parsed).open("rb") as stream:
                yield stream
            return
        if parsed.scheme not in ("http", "https"):
            raise ValueError(f"cannot fetch an output URL with scheme {parsed.scheme!r}")
        with (
            httpx.Client(timeout=self.timeout, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise ValueError(f"fetching the output file failed: HTTP {response.status_code}")
            yield _ResponseReader(response.iter_bytes())  # type: ignore[misc]

    def _local_path(self, parsed: Any) -> Path:
        path = Path(url2pathname(unquote(parsed.path))).resolve()
        if self.files_dir is None or not path.is_relative_to(self.files_dir):
            raise ValueError(
                "a file:// output URL outside the embedded backend's files folder is not read"
            )
        return path


class _ResponseReader:
    """`read(size)` over an httpx byte iterator (what sinks and boto3 expect)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readable(self) -> bool:
        return True


# -- the engine ---------------------------------------------------------------------------------

#: `job.<event>` for each final job status.
_JOB_EVENTS = {
    JobStatus.FINISHED: "job.finished",
    JobStatus.ERROR: "job.error",
    JobStatus.CANCELLED: "job.cancelled",
    JobStatus.CACHED: "job.cached",
    JobStatus.SKIPPED: "job.skipped",
}


class Deliverer:
    """Runs the deliveries and notifications of one run; see the module docstring.

    `ledger`/`run_id` record each delivery (None: a run without a ledger); on a resume the
    deliveries recorded as delivered are not made again.
    """

    def __init__(
        self,
        plan: DeliveryPlan,
        *,
        run: RunInfo,
        files: OutputFiles,
        ledger: Ledger | None = None,
        report: Report | None = None,
        policy: DeliveryPolicy | None = None,
        jitter: Callable[[float], float] = equal_jitter,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.plan = plan
        self.run = run
        self.files = files
        self.ledger = ledger
        self.policy = policy or DeliveryPolicy()
        self._report = report or (lambda event: None)
        self._jitter = jitter
        self._sleep = sleep
        self._slots = asyncio.Semaphore(self.policy.concurrency)
        self._sinks: set[asyncio.Task[None]] = set()
        self._notes: set[asyncio.Task[None]] = set()
        self._delivered = self._failed = self._notified = self._notify_failed = 0
        self._errors: list[str] = []
        self._locations: dict[str, list[str]] = {}
        #: Each notifier hears its events one at a time, in the order they happened.
        self._in_order = {item.target: asyncio.Lock() for item in plan.notifiers}
        #: Whether the run was interrupted: then nothing is tried again (a resume does it).
        self.stopping: Callable[[], bool] = lambda: False
        self._done: set[tuple[str, int, str]] = set()
        if ledger is not None and run.run_id is not None:
            self._done = {
                (row.key, row.output, row.target)
                for row in ledger.deliveries(run.run_id)
                if row.status == states.DELIVERED
            }

    def start(self) -> None:
        """Build the sinks and notifiers (ConfigError naming an entry) and say run.started."""
        self.plan.create()
        self._notify("run.started")

    def job_ended(self, job: JobRecord) -> None:
        """Deliver `job`'s outputs to every sink that takes them, and tell the notifiers."""
        if job.status.has_outputs:
            for sink in self.plan.sinks:
                if not sink.takes(job.job):
                    continue
                for output in job.outputs:
                    if (job.key, output.index, sink.target) in self._done:
                        continue
                    self._spawn(self._sinks, self._deliver(sink, job, output))
        self._notify(_JOB_EVENTS[job.status], job=job)

    async def drain(self) -> DeliveryStats:
        """Wait for every delivery (and job notification) started so far."""
        while self._sinks or self._notes:
            await asyncio.gather(*self._sinks, *self._notes)
        return self.stats()

    async def run_finished(self, summary: RunResult) -> DeliveryStats:
        """Say run.finished (waiting for it) and return the final counts."""
        self._notify("run.finished", summary=summary)
        return await self.drain()

    def stats(self) -> DeliveryStats:
        return DeliveryStats(
            delivered=self._delivered,
            failed=self._failed,
            notified=self._notified,
            notify_failed=self._notify_failed,
            destinations=tuple(dict.fromkeys(self._destination(sink) for sink in self.plan.sinks)),
            errors=tuple(self._errors),
        )

    # -- internals ------------------------------------------------------------------------------

    def _destination(self, sink: ConfiguredSink) -> str:
        """Where the sink's outputs of this run went: the folder (or key prefix) they share,
        else what its settings say (a template) when nothing was delivered."""
        locations = self._locations.get(sink.target)
        if not locations:
            return sink.destination
        # locations are paths or URLs alike: compare text, then cut at the last separator
        shared = os.path.commonprefix(locations)  # noqa: RUF071
        return f"{sink.entry.use}: {shared[: shared.rfind('/') + 1] or shared}"

    def _spawn(self, tasks: set[asyncio.Task[None]], work: Any) -> None:
        task = asyncio.ensure_future(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _notify(self, event: str, *, job: JobRecord | None = None, summary: Any = None) -> None:
        for item in self.plan.notifiers:
            if event in item.events:
                notification = Notification(event, self.run, time.time(), job=job, summary=summary)
                self._spawn(self._notes, self._send(item, notification))

    async def _deliver(self, sink: ConfiguredSink, job: JobRecord, output: OutputRecord) -> None:
        assert sink.sink is not None
        delivery = Delivery(self.run, job, output)
        label = f"{sink.entry.label} output {output.index}"
        ok, result, attempts = await self._attempt(sink.sink.deliver, delivery, job.key, label)
        secrets = self.plan.secrets
        if ok:
            self._delivered += 1
            location = secrets.mask(str(result))
            self._locations.setdefault(sink.target, []).append(location)
            self._record(job.key, output.index, sink.target, states.DELIVERED, attempts, location)
            detail = {"output": output.index, "sink": sink.entry.label, "location": location}
            self._report(
                RunEvent("delivered", job.key, f"{output.name} -> {location}", detail=detail)
            )
        else:
            self._failed += 1
            message = f"{job.key}: {label} not delivered: {result}"
            self._errors.append(message)
            self._record(
                job.key, output.index, sink.target, states.UNDELIVERED, attempts, None, result
            )
            self._report(RunEvent("undelivered", job.key, f"{label}: {result}"))

    async def _send(self, item: ConfiguredNotifier, notification: Notification) -> None:
        assert item.notifier is not None
        key = notification.job.key if notification.job else notification.event
        label = f"{item.entry.label} {notification.event}"
        async with self._in_order[item.target]:
            ok, result, _ = await self._attempt(item.notifier.notify, notification, key, label)
        if ok:
            self._notified += 1
        else:
            self._notify_failed += 1
            self._errors.append(f"{label} not sent: {result}")
            self._report(RunEvent("undelivered", key, f"{label} not sent: {result}"))

    async def _attempt(
        self, work: Callable[[Any], Any], argument: Any, key: str, label: str
    ) -> tuple[bool, Any, int]:
        """Call `work(argument)` in a thread until it returns or the attempts run out:
        (True, its result, attempts) or (False, the last error, masked, attempts)."""
        policy = self.policy
        message = ""
        for attempt in range(1, policy.attempts + 1):
            said: DeliveryError | None = None  # how the plugin asked to go on, if it did
            try:
                async with self._slots:
                    return True, await asyncio.to_thread(work, argument), attempt
            except Exception as error:  # a plugin's failure is reported, never raised
                message = self.plan.secrets.mask(
                    str(error)
                    if isinstance(error, SievefileError)
                    else f"{type(error).__name__}: {error}"
                )
                if isinstance(error, DeliveryError):
                    said = error
            if self.stopping():
                return False, f"{message} (not tried again: the run was interrupted)", attempt
            if said is not None and said.permanent:
                return False, f"{message} (not tried again: the receiver refused it)", attempt
            wait = said.retry_after if said is not None else None
            if wait is not None and wait > policy.max_retry_after:
                asked = f"the receiver asked to wait {wait:g}s, longer than a run waits"
                return False, f"{message} (not tried again: {asked})", attempt
            if attempt < policy.attempts:
                delay = self._jitter(min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1)))
                if wait is not None:
                    # spread out: the deliveries the receiver held back must not all come back
                    # in the same instant
                    delay = max(delay, wait + self._jitter(policy.base_delay))
                self._report(
                    RunEvent(
                        "retrying",
                        key,
                        f"{label}: {message}; try {attempt + 1} of {policy.attempts} in "
                        f"{delay:.1f}s",
                    )
                )
                await self._pause(delay)
        return False, message, policy.attempts

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when the run is stopping meanwhile (a receiver's
        Retry-After can be a minute: a Ctrl-C must not wait for it)."""
        left = seconds
        while left > 0 and not self.stopping():
            step = min(left, 0.5)
            await self._sleep(step)
            left -= step

    def _record(
        self,
        key: str,
        output: int,
        target: str,
        status: str,
        attempts: int,
        location: str | None,
        error: str = "",
    ) -> None:
        if status == states.DELIVERED:
            self._done.add((key, output, target))
        if self.ledger is None or self.run.run_id is None:
            return
        self.ledger.record_delivery(
            self.run.run_id,
            key,
            output,
            target,
            status,
            location=location,
            sha256=self.files.digest(key, output),
            error=error,
            attempts=attempts,
        )
