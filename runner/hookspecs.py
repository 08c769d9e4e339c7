"""The hooks sievefile calls, with when, with what, and what each may return.

Plugins implement them with `@runner.hookimpl` and may take any subset of a hook's arguments
(`def run_finished(summary): ...`). A hook's meaning never changes once released: new
information arrives as new fields of the records (`runner.hooktypes`) or as new hooks.
Every hook here is documented in docs/plugins.md and has a test (tests/plugins/).

A hook implementation that raises is reported with its plugin's name and skipped; the run goes
on and no output is lost. Lifecycle hooks run on the run's event loop: keep them quick (send
slow work to a sink or a notifier, which run in worker threads with retries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from runner.hooktypes import (
    JobRecord,
    RegisterFunction,
    RegisterNotifier,
    RegisterSink,
    RunInfo,
    RunResult,
)

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("sievefile")
hookimpl = pluggy.HookimplMarker("sievefile")


# -- registration -----------------------------------------------------------------------------


@hookspec
def register_functions(register: RegisterFunction) -> None:
    """Add local functions to the local backend.

    Called once when a local backend (embedded or `sievefile serve`) builds its function
    registry. Call `register(callable, name="owner/name")` for each function; the callable's
    signature, annotations and docstring become its Sieve metadata (see docs/local-backend.md).
    Returns nothing.
    """


@hookspec
def register_sinks(register: RegisterSink) -> None:
    """Add kinds of sinks (`[[sinks]] use = "NAME"`).

    Called once per process, the first time sievefile needs the sink kinds (a run, `validate`,
    `sievefile plugins`). Call `register(SinkKind(name, config_schema, factory))` for each kind.
    A name registered twice is an error naming both plugins. Returns nothing.
    """


@hookspec
def register_notifiers(register: RegisterNotifier) -> None:
    """Add kinds of notifiers (`[[notify]] use = "NAME"`).

    Called once per process, the first time sievefile needs the notifier kinds. Call
    `register(NotifierKind(name, config_schema, factory))` for each kind. A name registered
    twice is an error naming both plugins. Returns nothing.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the `sievefile` command line.

    Called once per process for installed (entry-point) plugins, when the CLI first needs the
    plugin commands (`sievefile --help`, or a command name that is not built in), with a group
    of the plugin's own: `cli.add_command(command)` or the `@cli.command()` decorator. A command
    whose name sievefile already has is not added (the built-in wins) and is reported, as is a
    plugin that raises here. Returns nothing.
    """


# -- a run's lifecycle ------------------------------------------------------------------------


@hookspec
def run_started(run: RunInfo) -> None:
    """A run is about to push its first job.

    Called once per run, after the manifest, its inputs and its sinks' and notifiers'
    configurations were validated (nothing invalid reaches this point) and before any job is
    pushed or reused; also for a resumed run (`run.resumed`). Returns nothing.
    """


@hookspec
def job_pushed(run: RunInfo, job: JobRecord) -> None:
    """A job instance was pushed to the service.

    Called after each push the service acknowledged, again for each retry, with
    `job.status` `pushed` and the new `job.job_id` and `job.attempts`. Not called for jobs
    reused from the cache, kept or re-attached by a resume. Returns nothing.
    """


@hookspec
def job_finished(run: RunInfo, job: JobRecord) -> None:
    """A job instance ended: `job.status` is finished, error, cancelled, cached or skipped.

    Called once per job instance of the run, when its outcome is final (after its retries),
    before its outputs are delivered to the sinks; a resume calls it again for instances that
    finished before the interruption. Returns nothing.
    """


@hookspec
def run_finished(run: RunInfo, summary: RunResult) -> None:
    """The run ended: every job ended or was skipped, and every delivery was tried.

    Called once per run, also after a failure or an interruption (`summary.status`), after the
    sinks finished (`summary.deliveries`) and before the run record is written. Returns nothing.
    """


def _all_hook_names() -> list[str]:
    return [name for name, value in globals().items() if hasattr(value, "sievefile_spec")]


HOOK_NAMES: tuple[str, ...] = tuple(_all_hook_names())
__all__ = [
    "HOOK_NAMES",
    "hookimpl",
    "hookspec",
    "job_finished",
    "job_pushed",
    "register_commands",
    "register_functions",
    "register_notifiers",
    "register_sinks",
    "run_finished",
    "run_started",
]
