"""The durable side of one `execute` call: lock, ledger, run id, journal, run record.

```python
with Durability.open(request) as durability:      # None when request.durable is False
    journal = durability.begin(manifest, secrets)  # the run is recorded as running
    ...                                            # the scheduler writes through `journal`
    durability.end(summary)                        # status, record file, summary.run_id
```
`open` takes the manifest's run lock (RunError when another process holds it), picks the run
id (a new one, or the run to resume: ConfigError when there is none), and reads the options a
resumed run was started with, so a resume plans exactly the same jobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import ConfigError, ManifestError
from runner.execute import ledger as states
from runner.execute.journal import RunJournal
from runner.execute.ledger import Ledger, RunLock, new_run_id
from runner.execute.outcome import RunEvent, RunSummary
from runner.execute.records import write_record
from runner.manifest.model import Manifest
from runner.manifest.selection import select_jobs
from runner.schemas.lock import lock_path_for, read_lock
from runner.secrets import Secrets

if TYPE_CHECKING:
    from runner.execute.run import RunRequest


class Durability:
    """See the module docstring. Build it with `Durability.open(request)`."""

    def __init__(self, request: RunRequest, ledger: Ledger, run_id: str, resuming: bool) -> None:
        self.request = request
        self.ledger = ledger
        self.run_id = run_id
        self.resuming = resuming
        self.manifest_key = str(Path(request.manifest).resolve())
        stored = ledger.run(run_id) if resuming else None
        #: The options of the run being resumed (variables, select, exclude); empty otherwise.
        self.options: dict[str, Any] = stored.options if stored is not None else {}
        #: An earlier run of this manifest that did not end, when this one is a new run.
        self.unfinished = None if resuming else ledger.unfinished_run(self.manifest_key)
        self._versions: dict[str, str] = {}
        self._data_files: dict[str, str] = {}
        self.journal: RunJournal | None = None

    @classmethod
    @contextlib.contextmanager
    def open(cls, request: RunRequest) -> Iterator[Durability | None]:
        if not request.durable or not Path(request.manifest).is_file():
            # no manifest, no state folder: loading it reports the problem
            yield None
            return
        lock = RunLock(request.manifest)
        lock.acquire()
        try:
            ledger = Ledger.for_manifest(request.manifest)
        except BaseException:
            lock.release()  # a state database that cannot be used must not keep the lock
            raise
        try:
            run_id, resuming = _pick_run(ledger, request)
            durability = cls(request, ledger, run_id, resuming)
            try:
                yield durability
            except BaseException:
                durability.abandon()
                raise
        finally:
            ledger.close()
            lock.release()

    def begin(self, manifest: Manifest, secrets: Secrets) -> RunJournal:
        """Record the run as started and return the journal the scheduler writes through."""
        request = self.request
        forced = select_jobs(manifest, select=request.force_jobs) if request.force_jobs else []
        locked = locked_versions(request.manifest)
        self._versions = {
            str(job.function): job.function.version or locked.get(str(job.function), "unlocked")
            for job in manifest.jobs.values()
        }
        options = self.options or {
            "variables": dict(request.variables),
            "select": list(request.select),
            "exclude": list(request.exclude),
        }
        self._data_files = dict(manifest.data_files)
        self.ledger.start_run(self.run_id, self.manifest_key, _sha256(request.manifest), options)
        self._write_record()
        self.journal = RunJournal(
            self.ledger,
            self.run_id,
            self.manifest_key,
            resume=self.resuming,
            forced=forced,
            force_all=request.force,
            locked=locked,
            environ=request.environ if request.environ is not None else os.environ,
            secrets=secrets,
            jobs_outlive_runner=request.backend.kind != "embedded",
        )
        return self.journal

    def notices(self) -> list[RunEvent]:
        """What to tell the user before the run starts (an unfinished run it could resume)."""
        if self.unfinished is None:
            return []
        return [
            RunEvent(
                "notice",
                self.unfinished.run_id,
                f"run {self.unfinished.run_id} of this manifest did not end "
                f"({self.unfinished.status}); `sievefile run --resume` continues it "
                "instead of starting a new run",
            )
        ]

    def end(self, summary: RunSummary) -> None:
        """Record how the run ended and write its run record."""
        if summary.interrupted:
            status = states.RUN_INTERRUPTED
        elif not summary.ok:
            status = states.RUN_FAILED
        else:
            status = states.RUN_OK if summary.delivered else states.RUN_UNDELIVERED
        self._close_journal()
        self.ledger.end_run(self.run_id, status)
        self._write_record()
        summary.run_id = self.run_id

    def abandon(self) -> None:
        """The run stopped with an exception: leave it resumable."""
        self._close_journal()
        if self.ledger.run(self.run_id) is not None:
            self.ledger.end_run(self.run_id, states.RUN_INTERRUPTED)
            self._write_record()

    def _close_journal(self) -> None:
        """Its queued writes reach the ledger before the run's end and record do."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def _write_record(self) -> None:
        write_record(self.ledger, self.run_id, versions=self._versions, data_files=self._data_files)


def _pick_run(ledger: Ledger, request: RunRequest) -> tuple[str, bool]:
    manifest = str(Path(request.manifest).resolve())
    if request.resume is False:
        return new_run_id(), False
    if isinstance(request.resume, str):
        run = ledger.run(request.resume)
        if run is None or run.manifest != manifest:
            from runner.suggest import did_you_mean

            known = [r.run_id for r in ledger.runs(manifest)]
            raise ConfigError(
                f"{request.resume!r} is not a run of {request.manifest}"
                f"{did_you_mean(request.resume, known)}"
            )
        return run.run_id, True
    unfinished = ledger.unfinished_run(manifest)
    if unfinished is None:
        raise ConfigError(
            f"{request.manifest}: no interrupted run to resume (the last run ended); "
            "run it again, or name a run: `sievefile run --resume RUN`"
        )
    return unfinished.run_id, True


def locked_versions(manifest: str | os.PathLike[str]) -> dict[str, str]:
    path = lock_path_for(Path(manifest))
    if not path.is_file():
        return {}
    try:
        lock = read_lock(path)
    except ManifestError:
        return {}  # validation (issue 5) reports a broken lock; the cache just ignores it
    return {key: entry.version for key, entry in lock.entries.items()}


def _sha256(path: str | os.PathLike[str]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
