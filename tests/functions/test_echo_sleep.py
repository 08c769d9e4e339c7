"""`local/echo` and `local/sleep`, and the built-in plugins' registration hook."""

from __future__ import annotations

import threading

import pytest

from plugins import local_functions
from runner.errors import LocalFunctionError
from runner.local.types import JobCancelled, bind_cancel_event
from runner.plugins import build_plugin_manager


def test_echo_returns_every_input_including_defaults() -> None:
    value = {"file": {"url": "file:///tmp/a.mp4"}, "nested": [1, {"b": None}]}
    assert local_functions.echo(value, text="hi") == {
        "value": value,
        "text": "hi",
        "number": 0.0,
        "flag": False,
    }


class _RecordingEvent(threading.Event):
    """A cancel event that records how long it is asked to wait, and waits not at all."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return False


def test_sleep_waits_and_returns_its_payload() -> None:
    event = _RecordingEvent()
    result: list[object] = []

    def worker() -> None:  # a thread of its own: the binding stays there
        bind_cancel_event(event)
        result.append(local_functions.sleep(0.2, payload="done"))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert result == ["done"]
    assert event.waits == [0.2]  # it waited its time, on the cancel event


def test_sleep_stops_as_soon_as_its_job_is_cancelled() -> None:
    cancel = threading.Event()
    outcome: dict[str, BaseException] = {}

    def worker() -> None:
        bind_cancel_event(cancel)
        try:
            local_functions.sleep(600)
        except JobCancelled as error:
            outcome["error"] = error

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    cancel.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome["error"], JobCancelled)


def test_sleep_refuses_a_negative_time() -> None:
    with pytest.raises(LocalFunctionError, match="seconds must be between 0 and 86400, got -1"):
        local_functions.sleep(-1)


def test_built_in_plugins_register_every_local_function() -> None:
    registered: dict[str, object] = {}

    def register(function: object, *, name: str) -> None:
        registered[name] = function

    manager = build_plugin_manager(load_entry_points=False)
    manager.hook.register_functions(register=register)
    assert set(registered) == {
        "local/echo",
        "local/sleep",
        "local/test-pattern",
        "local/probe",
        "local/extract-audio",
        "local/thumbnail",
        "local/trim",
        "local/transcode",
    }
    assert all(callable(function) for function in registered.values())
