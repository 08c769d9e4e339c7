"""Running manifests against a local server over a real socket."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import exec_functions

from runner.backend import Backend
from runner.execute.outcome import RunEvent, RunSummary
from runner.execute.run import RunRequest, execute


@dataclass
class Run:
    summary: RunSummary
    events: list[RunEvent] = field(default_factory=list)

    def outcome(self, key: str) -> Any:
        return next(o for o in self.summary.outcomes if o.key == key)

    def kinds(self, key: str) -> list[str]:
        return [event.kind for event in self.events if event.key == key]


RunText = Callable[..., Run]


@pytest.fixture
def exec_server(start_local_server: Any) -> Any:
    """A local server with the built-in functions and the `exec/*` test functions."""
    return start_local_server(plugins=[exec_functions], workers=4)


@pytest.fixture
def run_text(exec_server: Any, tmp_path: Path) -> RunText:
    """`run_text(toml, url=None, on_event=None, **request_options)`: run a manifest against
    `exec_server` (or the server at `url`, e.g. a fault proxy in front of it); `on_event` is
    told each event as the run reports it."""

    def run(
        text: str,
        *,
        url: str | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        **options: Any,
    ) -> Run:
        path = tmp_path / "manifest.toml"
        path.write_text(textwrap.dedent(text))
        backend = Backend(kind="remote", url=url or exec_server.url, api_key=exec_server.api_key)
        events: list[RunEvent] = []

        def report(event: RunEvent) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        request = RunRequest(path, backend=backend, **options)
        summary = asyncio.run(execute(request, report=report, jitter=lambda d: 0.01))
        return Run(summary, events)

    return run
