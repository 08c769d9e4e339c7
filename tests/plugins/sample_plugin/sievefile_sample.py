"""A sample third-party sievefile plugin, written only against the public `runner` API.

- sink kind `sample-jsonl`: one JSON line per delivered output, in the file `path`;
- notifier kind `sample-log`: one line per notification, in the file `path`;
- command `sievefile sample-hello`;
- `run_started(run)`, `job_finished(job)` and `run_finished()` (subsets of the hooks'
  arguments) each append a line to the file named by `$SIEVEFILE_SAMPLE_LOG`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from runner import (
    Delivery,
    JobRecord,
    Notification,
    NotifierKind,
    PluginContext,
    RegisterNotifier,
    RegisterSink,
    RunInfo,
    SinkKind,
    hookimpl,
)

LOG_ENV = "SIEVEFILE_SAMPLE_LOG"
_PATH_SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string", "minLength": 1}},
    "required": ["path"],
    "additionalProperties": False,
}
_lock = threading.Lock()


def _append(path: Path, line: str) -> None:
    """Append `line` unless the file already has it: a redelivery leaves the same file."""
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and line in path.read_text(encoding="utf-8").splitlines():
            return
        with path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")


def _log(line: str) -> None:
    target = os.environ.get(LOG_ENV)
    if target:
        _append(Path(target), line)


class JsonLinesSink:
    """Appends one JSON line per delivered output to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def deliver(self, delivery: Delivery) -> str:
        record = {
            "run": delivery.run.run_id,
            "key": delivery.job.key,
            "output": delivery.output.name,
            "data": delivery.output.data,
        }
        _append(self.path, json.dumps(record, sort_keys=True))
        return str(self.path)


class LogNotifier:
    """Writes one line per notification to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def notify(self, notification: Notification) -> None:
        job = f" {notification.job.key}" if notification.job else ""
        _append(self.path, f"{notification.event} {notification.run.name}{job}")


def _path(config: Mapping[str, Any], context: PluginContext) -> Path:
    return context.manifest_dir / str(config["path"])


@hookimpl
def register_sinks(register: RegisterSink) -> None:
    """`[[sinks]] use = "sample-jsonl"`, `path = "outputs.jsonl"`."""
    register(
        SinkKind(
            name="sample-jsonl",
            config_schema=_PATH_SCHEMA,
            factory=lambda config, context: JsonLinesSink(_path(config, context)),
            description="Append one JSON line per delivered output to a file.",
            destination=lambda config: str(config["path"]),
        )
    )


@hookimpl
def register_notifiers(register: RegisterNotifier) -> None:
    """`[[notify]] use = "sample-log"`, `path = "events.log"`."""
    register(
        NotifierKind(
            name="sample-log",
            config_schema=_PATH_SCHEMA,
            factory=lambda config, context: LogNotifier(_path(config, context)),
            description="Write one line per notification to a file.",
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`sievefile sample-hello [--name NAME]`."""

    @cli.command(name="sample-hello")
    @click.option("--name", default="world", help="Whom to greet.")
    def hello(name: str) -> None:
        """Say hello from the sample plugin."""
        click.echo(f"hello {name} from sievefile-sample")


@hookimpl
def run_started(run: RunInfo) -> None:
    _log(f"run_started {run.name}")


@hookimpl
def job_finished(job: JobRecord) -> None:
    _log(f"job_finished {job.key} {job.status.value}")


@hookimpl
def run_finished() -> None:
    _log("run_finished")
