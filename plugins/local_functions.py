"""Built-in plugin: `local/echo` and `local/sleep`, small functions for tests and benchmarks.

`local/echo` hands its inputs back, so a test can follow data from one job to the next;
`local/sleep` holds a worker for a while (and honours cancellation), so a test can watch a job
run, queue behind it, or cancel it.
"""

from __future__ import annotations

from typing import Any

import runner
from runner import LocalFunctionError, RegisterFunction, hookimpl


def echo(value: Any, text: str = "", number: float = 0.0, flag: bool = False) -> dict:
    """Return the inputs as they arrived, to follow data from one job to the next.

    Args:
        value: Any JSON value (a file output's `{"url": ...}` passes through untouched).
        text: An optional string.
        number: An optional number.
        flag: An optional boolean.

    Returns:
        `{"value": value, "text": text, "number": number, "flag": flag}`.
    """
    return {"value": value, "text": text, "number": number, "flag": flag}


def sleep(seconds: float = 1.0, payload: Any = None) -> Any:
    """Wait, then return the payload; a cancelled job stops waiting at once.

    Args:
        seconds: How long to wait (0 to 86400).
        payload: Any JSON value to return.

    Returns:
        The payload.
    """
    if not 0 <= seconds <= 86400:
        raise LocalFunctionError(f"seconds must be between 0 and 86400, got {seconds!r}")
    runner.sleep(seconds)
    return payload


@hookimpl
def register_functions(register: RegisterFunction) -> None:
    """Register `local/echo` and `local/sleep`."""
    register(echo, name="local/echo")
    register(sleep, name="local/sleep")
